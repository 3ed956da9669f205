"""The work of each ``laanet-bench`` command (the parser is in ``laanet_bench.cli``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from laanet_synth.atomic import write_text
from laanet_synth.faces import FaceFinderError
from laanet_synth.messages import one_line
from laanet_synth.output_paths import folder_target_problem
from laanet_synth.shards import (
    ShardError,
    TorchrunEnv,
    barrier,
    multi_process_run,
    parse_shard,
    process_group,
    rank_device,
)
from tabulate import tabulate

from .cache import CacheWriteError, EvalCache
from .datasets import DATASETS, DatasetLayoutError, LoadOptions, MediaItem, list_csv, list_dataset
from .datasets.base import check_missing
from .datasets.generic import read_rows
from .evaluation import LEVELS, EvaluationError, RunInfo, run_evaluation
from .metrics import METRIC_NAMES, BootstrapConfig
from .perturbations import PerturbationError
from .pipeline import EvalSettings, resolve_settings
from .records import RecordError, RunRecord, read_records
from .robustness import plan, run_robustness
from .scorer import DetectorScorer, ScorerError, load_scorer
from .sharding import score_shard
from .tables import render, robustness_tables, write_tables


class OutputError(ValueError):
    """An output folder that cannot be written (a file in its place, no permission, a full disk)."""


#: errors that are the user's input, reported in one line with exit status 2
USER_ERRORS = (DatasetLayoutError, EvaluationError, PerturbationError, RecordError, ScorerError, FaceFinderError,
               ShardError, CacheWriteError, OutputError)


def output_folder(path: Path, option: str = "--out") -> Path:
    """``path`` if it is a writable folder or can be created as one (nothing is created here, so a run refused
    later leaves no trace); :class:`OutputError` before any work otherwise."""
    problem = folder_target_problem(path, f"{option} {path}")
    if problem is not None:
        raise OutputError(problem)
    return path


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


@dataclass(frozen=True)
class Selection:
    """The items a run evaluates, out of those the dataset lists and those whose files are present."""

    listed: list[MediaItem]
    present: list[MediaItem]
    items: list[MediaItem]
    info: RunInfo
    limit: int = 0

    def coverage(self, keep: Callable[[MediaItem], bool] = lambda it: True) -> RunInfo:
        """``info`` with how many items (of those ``keep`` selects) are listed and why some are not evaluated."""
        listed = sum(map(keep, self.listed))
        present = sum(map(keep, self.present))
        chosen = sum(map(keep, self.items))
        missing = {}
        if present < listed:
            missing["files missing"] = listed - present
        if chosen < present:
            missing[f"left out by --limit {self.limit}"] = present - chosen
        return replace(self.info, n_expected=listed, missing=missing)

    def subset(self, name: str) -> tuple[list[MediaItem], RunInfo]:
        """One subset's fakes with every real item, and its coverage."""
        def keep(it: MediaItem) -> bool:
            return it.subset == name or it.label == 0

        return [it for it in self.items if keep(it)], replace(self.coverage(keep), subset=name)


def select_items(args: argparse.Namespace) -> Selection:
    """The items to evaluate and what the records say about them (how many the dataset lists, why some are
    left out, how a CSV's columns were read)."""
    options = LoadOptions(split=args.split, compression=args.compression, methods=_split_list(args.methods),
                          layout=args.layout, skip_missing=args.skip_missing)
    notes: dict[str, str] = {}
    if args.csv is not None:
        title = args.csv.stem
        rows = read_rows(args.csv)
        listed = list_csv(args.csv, rows)
        notes["csv_columns"] = rows.describe()
        info = RunInfo(dataset=args.csv.stem, split=args.split, layout="csv", notes=notes)
    else:
        if args.root is None:
            raise DatasetLayoutError(f"--root is needed with --dataset {args.dataset} "
                                     f"(expected layout: {DATASETS[args.dataset].layout})")
        listed = list_dataset(args.dataset, args.root, options)
        title = DATASETS[args.dataset].title
        compression = args.compression if args.dataset in ("ffpp", "dfd") and args.layout == "published" else ""
        info = RunInfo(dataset=args.dataset, split=args.split, layout=args.layout, compression=compression)
    present = check_missing(listed, options, title)
    if args.pre_cropped:
        present = [replace(it, pre_cropped=True) for it in present]
    return Selection(listed, present, balanced_limit(present, args.limit), info, args.limit)


def load_items(args: argparse.Namespace) -> tuple[list[MediaItem], RunInfo]:
    """The items to evaluate and the run's info with their coverage."""
    selection = select_items(args)
    return selection.items, selection.coverage()


