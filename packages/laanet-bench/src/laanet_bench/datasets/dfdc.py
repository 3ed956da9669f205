"""DFDC-Preview (the paper's "DFDC" column, ``dataset.json``) and the full DFDC test set (``labels.csv``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .base import DatasetLayoutError, LoadOptions, MediaItem, require_file


def load_dfdcp(root: Path, options: LoadOptions) -> list[MediaItem]:
    """Entries of ``dataset.json`` whose ``set`` is the split; ``label`` is ``real`` or ``fake``."""
    path = require_file(root / "dataset.json", "the DFDC-Preview index dataset.json")
    try:
        index = json.loads(path.read_text())
    except ValueError as exc:
        raise DatasetLayoutError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(index, dict):
        raise DatasetLayoutError(f"{path} should map video paths to {{'label', 'set'}} entries")
    items = []
    for rel, entry in sorted(index.items()):
        if not isinstance(entry, dict) or entry.get("set") != options.split:
            continue
        label = str(entry.get("label", "")).lower()
        if label not in ("real", "fake"):
            raise DatasetLayoutError(f"{path}: entry {rel!r} has label {entry.get('label')!r}, expected real/fake")
        subset = rel.split("/")[0]
        items.append(MediaItem(key=str(Path(rel).with_suffix("")), label=int(label == "fake"), kind="video",
                               paths=(root / rel,), subset=subset))
    if not items:
        raise DatasetLayoutError(f"{path} has no entries with set == {options.split!r}")
    return items


def load_dfdc(root: Path, options: LoadOptions) -> list[MediaItem]:
    """The public DFDC test set: ``test/labels.csv`` (``filename,label``, 1 = fake), videos beside it
    or in ``test/videos/``. ``root`` may be the dataset folder or its ``test`` folder."""
    if options.split != "test":
        raise DatasetLayoutError("the DFDC adapter reads the public test set only; use --split test")
    base = root / "test" if (root / "test" / "labels.csv").is_file() else root
    labels = require_file(base / "labels.csv", "the DFDC test labels labels.csv (under <root>/test/)")
    items = []
    with labels.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"filename", "label"} <= set(reader.fieldnames):
            raise DatasetLayoutError(f"{labels} must have a header 'filename,label', got {reader.fieldnames}")
        for row in reader:
            name = row["filename"].strip()
            try:
                label = int(float(row["label"]))
            except ValueError as exc:
                raise DatasetLayoutError(f"{labels}: label of {name!r} is {row['label']!r}, expected 0/1") from exc
            path = base / "videos" / name if (base / "videos").is_dir() else base / name
            items.append(MediaItem(key=Path(name).stem, label=label, kind="video", paths=(path,),
                                   subset="fake" if label else "real"))
    if not items:
        raise DatasetLayoutError(f"{labels} lists no videos")
    return items
