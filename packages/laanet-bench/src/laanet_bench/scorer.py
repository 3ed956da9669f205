"""What the pipeline needs from a model: the :class:`laanet_model.Detector` stages, and what identifies them.

The harness never re-implements a stage: :class:`DetectorScorer` hands each call to the detector's
``find_faces_batch``, ``crop_faces``, ``predict_crops`` (normalise + network with the flip test) and
``aggregate``, and adds the names and hashes the cache keys are made of. The pipeline takes the scorer as a
parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from laanet_synth.crops import CropRecipe
from laanet_synth.faces import Face


@runtime_checkable
class FaceScorer(Protocol):
    """A model as the harness sees it."""

    weights_name: str
    weights_sha256: str
    precision: str
    recipe: CropRecipe
    finder_tag: str
    preprocessing: Any
    """The weights' whole recipe (``laanet_model.weights.Preprocessing``): the settings a run leaves unset."""

    def find_faces_batch(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces in each RGB uint8 frame (frames of one size detected together where the finder can)."""

    def crop_faces(self, image_rgb: np.ndarray, faces: list[Face], pre_cropped: bool = False) -> Any:
        """The faces cut by the recipe (``laanet_model.detector.FaceCrops``)."""

    def crop_logits(self, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        """Logits (N,) for crops (N, S, S, 3) uint8 at ``recipe.input_size``; with ``flip`` each logit is
        the mean of the crop's and its mirror's."""

    def frame_logit(self, face_logits: np.ndarray, areas: np.ndarray, policy: str) -> float:
        """One frame's logit from its faces' logits."""

    def video_prob(self, frame_logits: np.ndarray) -> float:
        """A video's fake probability from its frame logits."""

    def clip_prob(self, frame_logits: Sequence[float | None], no_face_logits: Sequence[float | None]) -> float | None:
        """A video's fake probability: its frames with a judged face, else what the no-face rule gave each frame
        (``None``: no score)."""

    def whole_image_crop(self, image_rgb: np.ndarray) -> np.ndarray:
        """The whole frame at the recipe's input size (the ``"whole_image"`` no-face rule's crop)."""


def crop_tag_data(scorer: FaceScorer) -> dict[str, Any]:
    """What the crops depend on besides the frames: the recipe and the face finder."""
    return {"recipe": asdict(scorer.recipe), "finder": scorer.finder_tag}


class ScorerError(RuntimeError):
    """The weights cannot be loaded as a scorer."""


class DetectorScorer:
    """A :class:`laanet_model.Detector` as a :class:`FaceScorer`: its face finder, its crop recipe and the
    logits of ``predict_crops``. The harness chooses (and records) the test-time augmentation, which the
    detector applies through ``predict_crops(..., flip_test=...)``; ``recipe_tta`` is what the weights'
    recipe asks for."""

    def __init__(self, detector: Any, weights_name: str, weights_sha256: str) -> None:
        pre = detector.preprocessing
        self.preprocessing = pre
        self.recipe_tta = "flip" if pre.flip_test else "none"
        self.detector = detector
        self.weights_name = weights_name
        self.weights_sha256 = weights_sha256
        self.precision = "float64" if detector.official_float64 else str(detector.dtype).removeprefix("torch.")
        self.recipe: CropRecipe = pre.crop
        self.face_finder = self.detector.face_finder
        self.finder_tag = repr(self.face_finder)

    def find_faces_batch(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        return self.detector.find_faces_batch(images)

    def crop_faces(self, image_rgb: np.ndarray, faces: list[Face], pre_cropped: bool = False) -> Any:
        return self.detector.crop_faces(image_rgb, faces, pre_cropped=pre_cropped)

    def crop_logits(self, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        preds = self.detector.predict_crops(crops, flip_test=flip)
        return np.asarray([p.logit for p in preds], dtype=np.float64)

    def frame_logit(self, face_logits: np.ndarray, areas: np.ndarray, policy: str) -> float:
        value = self.detector.aggregate([float(x) for x in face_logits], [float(a) for a in areas], policy)
        if value is None:
            raise ValueError("a frame logit needs at least one face")
        return float(value)

    def video_prob(self, frame_logits: np.ndarray) -> float:
        return float(self.detector.aggregate_video([float(x) for x in frame_logits]))

    def clip_prob(self, frame_logits: Sequence[float | None], no_face_logits: Sequence[float | None]) -> float | None:
        prob = self.detector.aggregate_clip(list(frame_logits), list(no_face_logits))
        return None if prob is None else float(prob)

    def whole_image_crop(self, image_rgb: np.ndarray) -> np.ndarray:
        return self.detector.whole_image_crop(image_rgb)


def load_scorer(weights: str | Path, device: str | None = None, official_float64: bool = False,
                batch_size: int = 8) -> DetectorScorer:
    """Load registered weights (by name) or a checkpoint file (by path) through ``laanet_model.Detector``
    (on ``device``, in float64 like the official evaluation with ``official_float64``); the sha256 recorded
    is that of the weights file."""
    from laanet_model import CheckpointError, Detector

    try:
        detector = Detector.from_weights(weights, device=device, official_float64=official_float64,
                                         batch_size=batch_size)
    except (CheckpointError, FileNotFoundError, KeyError, ValueError, RuntimeError) as exc:
        raise ScorerError(f"cannot load weights {str(weights)!r}: {exc}") from exc
    assert detector.weights is not None  # from_weights records the file and its hash
    return DetectorScorer(detector, detector.weights.name, detector.weights.sha256)
