"""Frame-level evaluation of a :class:`~laanet_model.detector.Detector` on a folder of labelled images.

The folder holds ``real/`` and ``fake/`` images. Each image goes through the detector's stages
(``find_faces``, then ``predict_image``: crop, normalise, network with the flip test); a frame's logit is
``Detector.aggregate`` over all its faces (the recipe's ``frame_policy``). When no face is found, the whole
image is warped to the input size and scored as one face, so every image gets a score and the metric
covers the whole folder (the protocol cards record as ``laanet_model.weights.FOLDER_PROTOCOL``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from laanet_bench.metrics import accuracy, auc, average_precision
from laanet_model.scoring import sigmoid
from tqdm.auto import tqdm

from .data import LabelledImages


@dataclass(frozen=True)
class FolderScores:
    """Per-image results: ``paths``, ``labels`` (1 fake), ``logits``, and whether a face was found."""

    paths: tuple[Path, ...]
    labels: np.ndarray
    logits: np.ndarray
    face_found: np.ndarray

    @property
    def probs(self) -> np.ndarray:
        return sigmoid(self.logits)

    def metrics(self) -> dict[str, Any]:
        """AUC, AP, accuracy at 0.5 and the counts."""
        y, p = self.labels, self.probs
        return {
            "auc": auc(y, p),
            "ap": average_precision(y, p),
            "acc_at_0.5": accuracy(y, p),
            "n_real": int((y == 0).sum()),
            "n_fake": int((y == 1).sum()),
            "no_face_found": int((~self.face_found).sum()),
        }


def score_folder(detector: Any, folder: str | Path, progress: bool = False,
                 faces: dict[Path, list[Any]] | None = None) -> FolderScores:
    """Score every image of ``folder/real`` and ``folder/fake`` with ``detector`` (see module docstring).

    ``faces``, when given, caches the faces found per image path: read from it when present, filled
    otherwise (faces do not depend on the network, so repeated validations find them once)."""
    from laanet_synth.crops import warp_to_size
    from laanet_synth.imageio import read_image

    items = LabelledImages.from_folder(folder)
    cache: dict[Path, list[Any]] = {} if faces is None else faces
    logits, found = [], []
    for path in tqdm(items.paths, desc=f"scoring {Path(folder).name}", disable=not progress):
        image = read_image(path)
        if path not in cache:
            cache[path] = detector.find_faces(image)
        pred = detector.predict_image(image, faces=cache[path])
        logit = detector.aggregate([f.logit for f in pred.faces], [f.area for f in pred.faces])
        if logit is None:
            whole = warp_to_size(image, detector.input_size)
            logit = detector.predict_crops([whole])[0].logit
            found.append(False)
        else:
            found.append(True)
        logits.append(float(logit))
    return FolderScores(
        paths=items.paths,
        labels=np.asarray(items.labels, dtype=np.int64),
        logits=np.asarray(logits, dtype=np.float64),
        face_found=np.asarray(found, dtype=bool),
    )

