"""Weight averages ("model soups") of fine-tunes that start from the same weights.

Fine-tunes of one starting point usually stay in one basin of the loss, so the uniform average of their
weights is itself a working network. It often generalises better than any of its ingredients. A soup folder is
laid out like a training run: the base run's ``config.yaml``, one ``epoch_<k>.pt`` per soup, and
``soup.json`` naming each soup's ingredients and their sha256. ``python -m laanet_train.realval select`` then
scores its soups by the same rule as any run's epochs.

``greedy`` builds the *greedy soup* of Wortsman et al. (2022, "Model soups"): the candidates are ranked by their
own selection score, and, starting from the best one alone, each next candidate joins the soup when the soup with
it scores at least as well as the soup without it. Every soup tried is kept in the folder with its score, and an
interrupted search resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from laanet_model.checkpoints import file_sha256
from laanet_synth.atomic import write_json, write_torch

from .export import load_run_config

SOUP_FILE = "soup.json"
#: the greedy search's scores, in the layout of ``realval select --out`` (plus the search's trace)
SCORES_FILE = "select.json"


class SoupError(ValueError):
    """Ingredients that cannot be averaged (different tensors or shapes), or a soup without ingredients."""


def average_weights(state_dicts: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The uniform average of state dicts with the same tensors: floating-point tensors are averaged in float32
    and returned in their own dtype; integer tensors (BatchNorm's ``num_batches_tracked``) are taken from the
    first ingredient."""
    if not state_dicts:
        raise SoupError("a soup needs at least one ingredient")
    first = state_dicts[0]
    for i, sd in enumerate(state_dicts[1:], start=1):
        if set(sd) != set(first):
            diff = sorted(set(sd) ^ set(first))
            raise SoupError(f"ingredient {i} holds other tensors than ingredient 0 (e.g. {diff[:3]})")
        for k, v in sd.items():
            if v.shape != first[k].shape:
                raise SoupError(f"ingredient {i}: {k} has shape {tuple(v.shape)}, ingredient 0 {tuple(first[k].shape)}")
    out: dict[str, torch.Tensor] = {}
    for k, v in first.items():
        if v.is_floating_point():
            total = torch.zeros(v.shape, dtype=torch.float32)
            for sd in state_dicts:
                total += sd[k].detach().to("cpu", torch.float32)
            out[k] = (total / len(state_dicts)).to(v.dtype)
        else:
            out[k] = v.detach().to("cpu").clone()
    return out


def parse_ingredient(text: str) -> tuple[str, Path]:
    """``LABEL=PATH`` or ``PATH`` (labelled ``<folder>/<file>``) -> (label, path)."""
    label, sep, path = text.partition("=")
    if not sep:
        path = label
        label = f"{Path(path).parent.name}/{Path(path).name}"
    if not label or not path:
        raise SoupError(f"expected LABEL=PATH or PATH, got {text!r}")
    return label, Path(path)


def write_soup_run(out_dir: str | Path, config_run: str | Path, soups: Sequence[Sequence[str]]) -> Path:
    """Write each soup of ``soups`` (lists of ``LABEL=PATH`` or ``PATH`` of ``.pt`` state dicts) as
    ``out_dir/epoch_<k>.pt``, with ``config_run``'s ``config.yaml`` and ``soup.json`` (each ingredient's label
    and sha256), through a :class:`SoupFolder`; returns ``out_dir``."""
    if not soups:
        raise SoupError("give at least one soup")
    parsed = [[parse_ingredient(str(x)) for x in soup] for soup in soups]
    candidates: dict[str, Path] = {}
    for label, path in (x for soup in parsed for x in soup):
        if candidates.setdefault(label, path) != path:
            raise SoupError(f"the label {label!r} names two files: {candidates[label]} and {path}")
    folder = SoupFolder(out_dir, config_run, candidates)
    for soup in parsed:
        folder.write([label for label, _ in soup])
    return folder.out


