"""The one rule that sets verdict bands: quantiles of the fake probabilities of real calibration faces.

``fake_above`` is the :data:`FAKE_QUANTILE` quantile of the real scores (about 1 % of real calibration faces
are called fake) and ``real_below`` the :data:`REAL_QUANTILE` quantile (about 80 % of them read "real"). Fakes
play no part: a fake's score says nothing about how often a real face is called fake, which is what a band
promises. Export applies it to the real faces of a run's synthetic validation; the real-image report of the
research workspace to real photos. The rule's text, with the data it was applied to, goes on the card as
``thresholds_rule``, and ``n_calibration`` says how many scores the quantiles rest on (with a few dozen, the
``fake_above`` band is about the highest real score).
"""

from __future__ import annotations

from typing import Any

import numpy as np

FAKE_QUANTILE, REAL_QUANTILE = 0.99, 0.80


def band_rule(data: str) -> str:
    """The rule's text, naming the real calibration ``data`` it was applied to."""
    return (f"fake above the {round(FAKE_QUANTILE * 100)}th percentile and real below the "
            f"{round(REAL_QUANTILE * 100)}th percentile of the fake probabilities of real calibration photos ({data})")


def calibrate_bands(real_probs: Any, data: str) -> dict[str, Any]:
    """Verdict bands from the fake probabilities of real calibration faces (:func:`band_rule` of ``data``):
    ``real_below``, ``fake_above``, the ``rule`` and the number of scores ``n_calibration``."""
    p = np.asarray(real_probs, dtype=np.float64)
    if not p.size or not np.isfinite(p).all():
        raise ValueError(f"calibration needs real scores, all finite; got {p.size} scores")
    fake_above = float(np.quantile(p, FAKE_QUANTILE))
    real_below = min(float(np.quantile(p, REAL_QUANTILE)), fake_above)
    return {"real_below": round(real_below, 4), "fake_above": round(fake_above, 4), "rule": band_rule(data),
            "n_calibration": int(p.size)}
