"""Faces found per image, kept so that an image is searched once: in memory, and in a JSON file when given one.

The faces an image holds do not depend on the network, so a caller that scores the same images again (folder
evaluation at every validation, calibration and selection over many checkpoints) finds them once. Entries are
keyed by a caller's name for the image (its path, or a name for one rendering of it) under one face-finder
name; the file is written whole and atomically by :meth:`FaceCache.save`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .faces import Face

__all__ = ["FaceCache", "FindsFaces", "file_key"]


class FindsFaces(Protocol):
    """What the cache asks of a face finder: ``laanet_model.Detector`` (its recipe's finder) has it."""

    def find_faces(self, image_rgb: np.ndarray) -> list[Face]: ...


def file_key(path: str | os.PathLike[str]) -> str:
    """A cache key for the image file at ``path`` that changes when its bytes do: ``<path>#<sha256 prefix>``
    (a file edited or replaced under the same name is searched again)."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return f"{path}#{digest}"


def _to_json(face: Face) -> dict[str, Any]:
    return {"box": np.asarray(face.box).tolist(), "score": float(face.score),
            "landmarks": np.asarray(face.landmarks).tolist(), "box_convention": face.box_convention}


def _from_json(d: dict[str, Any]) -> Face:
    return Face(box=np.array(d["box"]), score=d["score"], landmarks=np.array(d["landmarks"]),
                box_convention=d["box_convention"])


@dataclass
class FaceCache:
    """Faces found per image key for one face finder (``finder_name``), kept in memory and, when ``folder`` is
    given, in ``folder/faces-<finder_name>.json`` (read on creation, written by :meth:`save`).

    ``faces(key, image, finder)`` returns the faces of ``image``, asking ``finder.find_faces`` only the first
    time ``key`` is seen. Each face keeps its box convention, which decides its crop; entries written without
    one are dropped on reading.
    """

    folder: Path | None
    finder_name: str
    _mem: dict[str, list[dict[str, Any]]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.path is not None and self.path.is_file():
            self._mem = {key: entry for key, entry in json.loads(self.path.read_text()).items()
                         if all("box_convention" in d for d in entry)}

    @property
    def path(self) -> Path | None:
        """The JSON file behind the cache, ``None`` for one kept in memory only."""
        return None if self.folder is None else Path(self.folder) / f"faces-{self.finder_name}.json"

    def __contains__(self, key: object) -> bool:
        return str(key) in self._mem

    def __len__(self) -> int:
        return len(self._mem)

    def faces(self, key: str | Path, image: np.ndarray, finder: FindsFaces) -> list[Face]:
        """The faces of ``image`` (named ``key``), found by ``finder`` on the first call for ``key``."""
        return self._faces(str(key), lambda: image, finder)

    def file_faces(self, path: str | os.PathLike[str], finder: FindsFaces) -> list[Face]:
        """The faces of the image file at ``path``, keyed by :func:`file_key` (its path and bytes): the file is
        decoded and searched only when that key is not cached yet."""
        from .imageio import read_image

        return self._faces(file_key(path), lambda: read_image(path), finder)

    def _faces(self, key: str, image: Callable[[], np.ndarray], finder: FindsFaces) -> list[Face]:
        entry = self._mem.get(key)
        if entry is None:
            entry = self._mem[key] = [_to_json(f) for f in finder.find_faces(image())]
        return [_from_json(d) for d in entry]

    def save(self) -> None:
        """Write the cache to its file (atomically); nothing for a cache kept in memory only."""
        if self.path is None:
            return
        from .atomic import write_text

        write_text(self.path, json.dumps(self._mem))