def greedy_soup(singles: Mapping[str, float], evaluate: Callable[[tuple[str, ...]], float]) -> list[dict[str, Any]]:
    """The greedy soup search over candidates scored alone (``singles``: label -> score, higher is better).

    The candidates are taken in descending order of their own score (ties in the given order). The soup starts
    as the best candidate alone; each next candidate joins it when ``evaluate(soup + (candidate,))`` is at least
    the soup's score. Returns the trace, one entry per candidate: the ``ingredients`` tried, their ``score`` and
    whether they were ``kept``; the last kept entry is the soup.
    """
    if not singles:
        raise SoupError("a greedy soup needs at least one candidate")
    order = sorted(singles, key=lambda label: -singles[label])
    soup, best = (order[0],), float(singles[order[0]])
    trace: list[dict[str, Any]] = [{"ingredients": list(soup), "score": best, "kept": True}]
    for label in order[1:]:
        trial = (*soup, label)
        score = float(evaluate(trial))
        kept = score >= best
        trace.append({"ingredients": list(trial), "score": score, "kept": kept})
        if kept:
            soup, best = trial, score
    return trace


RowScorer = Callable[[Path, str], dict[str, float]]


class SoupFolder:
    """A soup folder filled one soup at a time, each scored as it is written (``soup.json`` and
    :data:`SCORES_FILE` are rewritten atomically after each one). Soups already written and scored, in this
    or an interrupted earlier search, are found by their ingredients' sha256 and not scored again."""

    def __init__(self, out_dir: str | Path, config_run: str | Path, candidates: Mapping[str, Path]) -> None:
        load_run_config(config_run)  # a clear error now, not at scoring time
        missing = sorted(str(p) for p in candidates.values() if not Path(p).is_file())
        if missing:
            raise SoupError(f"ingredient files not found: {', '.join(missing)}")
        self.out = Path(out_dir)
        recipe = (Path(config_run) / "config.yaml").read_bytes()
        here = self.out / "config.yaml"
        if (self.out / SCORES_FILE).is_file() and here.is_file() and here.read_bytes() != recipe:
            raise SoupError(f"{self.out} holds soups scored with another recipe than {config_run}'s config.yaml; "
                            "give another folder")
        self.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(config_run) / "config.yaml", here)
        self.paths = {label: Path(p) for label, p in candidates.items()}
        self.hashes = {label: file_sha256(p) for label, p in self.paths.items()}
        self.record: dict[str, list[dict[str, str]]] = self._read(SOUP_FILE, {})
        self.rows: dict[str, dict[str, float]] = self._read(SCORES_FILE, {}).get("checkpoints", {})
        self._loaded: dict[str, Mapping[str, torch.Tensor]] = {}

    def _read(self, name: str, default: dict[str, Any]) -> dict[str, Any]:
        path = self.out / name
        return json.loads(path.read_text()) if path.is_file() else default

    def name_of(self, labels: Sequence[str]) -> str | None:
        key = sorted(self.hashes[x] for x in labels)
        for name, ingredients in self.record.items():
            if sorted(x["sha256"] for x in ingredients) == key:
                return name
        return None

    def write(self, labels: Sequence[str]) -> str:
        """The file name of the soup of ``labels``, written (with its ``soup.json`` entry) unless it already was;
        each ingredient file is read once however many soups share it."""
        name = self.name_of(labels)
        if name is None:
            name = f"epoch_{len(self.record)}.pt"
            for x in labels:
                if x not in self._loaded:
                    self._loaded[x] = torch.load(self.paths[x], map_location="cpu", weights_only=True)
            write_torch(self.out / name, average_weights([self._loaded[x] for x in labels]))
            self.record[name] = [{"label": x, "sha256": self.hashes[x]} for x in labels]
            write_json(self.out / SOUP_FILE, self.record, indent=2)
        return name

    def score(self, labels: Sequence[str], scorer: RowScorer) -> tuple[str, dict[str, float]]:
        """(file name, selection row) of the soup of ``labels``, written and scored unless it already was."""
        name = self.write(labels)
        if name not in self.rows:
            self.rows[name] = scorer(self.out, name)
            self.write_scores()
        return name, self.rows[name]

    def write_scores(self, extra: Mapping[str, Any] | None = None) -> None:
        from .realval import SELECTION_RULE

        write_json(self.out / SCORES_FILE, {"checkpoints": self.rows, "rule": SELECTION_RULE, **(extra or {})},
                   indent=2)


