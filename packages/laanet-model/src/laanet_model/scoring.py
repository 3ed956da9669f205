"""Pure aggregation rules: face logits -> frame score -> video score -> verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np

__all__ = ["sigmoid", "frame_score", "video_score", "clip_score", "verdict", "Verdict"]

Verdict = Literal["real", "uncertain", "fake"]


@overload
def sigmoid(x: float) -> float: ...
@overload
def sigmoid(x: np.ndarray) -> np.ndarray: ...
def sigmoid(x: Any) -> Any:
    """Numerically stable logistic function: a float for a number, a float64 array for an array.

    The one definition every package uses to turn logits into fake probabilities.
    """
    if isinstance(x, np.ndarray):
        a = x.astype(np.float64)
        e = np.exp(-np.abs(a))
        return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    x = float(x)
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def frame_score(
    face_logits: Sequence[float],
    policy: str = "max",
    areas: Sequence[float] | None = None,
) -> float | None:
    """The logit that stands for a frame: the most fake face (``"max"``) or the largest face (``"largest"``).

    ``areas`` gives each face's box area for ``"largest"``; without it the first face is taken as the
    largest (face finders list the largest first). Returns ``None`` for a frame without faces.
    """
    logits = [float(v) for v in face_logits]
    if not logits:
        return None
    if any(math.isnan(v) for v in logits):
        raise ValueError(f"face logits must not be NaN, got {logits}")
    if policy == "max":
        return max(logits)
    if policy == "largest":
        if areas is None:
            return logits[0]
        if len(areas) != len(logits):
            raise ValueError(f"got {len(areas)} areas for {len(logits)} face logits")
        best = max(range(len(logits)), key=lambda i: float(areas[i]))
        return logits[best]
    raise ValueError(f"unknown frame policy {policy!r}; expected 'max' or 'largest'")


def video_score(frame_logits: Sequence[float | None]) -> float:
    """Fake probability of a video: sigmoid of the mean frame logit (frames without faces are skipped)."""
    logits = [float(v) for v in frame_logits if v is not None]
    if not logits:
        raise ValueError("video_score needs at least one frame with a face logit")
    return sigmoid(sum(logits) / len(logits))


def clip_score(frame_logits: Sequence[float | None], no_face_logits: Sequence[float | None] = ()) -> float | None:
    """A video's fake probability under the recipe's no-face rule: :func:`video_score` over the frames with a
    judged face; when no frame has one, the same mean over the logits the no-face rule gave the frames
    (``no_face_logits``; ``None`` where it gives no score); ``None`` when neither holds a logit."""
    if any(v is not None for v in frame_logits):
        return video_score(frame_logits)
    if any(v is not None for v in no_face_logits):
        return video_score(no_face_logits)
    return None


def verdict(prob: float, thresholds: object) -> Verdict:
    """``"real"`` below ``real_below``, ``"fake"`` above ``fake_above``, else ``"uncertain"``.

    ``thresholds`` is a :class:`laanet_model.weights.Thresholds` or a ``(real_below, fake_above)`` pair.
    """
    if isinstance(thresholds, tuple | list):
        real_below, fake_above = (float(v) for v in thresholds)
    else:
        real_below = float(thresholds.real_below)  # type: ignore[attr-defined]
        fake_above = float(thresholds.fake_above)  # type: ignore[attr-defined]
    if not 0.0 <= real_below <= fake_above <= 1.0:
        raise ValueError(
            f"thresholds must satisfy 0 <= real_below <= fake_above <= 1, got {real_below}, {fake_above}"
        )
    if not 0.0 <= prob <= 1.0 or math.isnan(prob):
        raise ValueError(f"prob must be a probability in [0, 1], got {prob}")
    if prob < real_below:
        return "real"
    if prob > fake_above:
        return "fake"
    return "uncertain"
