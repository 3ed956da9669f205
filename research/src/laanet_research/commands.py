"""What each ``laanet-research`` command does, once its arguments are parsed (:mod:`laanet_research.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .shared_data import PHOTO_NEEDS, REPORT_NEEDS, SWAP_LIST, check_shared, selection_needs
from .soup import SoupError


class CommandError(ValueError):
    """What a command cannot do, said in one line (the command line exits with 2)."""


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; print (and with ``--out`` write) its JSON result."""
    try:
        if args.command == "soup":
            result = {"make": soup_make, "greedy": soup_greedy, "base-card": soup_base_card,
                      "export": soup_export}[args.soup_command](args)
        else:
            result = {"select": select, "report": report, "face-score": face_score,
                      "ship-card": ship_card, "swaps": swaps}[args.command](args)
    except (FileNotFoundError, SoupError) as exc:  # SharedDataError is a FileNotFoundError
        raise CommandError(str(exc)) from exc
    text = json.dumps(result, indent=2)
    if getattr(args, "out", None) and args.command not in ("soup", "ship-card"):
        from laanet_synth.atomic import write_text

        write_text(args.out, text + "\n")
    print(text)
    return 0


def select(args: argparse.Namespace) -> dict[str, Any]:
    """Every ``epoch_<k>.pt`` of a run scored on the selection data, and the one the selection rule picks."""
    from .selection import choose_checkpoint
    from .selection_bench import SelectionBench

    swap_split, rule = _rule_of(args)
    bench = SelectionBench(args.run_dir, args.shared, args.cache, swap_split=swap_split)
    rows = {}
    files = sorted(Path(args.run_dir).glob("epoch_*.pt"), key=lambda f: int(f.stem.split("_")[1]))
    for f in files:
        rows[f.name] = bench.score(args.run_dir, f.name)
        _say(f"{f.name} {json.dumps(rows[f.name])}")
    bench.save()
    if not rows:
        raise CommandError(f"{args.run_dir} holds no epoch_<k>.pt (train with train.keep_epoch_weights=true)")
    return {"checkpoints": rows, "rule": rule, "chosen": choose_checkpoint(rows, rule)}


def _rule_of(args: argparse.Namespace) -> tuple[str | None, str]:
    """(the real-swap split the selection rule adds, or ``None``; the rule's statement) of ``--swap-split`` and
    ``--tail``."""
    from .selection import SELECTION_RULE, SELECTION_RULE_WITH_SWAPS, SELECTION_RULE_WITH_TAIL

    swap_split = None if args.swap_split == "none" else args.swap_split
    if swap_split is None:
        return None, SELECTION_RULE
    return swap_split, SELECTION_RULE_WITH_TAIL if args.tail else SELECTION_RULE_WITH_SWAPS


def swaps(args: argparse.Namespace) -> dict[str, Any]:
    """Weights (or a run's epoch, with its run's recipe and another weights' bands) on a split of the real-swap
    list."""
    from laanet_model import Detector
    from laanet_model.weights import get_weights

    from .face_cache import FaceCache
    from .real_swaps import real_swap_report
    from .selection_bench import checkpoint_detector

    check_shared(args.shared, (SWAP_LIST,))
    path = Path(args.weights)
    if path.suffix == ".pt":
        detector = checkpoint_detector(path.parent, path.name)  # the run's own recipe: its crop and input size
        try:  # the registry's entry holds the bands: no network is loaded for them
            detector.thresholds = get_weights(args.bands_of).thresholds
        except KeyError as exc:
            raise CommandError(f"--bands-of: {exc.args[0]}") from exc
    else:
        detector = Detector.from_weights(args.weights, device="cpu")
    _say(f"scoring the {args.split!r} split of {SWAP_LIST}")
    cache = FaceCache(Path(args.cache) if args.cache else None, str(detector.preprocessing.face_detector))
    figures = real_swap_report(detector, args.shared, args.split, detector.thresholds.fake_above,
                               detector.thresholds.real_below, cache)
    cache.save()
    return {"weights": str(args.weights), "split": args.split, "fake_above": detector.thresholds.fake_above,
            **figures}