def run_greedy(folder: SoupFolder, scorer: RowScorer, value: Callable[[dict[str, float]], float],
               log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Score every candidate of ``folder`` alone, then run :func:`greedy_soup` on ``value`` of the rows; the
    result (also written to the folder's :data:`SCORES_FILE`) names the ``chosen`` soup file and the trace."""
    singles = {}
    for label in folder.paths:
        name, row = folder.score([label], scorer)
        singles[label] = value(row)
        log(f"{label} alone ({name}): {singles[label]:.4f}")

    def evaluate(labels: tuple[str, ...]) -> float:
        name, row = folder.score(labels, scorer)
        log(f"{' + '.join(labels)} ({name}): {value(row):.4f}")
        return value(row)

    trace = greedy_soup(singles, evaluate)
    for step in trace:
        step["checkpoint"] = folder.name_of(step["ingredients"])
    chosen = [s for s in trace if s["kept"]][-1]
    result = {"chosen": chosen["checkpoint"], "greedy": trace}
    folder.write_scores(result)
    return result


def export_soup(
    soup_dir: str | Path, out_path: str | Path, *, checkpoint: str, base_card: Mapping[str, Any], selection: str,
    selection_scores: Mapping[str, Any] | None = None, fine_tune_stages: Sequence[int] = (),
    description: str | None = None, greedy_trace: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write soup ``checkpoint`` of ``soup_dir`` as float16 safetensors with a card built on ``base_card`` (the
    card of the weights the fine-tunes started from: its training chain stays).

    The card's preprocessing is the recipe the soups were scored with (``soup_dir``'s ``config.yaml``, through
    :func:`~laanet_train.validation.run_preprocessing`), and that recipe is recorded as
    ``training.soup.scored_with`` (without the run's own paths: data root, initial weights, output folder): it
    may differ from the training recipe (e.g. another crop recipe), and the shipped weights must judge faces the
    way their selection did.

    The card gets ``training.soup`` (the ingredients with their sha256, the candidates' ``selection_scores``
    and the records of the fine-tunes ``fine_tune_stages``, moved out of ``training.not_kept``; with
    ``greedy_trace``, the trace of the greedy search that found it), the rule
    ``selection`` that chose it, and the synthetic validation re-measured through the Detector with the
    float16 weights. The verdict bands are the synthetic ones of :func:`~laanet_train.export.export_run` until
    ``python -m laanet_train.realval report ... --write-card`` calibrates them on real photos and adds the
    reported figures. Returns the card.
    """
    import copy

    from laanet_model.checkpoints import card_path_for, save_weights
    from laanet_model.weights import preprocessing_to_dict

    from .config import config_to_dict
    from .export import exported_validation, load_run_model
    from .validation import run_preprocessing

    record = json.loads((Path(soup_dir) / SOUP_FILE).read_text())
    if checkpoint not in record:
        raise SoupError(f"{checkpoint} is not a soup of {soup_dir} (it holds {', '.join(sorted(record))})")
    cfg, model = load_run_model(soup_dir, checkpoint)
    rounded, synthetic_val, bands = exported_validation(model, cfg)

    card = {k: copy.deepcopy(v) for k, v in base_card.items() if k not in ("config", "sha256", "format")}
    card["preprocessing"] = preprocessing_to_dict(run_preprocessing(cfg))
    training = card.setdefault("training", {})
    kept = [e for e in training.get("not_kept", []) if e.get("stage") not in fine_tune_stages]
    fine_tunes = [{k: v for k, v in e.items() if k != "why"}
                  for e in training.get("not_kept", []) if e.get("stage") in fine_tune_stages]
    if len(fine_tunes) != len(set(fine_tune_stages)):
        raise SoupError(f"the base card's training.not_kept lacks some of the stages {sorted(fine_tune_stages)}")
    training["not_kept"] = kept
    training["soup"] = {"checkpoint": checkpoint, "ingredients": record[checkpoint],
                        "candidates": {k: {"ingredients": [x["label"] for x in v],
                                           **dict((selection_scores or {}).get(k, {}))}
                                       for k, v in record.items()},
                        "fine_tunes": fine_tunes,
                        "scored_with": config_to_dict(dataclasses.replace(
                            cfg, data=dataclasses.replace(cfg.data, root=None),
                            model=dataclasses.replace(cfg.model, init_from=None),
                            train=dataclasses.replace(cfg.train, output_dir=None)))}
    if greedy_trace is not None:
        training["soup"]["greedy"] = [dict(step) for step in greedy_trace]
    training["selection"] = selection
    card["metrics"] = {"synthetic_val": synthetic_val}
    card["thresholds"] = {k: v for k, v in bands.items() if k != "rule"}
    card["thresholds_rule"] = bands["rule"]
    if description is not None:
        card["description"] = description
    path = save_weights(rounded.half(), out_path, card)
    return json.loads(card_path_for(path).read_text())


def main(argv: list[str] | None = None) -> int:
    """``python -m laanet_train.soup make OUT_DIR --config-from RUN_DIR --soup A.pt,B.pt [--soup ...]``,
    ``... greedy OUT_DIR --config-from RUN_DIR --candidate A=a.pt --candidate B=b.pt ... --shared DIR`` or
    ``... export SOUP_DIR OUT.safetensors --checkpoint epoch_<k>.pt --base-card CARD.json --selection RULE``."""
    p = argparse.ArgumentParser(prog="python -m laanet_train.soup",
                                description="Average the weights of fine-tunes that share a start (model soups).")
    sub = p.add_subparsers(dest="command", required=True)
    mk = sub.add_parser("make", help="write soups as a run-like folder (score it with `realval select`)")
    mk.add_argument("out_dir")
    mk.add_argument("--config-from", required=True, help="the run whose config.yaml (recipe) the soups are scored with")
    mk.add_argument("--soup", action="append", required=True,
                    help="comma-separated ingredients, each LABEL=PATH or PATH of a .pt state dict (repeat per soup)")
    gr = sub.add_parser("greedy", help="the greedy soup of the candidates, by the selection rule of `realval select`")
    gr.add_argument("out_dir")
    gr.add_argument("--config-from", required=True, help="the run whose config.yaml (recipe) the soups are scored with")
    gr.add_argument("--candidate", action="append", required=True,
                    help="an ingredient LABEL=PATH (or PATH) of a .pt state dict (repeat per candidate)")
    gr.add_argument("--shared", required=True, help="the shared data folder (holding faces/, lfw/)")
    gr.add_argument("--cache", default=None, help="folder for the face cache")
    ex = sub.add_parser("export", help="write one soup as float16 safetensors with its card")
    ex.add_argument("soup_dir")
    ex.add_argument("out")
    ex.add_argument("--checkpoint", required=True, help="the soup to export (epoch_<k>.pt)")
    ex.add_argument("--base-card", required=True, help="the JSON card of the weights the fine-tunes started from")
    ex.add_argument("--selection", required=True, help="the rule that chose --checkpoint, for the card")
    ex.add_argument("--scores", default=None,
                    help="`realval select --out` JSON of the soups, or a greedy folder's select.json, for the card")
    ex.add_argument("--fine-tune-stage", type=int, action="append", default=[],
                    help="a stage of the base card's training.not_kept that is an ingredient (repeat)")
    ex.add_argument("--description", default=None)
    args = p.parse_args(argv)
    try:
        if args.command == "make":
            out = write_soup_run(args.out_dir, args.config_from, [s.split(",") for s in args.soup])
            print(json.dumps(json.loads((out / SOUP_FILE).read_text()), indent=2))
        elif args.command == "greedy":
            from .realval import SELECTION_NEEDS, SelectionBench, check_shared, rule_value

            candidates = dict(parse_ingredient(x) for x in args.candidate)
            if len(candidates) != len(args.candidate):
                raise SoupError("candidate labels must differ")
            check_shared(args.shared, SELECTION_NEEDS)
            folder = SoupFolder(args.out_dir, args.config_from, candidates)
            bench = SelectionBench(args.config_from, args.shared, args.cache)
            try:
                result = run_greedy(folder, bench.score, rule_value,
                                    log=lambda line: print(line, file=sys.stderr, flush=True))
            finally:
                bench.save()
            print(json.dumps(result, indent=2))
        else:
            scored = json.loads(Path(args.scores).read_text()) if args.scores else {}
            card = export_soup(args.soup_dir, args.out, checkpoint=args.checkpoint,
                               base_card=json.loads(Path(args.base_card).read_text()), selection=args.selection,
                               selection_scores=scored.get("checkpoints"), fine_tune_stages=args.fine_tune_stage,
                               description=args.description, greedy_trace=scored.get("greedy"))
            print(json.dumps(card["metrics"], indent=2))
    except (SoupError, FileNotFoundError) as exc:  # FileNotFoundError: realval.SharedDataError among others
        p.error(str(exc))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
