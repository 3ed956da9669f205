"""Robustness runs: the same evaluation under each perturbation type and level, one record per run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .datasets.base import MediaItem
from .evaluation import RunInfo, run_evaluation
from .metrics import BootstrapConfig
from .perturbations import PERTURBATIONS, Perturbation, PerturbationError
from .pipeline import EvalSettings
from .records import RunRecord
from .scorer import FaceScorer


def plan(types: Sequence[str] | None = None, levels: Sequence[int] | None = None, seed: int = 0
         ) -> list[Perturbation]:
    """The perturbations to run, checked up front (unknown names, bad levels, missing ffmpeg)."""
    names = list(types) if types else list(PERTURBATIONS)
    out = []
    for name in names:
        if name not in PERTURBATIONS:
            raise PerturbationError(f"unknown perturbation {name!r}; known: {', '.join(PERTURBATIONS)}")
        for level in levels or range(1, len(PERTURBATIONS[name].levels) + 1):
            p = Perturbation(name, int(level), seed)
            p.check()
            out.append(p)
    return out


def run_robustness(items: Sequence[MediaItem], scorer: FaceScorer, settings: EvalSettings, info: RunInfo,
                   out_dir: Path, perturbations: Sequence[Perturbation], cache_dir: Path | None = None,
                   levels: Sequence[str] = ("video",), bootstrap: BootstrapConfig | None = None,
                   include_clean: bool = True, progress: bool = True, keep_crops: bool = True) -> list[RunRecord]:
    """Evaluate clean (optionally) and under each perturbation; every run is resumable through the cache."""
    records: list[RunRecord] = []
    runs: list[Perturbation | None] = ([None] if include_clean else []) + list(perturbations)
    for p in runs:
        recs, _ = run_evaluation(items, scorer, replace(settings, perturbation=p), info, out_dir,
                                 cache_dir=cache_dir, levels=levels, bootstrap=bootstrap, progress=progress,
                                 keep_crops=keep_crops)
        records += recs
    return records
