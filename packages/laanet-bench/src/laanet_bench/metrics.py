"""Detection metrics (AUC, AP, ACC, EER, AR, mF1) as pure numpy functions, and seeded bootstrap intervals.

Conventions follow the official LAA-Net evaluation: scores are probabilities (sigmoid of the logit), label 1 is
fake, ACC and AR threshold the probability at 0.5, AR is the macro recall, mF1 = 2 AP AR / (AP + AR), and the
EER is the false-positive rate where |FNR - FPR| is smallest on the ROC curve.

This is the one metrics module of the project (training validation and export use it too). Every function
needs both classes: with only real or only fake samples (or empty, non-finite or mismatched input) it raises
:class:`MetricError` instead of returning NaN, since AUC, AP, EER and AR are undefined there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

METRIC_NAMES = ("auc", "ap", "acc", "eer", "ar", "mf1")


class MetricError(ValueError):
    """Labels or scores cannot be scored (wrong shapes, a single class, non-finite values)."""


def _check(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise MetricError(f"labels and scores must be 1-D of equal length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise MetricError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(s).all():
        raise MetricError("scores must be finite")
    y = y.astype(np.int64)
    if y.min(initial=1) == y.max(initial=0) or y.size == 0:
        raise MetricError("both real (0) and fake (1) samples are needed")
    return y, s


def _counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct score, from the highest down, and those scores."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last]
    return tps, (last + 1) - tps, s[last]


def _roc(tps: np.ndarray, fps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]


def _auc(tps: np.ndarray, fps: np.ndarray) -> float:
    fpr, tpr = _roc(tps, fps)
    return float(np.trapezoid(tpr, fpr))


def _ap(tps: np.ndarray, fps: np.ndarray) -> float:
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _eer(tps: np.ndarray, fps: np.ndarray) -> float:
    fpr, tpr = _roc(tps, fps)
    return float(fpr[np.argmin(np.abs((1.0 - tpr) - fpr))])


def roc_curve(y_true, y_score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` at every distinct score, starting from (0, 0) at threshold +inf."""
    tps, fps, thresholds = _counts(*_check(y_true, y_score))
    fpr, tpr = _roc(tps, fps)
    return fpr, tpr, np.r_[np.inf, thresholds]


def auc(y_true, y_score) -> float:
    """Area under the ROC curve (ties count one half)."""
    return _auc(*_counts(*_check(y_true, y_score))[:2])


def average_precision(y_true, y_score) -> float:
    """AP as the step-wise sum of precisions weighted by recall increments (no interpolation)."""
    return _ap(*_counts(*_check(y_true, y_score))[:2])


def accuracy(y_true, y_score, threshold: float = 0.5) -> float:
    """Fraction of samples where ``score >= threshold`` matches the label."""
    y, s = _check(y_true, y_score)
    return float(np.mean((s >= threshold).astype(np.int64) == y))


def macro_recall(y_true, y_score, threshold: float = 0.5) -> float:
    """AR: the mean of the real-class and the fake-class recall at ``threshold``."""
    y, s = _check(y_true, y_score)
    pred = (s >= threshold).astype(np.int64)
    return float(np.mean([np.mean(pred[y == c] == c) for c in (0, 1)]))


def eer(y_true, y_score) -> float:
    """Equal error rate: the FPR at the ROC point where |FNR - FPR| is smallest."""
    return _eer(*_counts(*_check(y_true, y_score))[:2])


def mean_f1(ap: float, ar: float) -> float:
    """mF1 = 2 AP AR / (AP + AR) (0 when both are 0)."""
    return 0.0 if ap + ar == 0 else 2.0 * ap * ar / (ap + ar)


def _metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    tps, fps, _ = _counts(y, s)
    pred = (s >= 0.5).astype(np.int64)
    ap = _ap(tps, fps)
    ar = float(np.mean([np.mean(pred[y == c] == c) for c in (0, 1)]))
    return {"auc": _auc(tps, fps), "ap": ap, "acc": float(np.mean(pred == y)), "eer": _eer(tps, fps),
            "ar": ar, "mf1": mean_f1(ap, ar)}


def compute_metrics(y_true, y_score) -> dict[str, float]:
    """All metrics in :data:`METRIC_NAMES` for probabilities ``y_score``."""
    return _metrics(*_check(y_true, y_score))


@dataclass(frozen=True)
class BootstrapConfig:
    """Percentile bootstrap: ``n_boot`` resamples with replacement, seeded, at ``confidence``."""

    n_boot: int = 1000
    confidence: float = 0.95
    seed: int = 0


def bootstrap_intervals(y_true, y_score, config: BootstrapConfig = BootstrapConfig(), progress: bool = False
                        ) -> dict[str, list[float]]:
    """``{metric: [low, high]}`` percentile intervals; resamples holding a single class are redrawn."""
    y, s = _check(y_true, y_score)
    if config.n_boot <= 0:
        return {}
    rng = np.random.default_rng(config.seed)
    samples: dict[str, list[float]] = {m: [] for m in METRIC_NAMES}
    drawn = 0
    bar = tqdm(total=config.n_boot, desc="bootstrap", unit="resample", disable=not progress, leave=False)
    while len(samples["auc"]) < config.n_boot:
        drawn += 1
        if drawn > 20 * config.n_boot:
            raise MetricError("too few samples of one class to bootstrap")
        idx = rng.integers(0, y.size, y.size)
        yb = y[idx]
        if yb.min() == yb.max():
            continue
        for name, value in _metrics(yb, s[idx]).items():
            samples[name].append(value)
        bar.update(1)
    bar.close()
    alpha = (1.0 - config.confidence) / 2.0
    return {m: [float(np.quantile(v, alpha)), float(np.quantile(v, 1.0 - alpha))] for m, v in samples.items()}
