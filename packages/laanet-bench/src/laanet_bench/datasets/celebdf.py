"""Celeb-DF v2 in its published layout with ``List_of_testing_videos.txt`` (1 means real)."""

from __future__ import annotations

from pathlib import Path

from .base import DatasetLayoutError, LoadOptions, MediaItem, require_file

CELEBDF_FOLDERS = ("Celeb-real", "Celeb-synthesis", "YouTube-real")


def read_test_list(path: Path) -> list[tuple[int, str]]:
    """Parse lines ``<1|0> <folder>/<video>.mp4`` into ``(label, relative path)`` with label 1 = fake."""
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise DatasetLayoutError(f"{path}:{n}: expected '<1 real|0 fake> <folder>/<video>.mp4', got {line!r}")
        rows.append((1 - int(parts[0]), parts[1]))
    if not rows:
        raise DatasetLayoutError(f"{path} lists no videos")
    return rows


def load_celebdf(root: Path, options: LoadOptions) -> list[MediaItem]:
    """The official Celeb-DF v2 test list (518 videos)."""
    if options.split != "test":
        raise DatasetLayoutError("Celeb-DF v2 publishes only a test list; use --split test")
    listing = require_file(root / "List_of_testing_videos.txt", "the Celeb-DF v2 test list")
    items = []
    for label, rel in read_test_list(listing):
        path = root / rel
        subset = rel.split("/")[0]
        items.append(MediaItem(key=str(Path(rel).with_suffix("")), label=label, kind="video", paths=(path,),
                               subset=subset))
    return items
