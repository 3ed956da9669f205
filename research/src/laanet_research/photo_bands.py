"""Verdict bands calibrated on real photos and real face swaps: the selection photos, as they are and at a
quarter of their side, and the real faces and the swaps of the labelled list's select split, scored by the
Detector, then :func:`laanet_train.calibration.calibrate_bands` (the project's one band rule)."""

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


#: the real faces and the swaps of the labelled list the card's bands add to the calibration photos
CALIBRATION_SWAP_REALS = "and the real faces of the select split of deepfakes/index.csv"
CALIBRATION_SWAPS = "the face swaps of the select split of deepfakes/index.csv"


def photo_bands(real_probs: np.ndarray) -> dict[str, Any]:
    """The bands the calibration photos' scores give (:data:`CALIBRATION_PHOTOS` named in the rule)."""
    return calibrate_bands(real_probs, CALIBRATION_PHOTOS)


def photo_and_swap_bands(photo_probs: np.ndarray, swap_reals: np.ndarray, swaps: np.ndarray) -> dict[str, Any]:
    """The card's bands: the calibration photos' scores with the select split's real faces as the reals, the
    select split's swaps as the known fakes."""
    reals = np.r_[np.asarray(photo_probs, np.float64), np.asarray(swap_reals, np.float64)]
    return calibrate_bands(reals, f"{CALIBRATION_PHOTOS}, {CALIBRATION_SWAP_REALS}", swaps, CALIBRATION_SWAPS)
