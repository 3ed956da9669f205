"""From item results to metrics, scores files and run records (one per level)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from laanet_model.scoring import sigmoid
from laanet_synth import csvtext
from laanet_synth.atomic import write_bytes

from .cache import EvalCache
from .datasets.base import MediaItem
from .metrics import BootstrapConfig, MetricError, bootstrap_intervals, compute_metrics
from .pipeline import EvalSettings, EvaluationError, ItemResult, RunStats, evaluate_items, resolve_settings
from .records import RECORDS_FILE, RunRecord, append_record
from .scorer import FaceScorer

LEVELS = ("frame", "video")


def package_version() -> str:
    try:
        return version("laanet-bench")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class RunInfo:
    """What a run is about, for its records."""

    dataset: str
    split: str = "test"
    subset: str = "all"
    layout: str = "published"
    compression: str = ""
    n_expected: int = 0
    """Items the dataset or split lists, before missing files and --limit (0: the items given)."""
    missing: dict[str, int] = field(default_factory=dict)
    """Items listed but not given to the run, by reason."""
    notes: dict[str, str] = field(default_factory=dict)
    """Anything else the records should say about the input (e.g. how a CSV's columns were read)."""


@dataclass(frozen=True, eq=False)
class LevelScores:
    """Labels and probabilities at one level, with the key of the video each row belongs to."""

    keys: list[str]
    labels: np.ndarray
    scores: np.ndarray
    subsets: list[str]
    n_no_face: int


def level_scores(results: Sequence[ItemResult], level: str, settings: EvalSettings) -> LevelScores:
    """Frame level: one row per frame with a score (a judged face, or the no-face rule's score); video level:
    one row per item with a score (an item with no judged face in any frame gets the no-face rule's score, or
    is left out under "no_score"). ``n_no_face`` counts frames (frame level) or items (video level) with no
    judged face. Items that failed to read are left out."""
    keys, labels, probs, subsets = [], [], [], []
    n_no_face = 0
    for res in results:
        if res.error:
            continue
        if level == "frame":
            n_no_face += res.n_no_face_frames
        elif not res.has_face:
            n_no_face += 1
        if level == "frame":
            for p in sigmoid(res.frame_logits):
                keys.append(res.item.key)
                labels.append(res.item.label)
                probs.append(float(p))
                subsets.append(res.item.subset)
        elif level == "video":
            if res.video_prob is None:
                continue
            keys.append(res.item.key)
            labels.append(res.item.label)
            probs.append(res.video_prob)
            subsets.append(res.item.subset)
        else:
            raise EvaluationError(f"level must be 'frame' or 'video', got {level!r}")
    return LevelScores(keys, np.asarray(labels, dtype=np.int64), np.asarray(probs, dtype=np.float64), subsets,
                       n_no_face)


def scores_csv(scores: LevelScores) -> str:
    """``key,label,score,subset`` rows; a key holding a comma, a quote or a control character is quoted
    (:mod:`laanet_synth.csvtext`), one that is not UTF-8 is written as its bytes (``csvtext.csv_bytes``)."""
    rows = ([k, int(y), repr(float(s)), sub]
            for k, y, s, sub in zip(scores.keys, scores.labels, scores.scores, scores.subsets, strict=True))
    return csvtext.csv_text(["key", "label", "score", "subset"], rows)


def make_record(scores: LevelScores, level: str, info: RunInfo, scorer: FaceScorer, settings: EvalSettings,
                bootstrap: BootstrapConfig, wall_time_s: float, scores_file: str, run_id: str,
                extra: dict | None = None, progress: bool = False, n_scored: int | None = None) -> RunRecord:
    """Metrics with bootstrap intervals and every setting that produced them; ``n_scored`` items were scored
    (default: the distinct keys of ``scores``) of the ``info.n_expected`` the dataset lists."""
    try:
        metrics = compute_metrics(scores.labels, scores.scores)
        ci = bootstrap_intervals(scores.labels, scores.scores, bootstrap, progress=progress)
    except MetricError as exc:
        raise EvaluationError(f"{info.dataset} ({level} level): {exc}; "
                              f"{int((scores.labels == 0).sum())} real and {int((scores.labels == 1).sum())} "
                              "fake samples were scored") from exc
    settings = resolve_settings(settings, scorer)
    p = settings.perturbation
    if n_scored is None:
        n_scored = len(set(scores.keys))
    return RunRecord(
        run_id=run_id, created=datetime.now(UTC).isoformat(timespec="seconds"), dataset=info.dataset,
        split=info.split, level=level, n_frames=settings.n_frames, face_policy=settings.face_policy,
        tta=settings.tta, weights=scorer.weights_name, weights_sha256=scorer.weights_sha256,
        package_version=package_version(), n_real=int((scores.labels == 0).sum()),
        n_fake=int((scores.labels == 1).sum()), ci95=ci, wall_time_s=round(wall_time_s, 3),
        subset=info.subset, layout=info.layout, compression=info.compression, no_face=settings.no_face,
        n_no_face=scores.n_no_face, from_recipe=list(settings.from_recipe), perturbation="none" if p is None else p.name,
        perturbation_level=0 if p is None else p.level, perturbation_param=None if p is None else float(p.param),
        scores_file=scores_file, extra=dict(extra or {}),
        n_expected=info.n_expected or n_scored, n_scored=n_scored, missing=dict(info.missing),
        **metrics,
    )


def run_evaluation(items: Sequence[MediaItem], scorer: FaceScorer, settings: EvalSettings, info: RunInfo,
                   out_dir: Path, cache_dir: Path | None = None, levels: Sequence[str] = LEVELS,
                   bootstrap: BootstrapConfig | None = None, progress: bool = True, keep_crops: bool = True
                   ) -> tuple[list[RunRecord], RunStats]:
    """Score ``items`` (resumably, cache in ``cache_dir``, default ``out_dir/cache``), then append one record
    per level to ``out_dir/records.jsonl`` and write each level's scores to ``out_dir/scores/``."""
    if not items:
        raise EvaluationError(f"{info.dataset}: no items to evaluate")
    for level in levels:
        if level not in LEVELS:
            raise EvaluationError(f"level must be one of {LEVELS}, got {level!r}")
    bootstrap = bootstrap or BootstrapConfig()
    settings = resolve_settings(settings, scorer)
    out_dir = Path(out_dir)
    cache = EvalCache(Path(cache_dir) if cache_dir else out_dir / "cache", keep_crops=keep_crops)
    start = time.perf_counter()
    desc = info.dataset if settings.perturbation is None else (
        f"{info.dataset} {settings.perturbation.name}{settings.perturbation.level}")
    results, stats = evaluate_items(items, scorer, settings, cache, progress=progress, desc=desc)
    wall = time.perf_counter() - start
    if stats.failed == len(items):
        raise EvaluationError(f"{info.dataset}: none of the {len(items)} items could be read")
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    extra = {"n_items": len(items), "n_failed": stats.failed, "n_cached": stats.cached,
             "n_computed": stats.computed, "precision": scorer.precision,
             "recipe": getattr(scorer.recipe, "name", ""), **info.notes}
    missing = dict(info.missing)
    if stats.failed:
        missing["unreadable"] = stats.failed
    info = replace(info, n_expected=info.n_expected or len(items), missing=missing)
    records = []
    for level in levels:
        scores = level_scores(results, level, settings)
        rel = f"scores/{run_id}_{info.dataset}_{info.subset}_{level}.csv"
        record = make_record(scores, level, info, scorer, settings, bootstrap, wall, rel, run_id, extra,
                             progress=progress, n_scored=len(items) - stats.failed)
        write_bytes(out_dir / rel, csvtext.csv_bytes(scores_csv(scores)))
        append_record(out_dir / RECORDS_FILE, record)
        records.append(record)
    return records, stats
