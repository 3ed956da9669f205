"""On-disk cache of face crops (per crop recipe and frame setting) and of face logits (per weights).

Entries are files named by a hash of their key, written atomically, so an interrupted run keeps every entry it
finished and a rerun continues from there.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from laanet_synth.atomic import write_json, write_npz

from .datasets.base import MediaItem


def digest(obj: Any, n: int = 16) -> str:
    """A short stable hash of a JSON-serialisable object (or a string)."""
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def item_fingerprint(item: MediaItem) -> str:
    """Identifies an item's content cheaply: its key, label, and each file's size and modification time."""
    stats = []
    for p in item.paths:
        st = p.stat()
        stats.append([p.name, st.st_size, st.st_mtime_ns])
    return digest([item.key, item.label, item.kind, item.pre_cropped, stats], n=32)


@dataclass(frozen=True)
class CropEntry:
    """Face crops of one item: ``crops`` (N,H,W,3) uint8, ``frame_of_face`` (N,), ``boxes`` (N,4),
    ``frame_indices`` (F,) the frames read, in order, and ``whole`` (N,) which crops are a whole frame with no
    judged face (the ``"whole_image"`` no-face rule)."""

    crops: np.ndarray
    frame_of_face: np.ndarray
    boxes: np.ndarray
    frame_indices: np.ndarray
    whole: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


@dataclass(frozen=True)
class ScoreEntry:
    """Face logits of one item for one set of weights: ``logits`` (N,), ``frame_of_face`` (N,),
    ``areas`` (N,) box areas in pixels, ``frame_indices`` (F,), ``whole`` (N,) which logits are of a whole frame
    with no judged face (see :class:`CropEntry`)."""

    logits: np.ndarray
    frame_of_face: np.ndarray
    areas: np.ndarray
    frame_indices: np.ndarray
    whole: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def to_json(self) -> dict[str, list]:
        return {"logits": [float(x) for x in self.logits], "frame_of_face": [int(x) for x in self.frame_of_face],
                "areas": [float(x) for x in self.areas], "frame_indices": [int(x) for x in self.frame_indices],
                "whole": [bool(x) for x in self.whole]}

    @classmethod
    def from_json(cls, obj: dict[str, list]) -> ScoreEntry:
        return cls(logits=np.asarray(obj["logits"], dtype=np.float64),
                   frame_of_face=np.asarray(obj["frame_of_face"], dtype=np.int64),
                   areas=np.asarray(obj["areas"], dtype=np.float64),
                   frame_indices=np.asarray(obj["frame_indices"], dtype=np.int64),
                   whole=np.asarray(obj.get("whole", [False] * len(obj["logits"])), dtype=bool))


class CacheWriteError(RuntimeError):
    """An entry could not be written (full disk, read-only folder): the run stops, since scoring on without a
    cache would look like unreadable inputs and publish metrics on the rest."""


def _written(path: Path, write: Any) -> None:
    try:
        write()
    except OSError as exc:
        raise CacheWriteError(f"cannot write the cache at {path} ({exc.strerror or exc}); free some space or "
                              "pass --cache with a writable folder, then rerun to resume") from exc


class EvalCache:
    """Crops under ``root/crops/<crop_tag>/`` and scores under ``root/scores/<score_tag>/``.

    With ``keep_crops=False`` crops (most of the cache's size) are not written; scores always are.
    """

    def __init__(self, root: Path, keep_crops: bool = True) -> None:
        self.root = Path(root)
        self.keep_crops = keep_crops

    @staticmethod
    def _name(fingerprint: str) -> Path:
        return Path(fingerprint[:2]) / fingerprint

    def crop_path(self, crop_tag: str, fingerprint: str) -> Path:
        return self.root / "crops" / crop_tag / self._name(fingerprint).with_suffix(".npz")

    def score_path(self, score_tag: str, fingerprint: str) -> Path:
        return self.root / "scores" / score_tag / self._name(fingerprint).with_suffix(".json")

    def load_crops(self, crop_tag: str, fingerprint: str) -> CropEntry | None:
        path = self.crop_path(crop_tag, fingerprint)
        if not path.is_file():
            return None
        try:
            with np.load(path) as z:
                whole = z["whole"] if "whole" in z.files else np.zeros(len(z["frame_of_face"]), bool)
                return CropEntry(crops=z["crops"], frame_of_face=z["frame_of_face"], boxes=z["boxes"],
                                 frame_indices=z["frame_indices"], whole=whole)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None

    def save_crops(self, crop_tag: str, fingerprint: str, entry: CropEntry) -> None:
        if not self.keep_crops:
            return
        path = self.crop_path(crop_tag, fingerprint)
        _written(path, lambda: write_npz(path, crops=entry.crops, frame_of_face=entry.frame_of_face,
                                         boxes=entry.boxes, frame_indices=entry.frame_indices, whole=entry.whole))

    def load_scores(self, score_tag: str, fingerprint: str) -> ScoreEntry | None:
        path = self.score_path(score_tag, fingerprint)
        if not path.is_file():
            return None
        try:
            return ScoreEntry.from_json(json.loads(path.read_text()))
        except (OSError, KeyError, ValueError):
            return None

    def save_scores(self, score_tag: str, fingerprint: str, entry: ScoreEntry) -> None:
        path = self.score_path(score_tag, fingerprint)
        _written(path, lambda: write_json(path, entry.to_json()))
