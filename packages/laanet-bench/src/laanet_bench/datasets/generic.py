"""The generic adapter: a CSV of ``path,label[,group]`` rows pointing at videos, images or frame folders."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from laanet_synth.media import is_image, is_video

from .base import DatasetLayoutError, LoadOptions, MediaItem, check_missing, list_images

LABEL_WORDS = {"0": 0, "1": 1, "real": 0, "fake": 1, "pristine": 0, "original": 0}


def parse_label(value: str, where: str) -> int:
    label = LABEL_WORDS.get(value.strip().lower())
    if label is None:
        raise DatasetLayoutError(f"{where}: label {value!r} is not one of 0/1/real/fake")
    return label


def read_rows(csv_path: Path) -> list[tuple[str, int, str]]:
    """``(path, label, group)`` rows; a header line ``path,label[,group]`` is optional."""
    if not csv_path.is_file():
        raise DatasetLayoutError(f"expected a CSV file of 'path,label[,group]' rows at {csv_path} (file not found)")
    rows = []
    with csv_path.open(newline="") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if n == 1 and row[0].strip().lower() == "path":
                continue
            if len(row) not in (2, 3):
                raise DatasetLayoutError(f"{csv_path}:{n}: expected 'path,label[,group]', got {row!r}")
            group = row[2].strip() if len(row) == 3 else ""
            rows.append((row[0].strip(), parse_label(row[1], f"{csv_path}:{n}"), group))
    if not rows:
        raise DatasetLayoutError(f"{csv_path} has no 'path,label[,group]' rows")
    return rows


def load_csv(csv_path: Path, options: LoadOptions) -> list[MediaItem]:
    """Videos and frame folders are one unit each; images sharing a ``group`` form one unit (a "video"),
    images without a group are units of their own. Relative paths are resolved against the CSV's folder."""
    base = csv_path.parent
    items: list[MediaItem] = []
    groups: dict[str, list[tuple[Path, int]]] = defaultdict(list)
    for rel, label, group in read_rows(csv_path):
        path = Path(rel) if Path(rel).is_absolute() else base / rel
        if path.is_dir():
            images = list_images(path)
            if not images:
                raise DatasetLayoutError(f"{csv_path}: folder {rel!r} holds no images")
            items.append(MediaItem(key=rel, label=label, kind="frames", paths=images, subset=group))
        elif is_video(path):
            items.append(MediaItem(key=rel, label=label, kind="video", paths=(path,), subset=group))
        elif is_image(path):
            if group:
                groups[group].append((path, label))
            else:
                items.append(MediaItem(key=rel, label=label, kind="frames", paths=(path,)))
        else:
            raise DatasetLayoutError(f"{csv_path}: {rel!r} is neither a video, an image nor a folder of images")
    for group, members in sorted(groups.items()):
        labels = {lab for _, lab in members}
        if len(labels) != 1:
            raise DatasetLayoutError(f"{csv_path}: group {group!r} mixes real and fake rows")
        items.append(MediaItem(key=f"group/{group}", label=labels.pop(), kind="frames",
                               paths=tuple(sorted(p for p, _ in members)), subset=group))
    keys = [it.key for it in items]
    if len(set(keys)) != len(keys):
        raise DatasetLayoutError(f"{csv_path}: some paths are listed twice")
    return check_missing(items, options, f"CSV {csv_path.name}")
