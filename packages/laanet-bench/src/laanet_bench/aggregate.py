"""Frame and video aggregation rules used by the pipeline."""

from __future__ import annotations

import numpy as np


def frame_logit(face_logits: np.ndarray, areas: np.ndarray, policy: str) -> float:
    """One frame's logit: the maximum over its faces, or the logit of its largest face."""
    face_logits = np.asarray(face_logits, dtype=np.float64)
    if policy == "max":
        return float(face_logits.max())
    if policy == "largest":
        return float(face_logits[int(np.argmax(areas))])
    raise ValueError(f"face policy must be 'max' or 'largest', got {policy!r}")


def video_logit(frame_logits: np.ndarray) -> float:
    """A video's logit: the mean of its frame logits (its score is the sigmoid of that)."""
    return float(np.mean(frame_logits))


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