def _settings(args: argparse.Namespace, scorer: DetectorScorer) -> EvalSettings:
    def given(value: str | None) -> str | None:
        return None if value == "recipe" else value

    # settings left as "recipe" (or --frames left out) are the weights' recipe's; the records list them
    settings = EvalSettings(n_frames=args.frames, face_policy=given(args.face_policy), tta=given(args.tta),
                            no_face=given(args.no_face), batch_size=args.batch_size)
    return resolve_settings(settings, scorer)


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


def _score_shard_only(args: argparse.Namespace, items: Sequence[MediaItem], scorer: DetectorScorer,
                      settings: Sequence[EvalSettings], ctx: TorchrunEnv | None, device: str) -> bool:
    """Score this process's shard into the cache. Returns whether this process writes the records now:
    never with ``--shard``; rank 0 under torchrun, after every rank has passed the barrier."""
    cache = EvalCache(args.cache or args.out / "cache", keep_crops=not args.no_crop_cache)
    desc = args.csv.stem if args.csv is not None else args.dataset
    if ctx is None:
        shard = parse_shard(args.shard)
        result = score_shard(items, shard, scorer, settings, cache, progress=not args.quiet, desc=desc)
        print(f"{result.summary()}\nno records written: once every shard is done, run the same command "
              "without --shard to write them (every item then comes from the cache)")
        return False
    with process_group(ctx, device):
        result = score_shard(items, ctx.shard, scorer, settings, cache, progress=not args.quiet, desc=desc)
        print(f"rank {ctx.rank}: {result.summary()}", file=sys.stderr)
        barrier(device)
    return ctx.is_writer


def _load_scorer_for_shards(args: argparse.Namespace) -> tuple[DetectorScorer, TorchrunEnv | None, str | None]:
    ctx = multi_process_run(args.shard)
    device = rank_device(ctx, args.device) if ctx is not None else args.device
    if args.shard:
        parse_shard(args.shard)  # a malformed --shard fails before the weights are loaded
    scorer = load_scorer(args.weights, device=device, official_float64=args.official_float64,
                         batch_size=args.batch_size)
    return scorer, ctx, device


def cmd_evaluate(args: argparse.Namespace) -> int:
    selection = select_items(args)
    items, info = selection.items, selection.coverage()
    output_folder(args.out)
    if args.cache is not None:
        output_folder(args.cache, "--cache")
    scorer, ctx, device = _load_scorer_for_shards(args)
    settings = _settings(args, scorer)
    if (args.shard or ctx is not None) and not _score_shard_only(args, items, scorer, [settings], ctx, device):
        return 0
    bootstrap = BootstrapConfig(n_boot=args.bootstrap, seed=args.seed)
    records, stats = run_evaluation(items, scorer, settings, info, args.out, cache_dir=args.cache,
                                    levels=_levels(args.level), bootstrap=bootstrap, progress=not args.quiet,
                                    keep_crops=not args.no_crop_cache)
    if args.per_subset:
        for subset in sorted({it.subset for it in items if it.label == 1 and it.subset}):
            chosen, sub_info = selection.subset(subset)
            recs, _ = run_evaluation(chosen, scorer, settings, sub_info, args.out,
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
    out = output_folder(args.out or base)
    if not any(r.level in _levels(args.level) for r in records):
        raise RecordError(f"{args.records}: no record at level {args.level}; levels recorded: "
                          f"{sorted({r.level for r in records})}")
    try:
        written = write_tables(records, out, base, levels=_levels(args.level))
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write the tables ({exc.strerror or exc})") from exc
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
    output_folder(args.out)
    scorer, ctx, device = _load_scorer_for_shards(args)
    if args.shard or ctx is not None:
        runs = [replace(_settings(args, scorer), perturbation=p) for p in [None, *perturbations]]
        if not _score_shard_only(args, items, scorer, runs, ctx, device):
            return 0
    records = run_robustness(items, scorer, _settings(args, scorer), info, args.out, perturbations, cache_dir=args.cache,
                             levels=_levels(args.level), bootstrap=BootstrapConfig(args.bootstrap, seed=args.seed),
                             progress=not args.quiet, keep_crops=not args.no_crop_cache)
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


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; user errors become one line on standard error and exit status 2."""
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as exc:
        print(f"laanet-bench: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = ": every finished item is in the cache; rerun the same command to resume" if args.command in (
            "evaluate", "robustness") else ""
        print(f"laanet-bench {args.command}: interrupted{kept}", file=sys.stderr)
        return 130
