""":class:`PhotoScorer`: renderings scored through a Detector with their faces found once per rendering key
(:class:`laanet_synth.face_cache.FaceCache`, the workspace's one face cache, re-exported here), so that scoring
several checkpoints costs one face search per rendering."""

from __future__ import annotations

from typing import Any

import numpy as np
from laanet_synth.face_cache import FaceCache

__all__ = ["FaceCache", "PhotoScorer"]


class PhotoScorer:
    """Per-rendering predictions through one Detector (its stages, flip test and frame rule), faces cached."""

    def __init__(self, detector: Any, cache: FaceCache) -> None:
        self.detector, self.cache = detector, cache

    def predict(self, key: str, image: np.ndarray) -> Any:
        return self.detector.predict_image(image, faces=self.cache.faces(key, image, self.detector))

    def face_logits(self, key: str, image: np.ndarray) -> list[float]:
        return [f.logit for f in self.predict(key, image).faces]

    def frame_logit(self, key: str, image: np.ndarray) -> float | None:
        """The frame logit by the recipe's ``frame_policy``; ``None`` without a judged face."""
        return self.predict(key, image).frame_logit()
