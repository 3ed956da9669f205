"""Frame-level evaluation of a :class:`~laanet_model.detector.Detector` on a folder of labelled images.

The folder holds ``real/`` and ``fake/`` images. Each image goes through ``Detector.predict_image`` (face
finder, the weights' crop recipe, flip test); a frame's logit is the most fake face (``frame_policy``).
When no face is found, the whole image is warped to the input size and scored as one face, so every
image gets a score and the metric covers the whole folder.
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


def score_folder(detector: Any, folder: str | Path, progress: bool = False) -> FolderScores:
    """Score every image of ``folder/real`` and ``folder/fake`` with ``detector`` (see module docstring)."""
    from laanet_synth.crops import warp_to_size
    from laanet_synth.imageio import read_image

    items = LabelledImages.from_folder(folder)
    policy = getattr(detector.preprocessing, "frame_policy", "max")
    logits, found = [], []
    for path in tqdm(items.paths, desc=f"scoring {Path(folder).name}", disable=not progress):
        image = read_image(path)
        pred = detector.predict_image(image)
        logit = pred.frame_logit(policy)
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


def evaluate_folder(detector: Any, folder: str | Path, progress: bool = False) -> dict[str, Any]:
    """:func:`score_folder` then :meth:`FolderScores.metrics`."""
    return score_folder(detector, folder, progress).metrics()
