"""Shared types for dataset adapters: evaluation units, load options and layout errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from laanet_synth.media import is_image

MediaKind = Literal["video", "frames"]


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder, list or file is missing or does not look like the published layout."""


@dataclass(frozen=True)
class MediaItem:
    """One evaluation unit ("video"): a video file, or an ordered sequence of frame images.

    ``key`` is unique within a dataset (a relative path such as ``Deepfakes/000_003``), so videos that share a
    basename in different folders are never merged. ``label`` is 1 for fake and 0 for real.
    """

    key: str
    label: int
    kind: MediaKind
    paths: tuple[Path, ...]
    subset: str = ""
    pre_cropped: bool = False

    def __post_init__(self) -> None:
        if self.label not in (0, 1):
            raise ValueError(f"label must be 0 (real) or 1 (fake), got {self.label!r} for {self.key}")
        if self.kind == "video" and len(self.paths) != 1:
            raise ValueError(f"a video item holds exactly one path, got {len(self.paths)} for {self.key}")
        if not self.paths:
            raise ValueError(f"item {self.key} has no files")


@dataclass(frozen=True)
class LoadOptions:
    """What part of a dataset to load."""

    split: str = "test"
    compression: str = "c23"
    methods: tuple[str, ...] = ()
    layout: Literal["published", "official-frames"] = "published"
    skip_missing: bool = False


Loader = Callable[[Path, LoadOptions], list[MediaItem]]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset adapter declared as data."""

    name: str
    title: str
    paper_column: str | None
    layout: str
    splits: tuple[str, ...]
    loader: Loader
    frame_types: dict[str, int] = field(default_factory=dict)


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a directory, else raise a :class:`DatasetLayoutError` naming what was expected."""
    if not path.is_dir():
        raise DatasetLayoutError(f"expected {what} at {path} (folder not found)")
    return path


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise a :class:`DatasetLayoutError` naming what was expected."""
    if not path.is_file():
        raise DatasetLayoutError(f"expected {what} at {path} (file not found)")
    return path


def list_images(folder: Path) -> tuple[Path, ...]:
    """Image files directly inside ``folder``, sorted by name."""
    return tuple(sorted(p for p in folder.iterdir() if p.is_file() and is_image(p)))


def frame_folders(root: Path) -> list[Path]:
    """Every folder under ``root`` (itself included) that directly holds image files, sorted."""
    found = [root] if list_images(root) else []
    found += sorted(p for p in root.rglob("*") if p.is_dir() and list_images(p))
    return found


def check_missing(items: Iterable[MediaItem], options: LoadOptions, dataset: str) -> list[MediaItem]:
    """Drop (with ``skip_missing``) or report items whose files do not exist."""
    items = list(items)
    missing = [it for it in items if not all(p.exists() for p in it.paths)]
    if missing and not options.skip_missing:
        shown = ", ".join(str(it.paths[0]) for it in missing[:3])
        raise DatasetLayoutError(
            f"{dataset}: {len(missing)} of {len(items)} listed files are missing (e.g. {shown}); "
            "check --root, or pass --skip-missing to evaluate the rest"
        )
    return [it for it in items if it not in missing]


def official_frames(root: Path, split: str, frame_types: dict[str, int], dataset: str,
                    pre_cropped: bool = False, methods: Sequence[str] = ()) -> list[MediaItem]:
    """The official LAA-Net frames layout: ``ROOT/<split>/frames/<TYPE>/<video>/*.png``."""
    base = require_dir(root / split / "frames", f"the official LAA-Net frames folder for {dataset}")
    wanted = {t: lab for t, lab in frame_types.items() if not methods or t in methods or lab == 0}
    items: list[MediaItem] = []
    present = [t for t in wanted if (base / t).is_dir()]
    if not present:
        raise DatasetLayoutError(
            f"expected {dataset} type folders {sorted(wanted)} under {base} (none found)"
        )
    for ftype in present:
        for video in sorted(p for p in (base / ftype).iterdir() if p.is_dir()):
            images = list_images(video)
            if images:
                items.append(MediaItem(key=f"{ftype}/{video.name}", label=wanted[ftype], kind="frames",
                                       paths=images, subset=ftype, pre_cropped=True))
    if not items:
        raise DatasetLayoutError(f"no frame folders with images found under {base}/<TYPE>/<video>/")
    return items
