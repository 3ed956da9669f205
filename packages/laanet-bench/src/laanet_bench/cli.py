"""``laanet-bench``: evaluate weights on datasets, build tables from records, run robustness sweeps."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd
from laanet_synth.atomic import write_text
from laanet_synth.faces import FaceFinderError
from tabulate import tabulate

from .datasets import DATASETS, DatasetLayoutError, LoadOptions, MediaItem, load_csv, load_dataset
from .evaluation import LEVELS, EvaluationError, RunInfo, run_evaluation
from .metrics import METRIC_NAMES, BootstrapConfig
from .perturbations import PerturbationError
from .pipeline import EvalSettings
from .records import RecordError, RunRecord, read_records
from .robustness import plan, run_robustness
from .scorer import DetectorScorer, ScorerError, load_scorer
from .tables import render, robustness_tables, write_tables


def _add_input_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=sorted(DATASETS), help="a dataset in its published layout")
    src.add_argument("--csv", type=Path, help="a CSV of path,label[,group] rows (label 1 = fake)")
    p.add_argument("--root", type=Path, help="dataset root folder (with --dataset)")
    p.add_argument("--split", default="test")
    p.add_argument("--compression", default="c23", choices=("raw", "c23", "c40"), help="FF++ / DFD quality")
    p.add_argument("--methods", default="", help="comma-separated FF++ manipulations (default: all four)")
    p.add_argument("--layout", default="published", choices=("published", "official-frames"),
                   help="the dataset as downloaded, or the official LAA-Net ROOT/<split>/frames/<TYPE>/<video>/")
    p.add_argument("--skip-missing", action="store_true", help="evaluate the rest when listed files are missing")
    p.add_argument("--pre-cropped", action="store_true", help="the images are face crops already (no detection)")
    p.add_argument("--limit", type=int, default=0, help="evaluate at most N items, balanced real/fake")
    p.add_argument("--weights", required=True, help="a registered weights name or a checkpoint path")
    p.add_argument("--out", type=Path, required=True, help="output folder (records.jsonl, scores/, cache/)")
    p.add_argument("--cache", type=Path, help="cache folder (default OUT/cache)")
    p.add_argument("--no-crop-cache", action="store_true", help="cache only the logits, not the face crops")
    p.add_argument("--frames", type=int, default=32, help="evenly spaced frames per video")
    p.add_argument("--face-policy", default="max", choices=("max", "largest"))
    p.add_argument("--tta", default="recipe", choices=("recipe", "none", "flip"),
                   help="flip: mean of the crop's and its mirror's logits; recipe: what the weights' recipe says")
    p.add_argument("--no-face", default="0.5", choices=("0.5", "skip"),
                   help="video score when no face is found in any frame")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", help="torch device for the network (default: cuda if available, else cpu)")
    p.add_argument("--official-float64", action="store_true", help="run the network in float64 as the official code")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and of random perturbations")
    p.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="laanet-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the dataset adapters and the layout each expects")
    ev = sub.add_parser("evaluate", help="score a dataset and append records to OUT/records.jsonl")
    _add_input_args(ev)
    ev.add_argument("--level", default="both", choices=("frame", "video", "both"))
    ev.add_argument("--per-subset", action="store_true", help="also record each subset (e.g. FF++ method)")
    tb = sub.add_parser("table", help="markdown, CSV and LaTeX tables and ROC curves from records")
    tb.add_argument("--records", type=Path, required=True, help="records.jsonl or the folder holding it")
    tb.add_argument("--out", type=Path, help="where to write tables (default: beside the records)")
    tb.add_argument("--level", default="both", choices=("frame", "video", "both"))
    rb = sub.add_parser("robustness", help="evaluate under each perturbation and level")
    _add_input_args(rb)
    rb.add_argument("--level", default="video", choices=("frame", "video", "both"))
    rb.add_argument("--perturbations", default="", help="comma-separated types (default: all: CS,CC,BW,GNC,GB,PX,VC,JPEG)")
    rb.add_argument("--levels", default="", help="comma-separated levels 1..5 (default: all)")
    return parser


def _levels(value: str) -> tuple[str, ...]:
    return LEVELS if value == "both" else (value,)


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def balanced_limit(items: Sequence[MediaItem], n: int) -> list[MediaItem]:
    """At most ``n`` items, alternating real and fake, each class in its listed order."""
    if n <= 0 or n >= len(items):
        return list(items)
    real = [it for it in items if it.label == 0]
    fake = [it for it in items if it.label == 1]
    out: list[MediaItem] = []
    while len(out) < n and (real or fake):
        for pool in (real, fake):
            if pool and len(out) < n:
                out.append(pool.pop(0))
    return out


def load_items(args: argparse.Namespace) -> tuple[list[MediaItem], RunInfo]:
    options = LoadOptions(split=args.split, compression=args.compression, methods=_split_list(args.methods),
                          layout=args.layout, skip_missing=args.skip_missing)
    if args.csv is not None:
        items = load_csv(args.csv, options)
        info = RunInfo(dataset=args.csv.stem, split=args.split, layout="csv")
    else:
        if args.root is None:
            raise DatasetLayoutError(f"--root is needed with --dataset {args.dataset} "
                                     f"(expected layout: {DATASETS[args.dataset].layout})")
        items = load_dataset(args.dataset, args.root, options)
        compression = args.compression if args.dataset in ("ffpp", "dfd") and args.layout == "published" else ""
        info = RunInfo(dataset=args.dataset, split=args.split, layout=args.layout, compression=compression)
    if args.pre_cropped:
        items = [replace(it, pre_cropped=True) for it in items]
    return balanced_limit(items, args.limit), info


def _settings(args: argparse.Namespace, scorer: DetectorScorer) -> EvalSettings:
    tta = scorer.recipe_tta if args.tta == "recipe" else args.tta
    return EvalSettings(n_frames=args.frames, face_policy=args.face_policy, tta=tta, no_face=args.no_face,
                        batch_size=args.batch_size)


def metrics_table(records: Sequence[RunRecord]) -> str:
    """A console table of records: counts, each metric in % with its 95% interval."""
    rows = []
    for r in records:
        row = {"dataset": r.dataset, "subset": r.subset, "level": r.level,
               "perturbation": "none" if r.perturbation == "none" else f"{r.perturbation} L{r.perturbation_level}",
               "real": r.n_real, "fake": r.n_fake}
        for m in METRIC_NAMES:
            lo, hi = r.ci95.get(m, [float("nan"), float("nan")])
            row[m.upper()] = f"{100 * getattr(r, m):.2f} [{100 * lo:.1f}, {100 * hi:.1f}]"
        rows.append(row)
    return tabulate(pd.DataFrame(rows), headers="keys", tablefmt="github", showindex=False)


def cmd_datasets(args: argparse.Namespace) -> int:
    rows = [{"name": s.name, "title": s.title, "paper column": s.paper_column or "–", "splits": ",".join(s.splits),
             "layout": s.layout} for s in DATASETS.values()]
    print(tabulate(pd.DataFrame(rows), headers="keys", tablefmt="github", showindex=False))
    print("\n--csv FILE: rows 'path,label[,group]' (videos, images or folders; label 0/1 or real/fake; "
          "images sharing a group form one video)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    items, info = load_items(args)
    scorer = load_scorer(args.weights, device=args.device, official_float64=args.official_float64,
                         batch_size=args.batch_size)
    settings = _settings(args, scorer)
    bootstrap = BootstrapConfig(n_boot=args.bootstrap, seed=args.seed)
    records, stats = run_evaluation(items, scorer, settings, info, args.out, cache_dir=args.cache,
                                    levels=_levels(args.level), bootstrap=bootstrap, progress=not args.no_progress,
                                    keep_crops=not args.no_crop_cache)
    if args.per_subset:
        for subset in sorted({it.subset for it in items if it.label == 1 and it.subset}):
            chosen = [it for it in items if it.subset == subset or it.label == 0]
            recs, _ = run_evaluation(chosen, scorer, settings, replace(info, subset=subset), args.out,
                                     cache_dir=args.cache, levels=_levels(args.level), bootstrap=bootstrap,
                                     progress=False, keep_crops=not args.no_crop_cache)
            records += recs
    print(metrics_table(records))
    print(f"\n{stats.computed} computed, {stats.cached} from cache, {stats.failed} unreadable; "
          f"records appended to {args.out / 'records.jsonl'}")
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    records = read_records(args.records)
    base = args.records if args.records.is_dir() else args.records.parent
    out = args.out or base
    written = write_tables(records, out, base, levels=_levels(args.level))
    for path in written:
        if path.suffix == ".md":
            print(f"## {path.stem}\n")
            print(path.read_text())
    print("written: " + ", ".join(str(p) for p in written))
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    perturbations = plan(_split_list(args.perturbations) or None,
                         [int(v) for v in _split_list(args.levels)] or None, seed=args.seed)
    items, info = load_items(args)
    scorer = load_scorer(args.weights, device=args.device, official_float64=args.official_float64,
                         batch_size=args.batch_size)
    records = run_robustness(items, scorer, _settings(args, scorer), info, args.out, perturbations, cache_dir=args.cache,
                             levels=_levels(args.level), bootstrap=BootstrapConfig(args.bootstrap, seed=args.seed),
                             progress=not args.no_progress, keep_crops=not args.no_crop_cache)
    print(metrics_table(records))
    for level in _levels(args.level):
        summary, per_type = robustness_tables(records, level=level)
        for name, frame in [("summary", summary), *per_type.items()]:
            stem = args.out / f"robustness_{level}_{name}"
            for fmt, ext in (("markdown", "md"), ("csv", "csv"), ("latex", "tex")):
                write_text(stem.with_suffix(f".{ext}"), render(frame, fmt))
            print(f"\n{render(frame, 'markdown')}")
    return 0


COMMANDS = {"datasets": cmd_datasets, "evaluate": cmd_evaluate, "table": cmd_table, "robustness": cmd_robustness}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (DatasetLayoutError, EvaluationError, PerturbationError, RecordError, ScorerError, FaceFinderError) as exc:
        print(f"laanet-bench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
