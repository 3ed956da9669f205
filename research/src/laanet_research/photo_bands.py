"""Verdict bands calibrated on real photos: the selection photos, as they are and at a quarter of their side,
scored by the Detector, then :func:`laanet_train.calibration.calibrate_bands` (the project's one band rule)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from laanet_model.scoring import sigmoid
from laanet_train.calibration import calibrate_bands

from .renderings import Rendering

#: the real photos the bands are calibrated on (as the card's ``thresholds_rule`` names them)
CALIBRATION_PHOTOS = ("the selection halves of faces/portraits and faces/realworld, each photo as it is and shrunk "
                      "to a quarter")


def calibration_scores(scorer: Any, renderings: Sequence[Rendering]) -> np.ndarray:
    """Fake probabilities of the calibration renderings (``scorer.frame_logit`` of each); a rendering with no
    judged face adds no score."""
    logits = [scorer.frame_logit(key, image) for key, image in renderings]
    return sigmoid(np.asarray([v for v in logits if v is not None], dtype=np.float64))


def photo_bands(real_probs: np.ndarray) -> dict[str, Any]:
    """The bands the calibration photos' scores give (:data:`CALIBRATION_PHOTOS` named in the rule)."""
    return calibrate_bands(real_probs, CALIBRATION_PHOTOS)
