"""Frames of an evaluation unit: evenly spaced frames of a video (decoding only those), or of a folder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from laanet_synth.imageio import read_image
from laanet_synth.video import (
    DEFAULT_MAX_VIDEO_PIXELS,
    VideoTooLargeError,
    read_frames,
    sample_frame_indices,
    video_info,
)

from .datasets.base import MediaItem

DEFAULT_FPS = 25.0


@dataclass(frozen=True, eq=False)
class ItemFrames:
    """The sampled frames of one item: ``indices`` into the video or image list, RGB uint8 ``images``."""

    indices: np.ndarray
    images: list[np.ndarray]
    fps: float


def load_frames(item: MediaItem, n_frames: int, max_pixels: int | None = DEFAULT_MAX_VIDEO_PIXELS) -> ItemFrames:
    """``n_frames`` evenly spaced frames (all of them when there are fewer), holding at most ``max_pixels``
    (frames x width x height) for a video or a folder of frames: :class:`VideoTooLargeError` beyond."""
    if item.kind == "video":
        path = item.paths[0]
        pairs = read_frames(path, n_frames, max_pixels=max_pixels)
        fps = video_info(path).fps or DEFAULT_FPS
        return ItemFrames(np.array([i for i, _ in pairs], dtype=np.int64), [f for _, f in pairs], fps)
    idx = sample_frame_indices(len(item.paths), n_frames)
    images: list[np.ndarray] = []
    held = 0
    for i in idx:
        image = read_image(item.paths[int(i)])
        held += image.shape[0] * image.shape[1]
        if max_pixels is not None and held > max_pixels:
            raise VideoTooLargeError(f"{item.key}: {len(images) + 1} of its {len(idx)} frames hold {held:,} pixels, "
                                     f"over the budget of {max_pixels:,} pixels per video; sample fewer frames")
        images.append(image)
    return ItemFrames(idx.astype(np.int64), images, DEFAULT_FPS)
