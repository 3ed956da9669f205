"""The resolution sweep: how far a photo's fake probability moves when it is saved at 240p, 480p, 720p and
1080p (:data:`~laanet_research.renderings.SWEEP_HEIGHTS`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from laanet_model.scoring import sigmoid

from .renderings import Rendering

#: the largest probability spread over the sweep called consistent
SWEEP_TOLERANCE = 0.2


def sweep_spreads(scorer: Any, renderings: Sequence[Rendering]) -> list[float]:
    """The fake-probability spread (max - min) of each photo over its sweep views in ``renderings`` (keys
    ``<photo>#h<height>``); a photo without a judged face at some height has none."""
    by_photo: dict[str, list[float | None]] = {}
    for key, image in renderings:
        by_photo.setdefault(key.rsplit("#h", 1)[0], []).append(scorer.frame_logit(key, image))
    spreads = []
    for logits in by_photo.values():
        if all(v is not None for v in logits):
            p = sigmoid(np.asarray(logits, dtype=np.float64))
            spreads.append(float(p.max() - p.min()))
    return spreads


def sweep_summary(spreads: Sequence[float], images: int) -> dict[str, Any]:
    """Per-photo probability spreads summarised: the share within :data:`SWEEP_TOLERANCE`, median and max."""
    d = np.asarray(spreads, dtype=np.float64)
    if not d.size:
        return {"n": 0, "images": images}
    return {"n": int(d.size), "images": images,
            "within_tolerance": round(float((d <= SWEEP_TOLERANCE).mean()), 4),
            "median_prob_spread": round(float(np.median(d)), 4),
            "max_prob_spread": round(float(d.max()), 4)}
