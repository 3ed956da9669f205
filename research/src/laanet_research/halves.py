"""The selection and reported halves of the shared photos, fixed by the SHA-1 of each file name.

``faces/portraits`` and ``faces/realworld`` are each split: the first half (by name hash) selects checkpoints and
calibrates the bands, the second is only ever reported. The split does not move when files are added. The groups
(three images) are not split: all their faces are reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from laanet_bench.datasets.base import list_images

#: the shared folders split into a selection-and-calibration half and a reported half
SPLIT_FOLDERS = ("portraits", "realworld")


def hash_halves(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(selection, reported): ``paths`` ordered by SHA-1 of their file name, the first half (rounded up) for
    selection and calibration."""
    ordered = sorted(paths, key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())
    k = (len(ordered) + 1) // 2
    return sorted(ordered[:k]), sorted(ordered[k:])


def split_folders(faces_dir: Path) -> dict[str, tuple[list[Path], list[Path]]]:
    """``{folder: (selection, reported)}`` for each of :data:`SPLIT_FOLDERS` under ``faces_dir``."""
    return {name: hash_halves(list(list_images(faces_dir / name))) for name in SPLIT_FOLDERS}


def selection_photos(faces_dir: Path) -> list[Path]:
    """The selection halves of :data:`SPLIT_FOLDERS` under ``faces_dir``, one list."""
    return [p for sel, _ in split_folders(faces_dir).values() for p in sel]
