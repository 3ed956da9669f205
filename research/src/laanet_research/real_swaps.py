"""Real face swaps of the shared data's labelled list (``deepfakes/index.csv``: swaps made with public tools and
real faces, with a fixed ``train`` / ``select`` / ``report`` split by group): each image scored as
``laanet predict`` scores an image, and the figures overall and per method."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from laanet_bench.metrics import auc, average_precision

from .shared_data import SWAP_LIST

#: the split every figure a card reports is measured on
SWAP_SPLIT = "report"


def list_rows(shared: str | Path, split: str) -> list[dict[str, str]]:
    """The rows of ``split`` (``path`` made absolute against the shared data folder)."""
    root = Path(shared)
    with (root / SWAP_LIST).open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split]
    if not rows:
        raise ValueError(f"{root / SWAP_LIST} has no rows in split {split!r}")
    return [{**r, "path": str(root / r["path"])} for r in rows]


def row_probs(scorer: Any, rows: Sequence[dict[str, str]]) -> list[float | None]:
    """Each row's image score under the recipe through a :class:`~laanet_research.face_cache.PhotoScorer` (its
    judged faces by the frame policy, else the no-face rule; ``None`` when the rule gives none), faces found
    once per image path."""
    from laanet_synth.imageio import read_image

    return [scorer.predict(f"swaplist/{r['path']}", read_image(r["path"])).score() for r in rows]


def score_rows(detector: Any, rows: Sequence[dict[str, str]], cache: Any = None) -> list[float | None]:
    """:func:`row_probs` through ``detector``, its faces kept in ``cache`` (a ``FaceCache``; in memory when
    ``None``)."""
    from .face_cache import FaceCache, PhotoScorer

    cache = cache if cache is not None else FaceCache(None, str(detector.preprocessing.face_detector))
    return row_probs(PhotoScorer(detector, cache), rows)


def _figures(y: np.ndarray, p: np.ndarray, fake_above: float | None, real_below: float | None = None
             ) -> dict[str, Any]:
    out: dict[str, Any] = {"n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum())}
    if out["n_real"] and out["n_fake"]:
        out["auc"] = round(auc(y, p), 4)
        out["ap"] = round(average_precision(y, p), 4)
    if fake_above is not None:
        if out["n_fake"]:
            out["fakes_called_fake"] = round(float((p[y == 1] > fake_above).mean()), 4)
        if out["n_real"]:
            out["reals_called_fake"] = round(float((p[y == 0] > fake_above).mean()), 4)
    if real_below is not None and out["n_fake"]:
        out["fakes_called_real"] = round(float((p[y == 1] < real_below).mean()), 4)
    return out


def scored_labels(rows: Sequence[dict[str, str]], probs: Sequence[float | None]
                  ) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(the indices of the rows with a score, their labels 0 real / 1 fake, their scores) of ``rows`` and their
    ``probs``."""
    if len(rows) != len(probs):
        raise ValueError(f"{len(rows)} rows against {len(probs)} scores")
    keep = [i for i, p in enumerate(probs) if p is not None]
    y = np.array([int(rows[i]["label"]) for i in keep], dtype=np.int64)
    p = np.array([float(probs[i]) for i in keep], dtype=np.float64)
    return keep, y, p


def swap_figures(rows: Sequence[dict[str, str]], probs: Sequence[float | None],
                 fake_above: float | None = None, real_below: float | None = None) -> dict[str, Any]:
    """Frame AUC and AP overall and per method (each method's fakes against every real), with ``fake_above``
    the shares of fakes and of reals called fake and with ``real_below`` the share of fakes called real; rows
    with no score are counted in ``not_scored``."""
    keep, y, p = scored_labels(rows, probs)
    methods = [rows[i]["method"] for i in keep]
    out: dict[str, Any] = {**_figures(y, p, fake_above, real_below), "not_scored": len(rows) - len(keep),
                           "methods": {}}
    for m in sorted({methods[k] for k in range(len(keep)) if y[k] == 1}):
        sel = np.array([y[k] == 0 or methods[k] == m for k in range(len(keep))])
        out["methods"][m] = _figures(y[sel], p[sel], fake_above, real_below)
    return out


def real_swap_report(detector: Any, shared: str | Path, split: str, fake_above: float,
                     real_below: float | None = None, cache: Any = None) -> dict[str, Any]:
    """:func:`swap_figures` of ``detector`` on ``split`` of the labelled list (faces kept in ``cache``)."""
    rows = list_rows(shared, split)
    return swap_figures(rows, score_rows(detector, rows, cache), fake_above, real_below)