def face_score(args: argparse.Namespace) -> dict[str, Any]:
    """The face-score floor the stated rule gives on the selection photos."""
    from laanet_synth.faces import make_face_finder
    from laanet_train.validation import RUN_MIN_FACE_SIZE

    from .face_cache import FaceCache
    from .face_score import FACE_SCORE_RULE, FinderOnly, face_score_floor, top_face_scores
    from .halves import selection_photos
    from .renderings import selection_renderings

    check_shared(args.shared, PHOTO_NEEDS)
    size = RUN_MIN_FACE_SIZE if args.min_face_size is None else args.min_face_size
    selection = selection_photos(Path(args.shared) / "faces")
    renderings = [view for views in selection_renderings(selection) for view in views]
    cache = FaceCache(Path(args.cache) if args.cache else None, args.face_detector)
    tops = top_face_scores(FinderOnly(make_face_finder(args.face_detector)), renderings, cache, size)
    cache.save()
    if not tops.size:
        raise CommandError(f"no selection photo under {Path(args.shared) / 'faces'} holds a face of at least "
                           f"{size} px that {args.face_detector} finds")
    return {"min_face_score": face_score_floor(tops), "rule": FACE_SCORE_RULE, "min_face_size": size,
            "n_renderings": len(renderings), "n_with_judged_face": int(tops.size),
            "lowest_top_score": round(float(tops.min()), 4)}


def report(args: argparse.Namespace) -> dict[str, Any]:
    """The real-image report of a weights file; with ``--write-card``, its card updated with it."""
    from laanet_model.checkpoints import read_card
    from laanet_model.detector import Detector

    from .card_update import check_outside_packages, updated_card
    from .heldout import validation_identities_of_card
    from .report import run_protocol

    check_shared(args.shared, REPORT_NEEDS)
    target = None
    if args.write_card:
        try:
            target = check_outside_packages(args.write_card)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    det = Detector.from_weights(args.weights, device="cpu")
    assert det.weights is not None  # from_weights records the file behind the name
    card = read_card(det.weights.path)
    exclude = validation_identities_of_card(card, Path(args.shared) / "lfw")
    result = run_protocol(det, args.shared, cache_dir=args.cache, exclude_identities=exclude, progress=_say)
    if target is not None:
        from laanet_synth.atomic import write_json

        write_json(target, updated_card(card, result), indent=2)
        _say(f"wrote {target}")
    return result


def ship_card(args: argparse.Namespace) -> dict[str, Any]:
    """The card that ships and the training record, split from a full card; the result names both files."""
    from laanet_model.checkpoints import read_card
    from laanet_synth.atomic import write_json

    from .card_split import split_card
    from .card_update import check_outside_packages

    try:
        target = check_outside_packages(args.out)
        shipped, record = split_card(read_card(args.card))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    write_json(target, shipped, indent=2)
    write_json(args.record, record, indent=2)
    return {"card": str(target), "record": str(args.record)}


def soup_make(args: argparse.Namespace) -> dict[str, Any]:
    """Soups written as a run-like folder; the result is its ``soup.json``."""
    from .soup import SOUP_FILE, write_soup_run

    out = write_soup_run(args.out_dir, args.config_from, [s.split(",") for s in args.soup])
    return json.loads((out / SOUP_FILE).read_text())


def soup_greedy(args: argparse.Namespace) -> dict[str, Any]:
    """The greedy soup of the candidates, ranked and kept by the selection rule."""
    from .selection import rule_value
    from .selection_bench import SelectionBench
    from .soup import SoupFolder, parse_ingredient, run_greedy

    candidates = dict(parse_ingredient(x) for x in args.candidate)
    if len(candidates) != len(args.candidate):
        raise SoupError("candidate labels must differ")
    swap_split, rule = _rule_of(args)
    check_shared(args.shared, selection_needs(swap_split))  # before the folder is made
    folder = SoupFolder(args.out_dir, args.config_from, candidates, rule=rule)
    bench = SelectionBench(args.config_from, args.shared, args.cache, swap_split=swap_split)
    try:
        return run_greedy(folder, bench.score, lambda row: rule_value(row, rule), log=_say)
    finally:
        bench.save()


def soup_base_card(args: argparse.Namespace) -> dict[str, Any]:
    """The base card of a soup's export, written to ``out``; the result names its chain and stages."""
    from laanet_synth.atomic import write_text

    from .soup_base import base_card, read_spec

    try:
        card = base_card(**read_spec(args.spec))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    write_text(args.out, json.dumps(card, indent=2) + "\n")
    tr = card["training"]
    return {"out": str(args.out), "chain": [s.get("stage") for s in tr["earlier_stages"]],
            "not_kept": [s["stage"] for s in tr["not_kept"]], "steps_run": tr["steps_run"]}


def soup_export(args: argparse.Namespace) -> dict[str, Any]:
    """One soup as float16 safetensors with its card; the result is the card's metrics."""
    from .soup_export import export_soup

    scored = json.loads(Path(args.scores).read_text()) if args.scores else {}
    card = export_soup(args.soup_dir, args.out, checkpoint=args.checkpoint,
                       base_card=json.loads(Path(args.base_card).read_text()), selection=args.selection,
                       selection_scores=scored.get("checkpoints"), fine_tune_stages=args.fine_tune_stage,
                       description=args.description, greedy_trace=scored.get("greedy"),
                       rule=scored.get("rule"))
    return card["metrics"]
