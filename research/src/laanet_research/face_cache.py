"""Faces found per rendering key, kept as JSON for one face finder, so that scoring several checkpoints costs one
face search per rendering; and :class:`PhotoScorer`, which scores renderings through a Detector with them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class FaceCache:
    """Faces found per (image key), stored as JSON under ``folder`` for one face-finder name."""

    folder: Path | None
    finder_name: str

    def __post_init__(self) -> None:
        self._mem: dict[str, list[dict[str, Any]]] = {}
        if self.path is not None and self.path.is_file():
            # entries written without their box convention are dropped: the convention decides the crop
            self._mem = {key: entry for key, entry in json.loads(self.path.read_text()).items()
                         if all("box_convention" in d for d in entry)}

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else Path(self.folder) / f"faces-{self.finder_name}.json"

    def faces(self, key: str, image: np.ndarray, detector: Any) -> list[Any]:
        """The faces of ``image`` (keyed ``key``), found by ``detector.find_faces`` unless already known."""
        from laanet_synth.faces import Face

        entry = self._mem.get(key)
        if entry is None:
            entry = self._mem[key] = [
                {"box": f.box.tolist(), "score": float(f.score), "landmarks": f.landmarks.tolist(),
                 "box_convention": f.box_convention}
                for f in detector.find_faces(image)
            ]
        # the box convention decides the crop (a RetinaFace box is used as it is), so it travels with the face
        return [Face(box=np.array(d["box"]), score=d["score"], landmarks=np.array(d["landmarks"]),
                     box_convention=d["box_convention"]) for d in entry]

    def save(self) -> None:
        """Write the cache atomically (nothing without a folder)."""
        if self.path is None:
            return
        from laanet_synth.atomic import write_text

        write_text(self.path, json.dumps(self._mem))


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
