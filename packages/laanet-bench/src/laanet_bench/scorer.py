"""What the pipeline needs from a model: find faces, crop them with the weights' recipe, score crops.

Production scoring goes through :class:`laanet_model.Detector` via :class:`DetectorScorer`; any object with the
same attributes works (the pipeline takes the scorer as a parameter).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from laanet_model.checkpoints import file_sha256
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

    def find_faces(self, image_rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 frame."""

    def crop_logits(self, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        """Logits (N,) for crops (N, S, S, 3) uint8 at ``recipe.input_size``; with ``flip`` each logit is
        the mean of the crop's and its mirror's."""


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
        self.recipe_tta = "flip" if pre.flip_test else "none"
        self.detector = detector
        self.weights_name = weights_name
        self.weights_sha256 = weights_sha256
        self.precision = "float64" if detector.official_float64 else str(detector.dtype).removeprefix("torch.")
        self.recipe: CropRecipe = pre.crop
        self.face_finder = self.detector.face_finder
        self.finder_tag = repr(self.face_finder)

    def find_faces(self, image_rgb: np.ndarray) -> list[Face]:
        return list(self.face_finder.find(image_rgb))

    def crop_logits(self, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        preds = self.detector.predict_crops(crops, flip_test=flip)
        return np.asarray([p.logit for p in preds], dtype=np.float64)


def load_scorer(weights: str | Path, device: str | None = None, official_float64: bool = False,
                batch_size: int = 8) -> DetectorScorer:
    """Load registered weights (by name) or a checkpoint file (by path) through ``laanet_model.Detector``
    (on ``device``, in float64 like the official evaluation with ``official_float64``); the sha256 recorded
    is that of the weights file."""
    from laanet_model import CheckpointError, Detector
    from laanet_model.weights import WEIGHTS, resolve_weights_file

    try:
        detector = Detector.from_weights(weights, device=device, official_float64=official_float64,
                                         batch_size=batch_size)
        path = Path(weights)
        if not path.is_file():
            spec = WEIGHTS[str(weights)]
            path = resolve_weights_file(spec)
            name = str(weights)
        else:
            name = path.name
    except (CheckpointError, FileNotFoundError, KeyError, ValueError, RuntimeError) as exc:
        raise ScorerError(f"cannot load weights {str(weights)!r}: {exc}") from exc
    return DetectorScorer(detector, name, file_sha256(path))
