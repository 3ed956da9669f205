"""What the pipeline needs from a model: find faces, crop them with the weights' recipe, score crops.

Production scoring goes through :class:`laanet_model.Detector` via :class:`DetectorScorer`; any object with the
same attributes works (the pipeline takes the scorer as a parameter).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
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
    recipe: CropRecipe
    finder_tag: str

    def find_faces(self, image_rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 frame."""

    def crop_logits(self, crops: np.ndarray) -> np.ndarray:
        """Logits (N,) for crops (N, S, S, 3) uint8 at ``recipe.input_size``."""


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def whole_image_face(image: np.ndarray) -> Face:
    """A face covering the whole image, for pre-cropped face images."""
    h, w = image.shape[:2]
    return Face(box=np.array([0, 0, w, h], dtype=np.float32), score=1.0, landmarks=np.zeros((68, 2), np.float32))


def pre_cropped_recipe(recipe: CropRecipe) -> CropRecipe:
    """The recipe for images that already are face crops: the whole image stands for the margin crop
    (resized to ``crop_size``), then the recipe's own trim and warp apply, as the official frames loader does."""
    return replace(recipe, calibrate=False, margin=0.0, align_eyes=False)


def crop_tag_data(scorer: FaceScorer) -> dict[str, Any]:
    """What the crops depend on besides the frames: the recipe and the face finder."""
    return {"recipe": asdict(scorer.recipe), "finder": scorer.finder_tag}


class ScorerError(RuntimeError):
    """The weights cannot be loaded as a scorer."""


class DetectorScorer:
    """A :class:`laanet_model.Detector` as a :class:`FaceScorer`: its face finder, its crop recipe and its
    ``predict_crops`` logits."""

    def __init__(self, detector: Any, weights_name: str, weights_sha256: str) -> None:
        self.detector = detector
        self.weights_name = weights_name
        self.weights_sha256 = weights_sha256
        self.recipe: CropRecipe = detector.recipe
        self.face_finder = detector.face_finder
        self.finder_tag = repr(self.face_finder)

    def find_faces(self, image_rgb: np.ndarray) -> list[Face]:
        return list(self.face_finder.find(image_rgb))

    def crop_logits(self, crops: np.ndarray) -> np.ndarray:
        preds = self.detector.predict_crops(crops)
        return np.asarray([p.logit for p in preds], dtype=np.float64)


def load_scorer(weights: str) -> DetectorScorer:
    """Load registered weights (by name) or a checkpoint file (by path) through ``laanet_model.Detector``."""
    from laanet_model import Detector

    try:
        detector = Detector.from_weights(weights)
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as exc:
        raise ScorerError(f"cannot load weights {weights!r}: {exc}") from exc
    path = Path(weights)
    if path.is_file():
        return DetectorScorer(detector, path.name, file_sha256(path))
    sha = getattr(detector, "weights_sha256", None) or ""
    if not sha:
        raise ScorerError(f"weights {weights!r} carry no sha256; pass the checkpoint file path instead")
    return DetectorScorer(detector, weights, sha)
