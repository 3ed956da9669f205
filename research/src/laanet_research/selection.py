"""The selection rule: what a run's checkpoints (or soups) are compared on, how they are ranked, and the lead a
candidate needs to replace the shipped weights. Only selection data are used: the synthetic validation pairs and
the selection halves of the shared photos (:mod:`~laanet_research.halves`); nothing reported."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from laanet_bench.metrics import auc as roc_auc
from laanet_model.scoring import sigmoid

from .face_cache import FaceCache, PhotoScorer
from .photo_bands import calibration_scores, photo_bands
from .renderings import Rendering
from .sweep import sweep_spreads, sweep_summary

#: how checkpoints are compared (:func:`choose_checkpoint`)
SELECTION_RULE = (
    "highest mean of three measures through the Detector with the flip test: the synthetic validation AUC; the AUC "
    "of the selection photos (selection halves of faces/portraits and faces/realworld, as they are and at a "
    "quarter) against the synthetic validation fakes; and the share of the selection photos whose fake "
    "probability stays within 0.2 from 240p to 1080p"
)
#: the rule once real face swaps joined it (``laanet-research select``, by default): the same mean with a fourth
#: measure, the frame AUC of the real swaps against the real faces of the labelled list's select split
SELECTION_RULE_WITH_SWAPS = (
    "highest mean of four measures through the Detector with the flip test: the synthetic validation AUC; the AUC "
    "of the selection photos (selection halves of faces/portraits and faces/realworld, as they are and at a "
    "quarter) against the synthetic validation fakes; the share of the selection photos whose fake probability "
    "stays within 0.2 from 240p to 1080p; and the frame AUC of the real face swaps against the real faces of the "
    "select split of deepfakes/index.csv"
)
#: the rule once the tail of the real scores joined it (``laanet-research select``, by default, since the stage 40
#: soup): the four measures with a fifth, the share of the select split's swaps a card calibrated on the same
#: selection data would call fake. The four-measure rule ranks by AUC alone, and a candidate can lead it while the
#: top real scores, and with them the card's fake band, rise until no swap is called fake
SELECTION_RULE_WITH_TAIL = (
    "highest mean of five measures through the Detector with the flip test: the synthetic validation AUC; the AUC "
    "of the selection photos (selection halves of faces/portraits and faces/realworld, as they are and at a "
    "quarter) against the synthetic validation fakes; the share of the selection photos whose fake probability "
    "stays within 0.2 from 240p to 1080p; the frame AUC of the real face swaps against the real faces of the "
    "select split of deepfakes/index.csv; and the share of those swaps above the fake band a card calibrated on "
    "the same data would state (the calibration photos and the split's real faces by the band rule)"
)
#: the measures each stated rule averages, in order
RULE_MEASURES: dict[str, tuple[str, ...]] = {
    SELECTION_RULE: ("synthetic_val_auc", "photos_vs_fakes_auc", "sweep_within"),
    SELECTION_RULE_WITH_SWAPS: ("synthetic_val_auc", "photos_vs_fakes_auc", "sweep_within", "swap_auc"),
    SELECTION_RULE_WITH_TAIL: ("synthetic_val_auc", "photos_vs_fakes_auc", "sweep_within", "swap_auc",
                               "swaps_called_fake"),
}


def selection_score(detector: Any, renderings: Sequence[Rendering], val_pairs: Any,
                    cache: FaceCache, sweep: Sequence[Rendering] | None = None,
                    swap_rows: Sequence[dict[str, str]] | None = None) -> dict[str, float]:
    """What checkpoints are compared on: the AUC separating the selection photos (the selection halves of the
    portraits and the realworld photos, as they are and at a quarter size: ``renderings`` from
    :func:`~laanet_research.renderings.calibration_renderings`) from the synthetic validation fakes, the synthetic validation AUC itself
    and, with ``sweep`` (:func:`~laanet_research.renderings.sweep_renderings` of the selection photos), the share of the selection photos
    whose probability stays within :data:`~laanet_research.sweep.SWEEP_TOLERANCE` over the sweep; with, for information, the band the
    calibration rule would set and the share of the synthetic validation fakes above it. With ``swap_rows`` (rows of
    the labelled real-swap list, :func:`~laanet_research.real_swaps.list_rows`), the frame AUC of its swaps
    against its reals joins the row as ``swap_auc`` (with ``swap_ap``, and the card's band and the swaps it calls
    fake, for information: :func:`swap_measures`)."""
    scorer = PhotoScorer(detector, cache)
    cal = calibration_scores(scorer, renderings)
    reals, fakes = val_pairs
    lr = np.array([p.logit for p in detector.predict_crops(reals)])
    lf = np.array([p.logit for p in detector.predict_crops(fakes)])
    y = np.r_[np.zeros(len(lr)), np.ones(len(lf))]
    photo_y = np.r_[np.zeros(len(cal)), np.ones(len(lf))]
    photo_s = np.r_[cal, sigmoid(lf)]
    band = photo_bands(cal)["fake_above"]
    return {"synthetic_val_auc": round(roc_auc(y, np.r_[lr, lf]), 4),
            "photos_vs_fakes_auc": round(roc_auc(photo_y, photo_s), 4),
            "calibration_median_prob": round(float(np.median(cal)), 4),
            "fake_above": band,
            "val_fakes_called_fake": round(float((sigmoid(lf) > band).mean()), 4),
            **({} if sweep is None else _sweep_row(sweep_spreads(scorer, sweep))),
            **({} if swap_rows is None else swap_measures(scorer, swap_rows, cal))}


def swap_measures(scorer: PhotoScorer, rows: Sequence[dict[str, str]],
                  photo_probs: Sequence[float] | None = None) -> dict[str, float]:
    """The real-swap measures of a selection row: every image of ``rows`` scored as ``laanet predict`` scores an
    image (:func:`~laanet_research.real_swaps.row_probs`), its faces found once. With ``photo_probs`` (the
    calibration photos' scores), also, for information and outside the rule, the fake band a card calibrated on
    the same selection data would get (``card_fake_above``: the calibration photos and the rows' reals by
    :func:`~laanet_research.photo_bands.photo_and_swap_bands`) and the share of the rows' swaps above it
    (``swaps_called_fake``): the sensitivity left at the specificity the card would state."""
    from .photo_bands import photo_and_swap_bands
    from .real_swaps import row_probs, scored_labels, swap_figures

    probs = row_probs(scorer, rows)
    figures = swap_figures(rows, probs)
    out = {"swap_auc": figures["auc"], "swap_ap": figures["ap"]}
    if photo_probs is not None:
        _, y, p = scored_labels(rows, probs)
        fakes = p[y == 1]
        band = photo_and_swap_bands(np.asarray(photo_probs, np.float64), p[y == 0], fakes)["fake_above"]
        out.update(card_fake_above=band, swaps_called_fake=round(float((fakes > band).mean()), 4))
    return out


def _sweep_row(spreads: Sequence[float]) -> dict[str, float]:
    """The selection row's sweep measures, from the report's own :func:`~laanet_research.sweep.sweep_summary`."""
    summary = sweep_summary(spreads, images=len(spreads))
    if not summary["n"]:
        raise ValueError("no selection photo has a judged face at every sweep height")
    return {"sweep_within": summary["within_tolerance"], "sweep_photos": summary["n"]}


def rule_value(row: dict[str, float], rule: str | None = None) -> float:
    """The value a stated ``rule`` (a key of :data:`RULE_MEASURES`) ranks a :func:`selection_score` row by: the
    mean of its measures. Without ``rule``, the rows of the searches recorded before the rules were named: the
    mean of the two AUCs and, where the row has them, the sweep share and the real-swap AUC (one search scores
    all its rows the same way, so rows of two rules never meet in a ranking)."""
    return float(np.mean(rule_measures(row, rule)))


def rule_measures(row: dict[str, float], rule: str | None = None) -> list[float]:
    """The measures :func:`rule_value` averages (see there)."""
    if rule is None:
        return [row[k] for k in RULE_MEASURES[SELECTION_RULE_WITH_SWAPS] if k in row]
    try:
        keys = RULE_MEASURES[rule]
    except KeyError:
        raise ValueError(f"not a stated selection rule: {rule[:60]!r}...") from None
    missing = [k for k in keys if k not in row]
    if missing:
        raise ValueError(f"the row lacks {', '.join(missing)}, measures of its rule (scored by another rule?)")
    return [row[k] for k in keys]


def replacement_margin(row: dict[str, float], rule: str | None = None) -> float:
    """The lead by :func:`rule_value` a candidate needs over the shipped weights to replace them: what one
    selection photo crossing the sweep tolerance moves the rule (``1 / sweep_photos`` over the number of
    measures). A smaller lead is a tie at the resolution of the selection data, and a tie keeps the weights whose
    reported figures are already measured. Rows scored without the sweep have no such step and need no margin
    (0.0)."""
    return 1.0 / (len(rule_measures(row, rule)) * row["sweep_photos"]) if "sweep_photos" in row else 0.0


def choose_checkpoint(rows: dict[str, dict[str, float]], rule: str | None = None) -> str:
    """The checkpoint ``rule`` (see :func:`rule_value`) picks from :func:`selection_score` rows (first one on a
    tie)."""
    if not rows:
        raise ValueError("no checkpoints to choose from")
    return max(rows, key=lambda k: rule_value(rows[k], rule))
