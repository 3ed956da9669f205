"""Frame and video aggregation: thin array adapters over :mod:`laanet_model.scoring`, the one definition
of the rules (frame = max over faces or largest face; video = sigmoid of the mean frame logit)."""

from __future__ import annotations

import numpy as np
from laanet_model import scoring


def frame_logit(face_logits: np.ndarray, areas: np.ndarray, policy: str) -> float:
    """One frame's logit under ``policy`` (``"max"`` or ``"largest"``)."""
    value = scoring.frame_score([float(x) for x in face_logits], policy, [float(a) for a in areas])
    if value is None:
        raise ValueError("a frame logit needs at least one face")
    return float(value)


def video_prob(frame_logits: np.ndarray) -> float:
    """A video's fake probability: the sigmoid of its mean frame logit."""
    return float(scoring.video_score([float(x) for x in frame_logits]))

