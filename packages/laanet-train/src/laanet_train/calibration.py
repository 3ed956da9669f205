"""The one rule that sets verdict bands: quantiles of the fake probabilities of real calibration faces, and,
where known fakes are at hand, of theirs.

Each band bounds the error of its own verdict. ``fake_above`` is the :data:`FAKE_QUANTILE` quantile of the real
scores: about 1 % of real calibration faces are called fake, whatever the fakes do. ``real_below`` is the
:data:`REAL_QUANTILE` quantile of the real scores (about 80 % of them read "real"), lowered, when known fakes are
given, to their :data:`FAKE_MISS_QUANTILE` quantile, so that at most about 10 % of those fakes read "real";
everything between the two is "uncertain". Export applies it to the real faces of a run's synthetic validation;
the real-image report of the research workspace to real photos and real face swaps. The rule's text, with the
data it was applied to, goes on the card as ``thresholds_rule``; ``n_calibration`` (and ``n_calibration_fakes``)
say how many scores the quantiles rest on (with a few dozen, the ``fake_above`` band is about the highest real
score).
"""

from __future__ import annotations

from typing import Any

import numpy as np

FAKE_QUANTILE, REAL_QUANTILE = 0.99, 0.80
#: with known fakes, ``real_below`` is at most this quantile of their scores (about 1 in 10 of them reads "real")
FAKE_MISS_QUANTILE = 0.10


def band_rule(data: str, fake_data: str | None = None) -> str:
    """The rule's text, naming the real calibration ``data`` (and the known fakes ``fake_data``) it was applied
    to."""
    text = (f"fake above the {round(FAKE_QUANTILE * 100)}th percentile and real below the "
            f"{round(REAL_QUANTILE * 100)}th percentile of the fake probabilities of real calibration photos ({data})")
    if fake_data:
        text += (f", real lowered where needed to the {round(FAKE_MISS_QUANTILE * 100)}th percentile of the fake "
                 f"probabilities of known fakes ({fake_data}), so that at most about "
                 f"{round(FAKE_MISS_QUANTILE * 100)} % of them read real")
    return text


def _scores(probs: Any, what: str) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if not p.size or not np.isfinite(p).all():
        raise ValueError(f"calibration needs {what} scores, all finite; got {p.size} scores")
    return p


def calibrate_bands(real_probs: Any, data: str, fake_probs: Any = None, fake_data: str | None = None
                    ) -> dict[str, Any]:
    """Verdict bands from the fake probabilities of real calibration faces, and of known fakes when
    ``fake_probs`` is given (:func:`band_rule` of ``data`` and ``fake_data``): ``real_below``, ``fake_above``, the
    ``rule`` and the number of scores ``n_calibration`` (and ``n_calibration_fakes``)."""
    p = _scores(real_probs, "real")
    fake_above = float(np.quantile(p, FAKE_QUANTILE))
    real_below = min(float(np.quantile(p, REAL_QUANTILE)), fake_above)
    out: dict[str, Any] = {}
    if fake_probs is not None:
        if not fake_data:
            raise ValueError("known fakes need a name for the rule's text (fake_data)")
        f = _scores(fake_probs, "fake")
        real_below = min(real_below, float(np.quantile(f, FAKE_MISS_QUANTILE)))
        out["n_calibration_fakes"] = int(f.size)
    return {"real_below": round(real_below, 4), "fake_above": round(fake_above, 4),
            "rule": band_rule(data, fake_data if fake_probs is not None else None),
            "n_calibration": int(p.size), **out}
