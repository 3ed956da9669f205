"""The media file types every front end accepts (one list of image and one of video file extensions), and how many
frames of a video the official evaluation samples."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "OFFICIAL_FRAMES_PER_VIDEO", "media_kind", "is_image", "is_video"]

#: evenly spaced frames per test video in the official LAA-Net (and SBI) evaluation; the weights' recipes state
#: their own count (``laanet_model.weights.Preprocessing.frames_per_video``), which every front end reads
OFFICIAL_FRAMES_PER_VIDEO = 32

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
)


def media_kind(path: str | os.PathLike[str]) -> Literal["image", "video"] | None:
    """``"image"`` or ``"video"`` from the file's extension (any case), ``None`` for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def is_image(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has an image extension."""
    return media_kind(path) == "image"


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has a video extension."""
    return media_kind(path) == "video"
