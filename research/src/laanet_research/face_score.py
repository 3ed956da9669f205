"""The lowest face-finder confidence that is judged (``Preprocessing.min_face_score``), chosen on the selection
photos by :data:`FACE_SCORE_RULE`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .face_cache import FaceCache
from .renderings import Rendering

FACE_SCORE_RULE = (
    "the largest multiple of 0.05 at or below the least confident of the most confident detections wide enough "
    "to judge (min_face_size) in each rendering of the selection photos (the selection halves of faces/portraits "
    "and faces/realworld, as they are, at a quarter and at 240p, 480p, 720p and 1080p): every selection photo "
    "keeps its surest face"
)
FACE_SCORE_STEP = 0.05


def face_score_floor(top_scores: Sequence[float], step: float = FACE_SCORE_STEP) -> float:
    """:data:`FACE_SCORE_RULE`: the largest multiple of ``step`` at or below the smallest of ``top_scores`` (each
    rendering's most confident detection)."""
    scores = np.asarray(top_scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("no detections to choose a face-score floor from")
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    # a hair of slack so that a minimum sitting exactly on a multiple of step is not floored one step lower
    return round(float(np.floor(scores.min() / step + 1e-9) * step), 6)


def top_face_scores(detector: Any, renderings: Sequence[Rendering], cache: FaceCache,
                    min_face_size: int = 0) -> np.ndarray:
    """Each rendering's most confident detection by ``detector``'s face finder among those at least
    ``min_face_size`` pixels wide (renderings without such a face add nothing)."""
    tops = []
    for key, image in renderings:
        scores = [f.score for f in cache.faces(key, image, detector) if f.box[2] - f.box[0] >= min_face_size]
        if scores:
            tops.append(max(scores))
    return np.asarray(tops, dtype=np.float64)


@dataclass(frozen=True)
class FinderOnly:
    """A face finder in the shape :class:`FaceCache` calls (``find_faces``), without a network."""

    finder: Any

    def find_faces(self, image: np.ndarray) -> list[Any]:
        from laanet_synth.faces import find_faces_batch

        return find_faces_batch(self.finder, [image])[0]
