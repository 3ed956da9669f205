"""Frame-level evaluation of a :class:`~laanet_model.detector.Detector` on a folder of labelled images.

The folder holds ``real/`` and ``fake/`` images. Each image goes through the detector's stages
(``find_faces``, then ``predict_image``: crop, normalise, network with the flip test); a frame's logit is
``Detector.aggregate`` over all its faces (the recipe's ``frame_policy``). An image with no judged face gets
the recipe's ``no_face`` rule (``ImagePrediction.score_logit``): under ``"whole_image"`` (the built-in
weights' rule, the protocol cards record as ``laanet_model.weights.FOLDER_PROTOCOL``) the whole image is
warped to the input size and scored as one face, so every image gets a score; under ``"no_score"`` the image
is left out of the metrics and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from laanet_bench.metrics import accuracy, auc, average_precision
from laanet_model.scoring import sigmoid
from laanet_synth.face_cache import FaceCache
from tqdm.auto import tqdm

from .data import LabelledImages


@dataclass(frozen=True)
class FolderScores:
    """Per-image results: ``paths``, ``labels`` (1 fake), ``logits`` (NaN for an image the recipe's no-face
    rule gives no score), and whether a face was found."""

    paths: tuple[Path, ...]
    labels: np.ndarray
    logits: np.ndarray
    face_found: np.ndarray

    @property
    def probs(self) -> np.ndarray:
        return sigmoid(self.logits)

    @property
    def scored(self) -> np.ndarray:
        """Which images have a score (a judged face, or a no-face rule that gives one)."""
        return ~np.isnan(self.logits)

    def metrics(self) -> dict[str, Any]:
        """AUC, AP, accuracy at 0.5 over the scored images, and the counts."""
        keep = self.scored
        y, p = self.labels[keep], self.probs[keep]
        return {
            "auc": auc(y, p),
            "ap": average_precision(y, p),
            "acc_at_0.5": accuracy(y, p),
            "n_real": int((y == 0).sum()),
            "n_fake": int((y == 1).sum()),
            "no_face_found": int((~self.face_found).sum()),
            "not_scored": int((~keep).sum()),
        }


def score_folder(detector: Any, folder: str | Path, progress: bool = False,
                 faces: FaceCache | None = None) -> FolderScores:
    """Score every image of ``folder/real`` and ``folder/fake`` with ``detector`` (see module docstring).

    ``faces``, when given, caches the faces found per image path (:class:`laanet_synth.face_cache.FaceCache`):
    faces do not depend on the network, so repeated validations find them once."""
    from laanet_synth.imageio import read_image

    items = LabelledImages.from_folder(folder)
    cache = FaceCache(None, detector.preprocessing.face_detector) if faces is None else faces
    logits, found = [], []
    for path in tqdm(items.paths, desc=f"scoring {Path(folder).name}", disable=not progress):
        image = read_image(path)
        pred = detector.predict_image(image, faces=cache.faces(path, image, detector))
        logit = pred.score_logit()
        found.append(bool(pred.faces))
        logits.append(np.nan if logit is None else float(logit))
    return FolderScores(
        paths=items.paths,
        labels=np.asarray(items.labels, dtype=np.int64),
        logits=np.asarray(logits, dtype=np.float64),
        face_found=np.asarray(found, dtype=bool),
    )
