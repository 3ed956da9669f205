"""Evenly spaced frame sampling from videos, decoding only the frames needed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class VideoReadError(ValueError):
    """Raised when a video cannot be opened or yields no frames."""


#: pixels (frames x width x height) that :func:`read_frames` holds for one video unless told otherwise: about
#: 1.5 GB of RGB frames (32 frames of 4K, 256 frames of 1080p); a caller passes its own ``max_pixels``
DEFAULT_MAX_VIDEO_PIXELS = 500_000_000


class VideoTooLargeError(VideoReadError):
    """The frames asked of a video hold more pixels (frames x width x height) than the budget allows. Raised
    before those frames are decoded, so that decoding never holds more than the budget."""


def check_pixel_budget(path: str | os.PathLike[str], n_frames: int, width: int, height: int,
                       max_pixels: int | None) -> int:
    """``n_frames x width x height``, or :class:`VideoTooLargeError` when that is over ``max_pixels``
    (``None``: no budget)."""
    total = int(n_frames) * int(width) * int(height)
    if max_pixels is not None and total > max_pixels:
        raise VideoTooLargeError(
            f"{path}: {n_frames} frame{'s' if n_frames != 1 else ''} of {width} x {height} pixels are "
            f"{total:,} pixels, over the budget of {max_pixels:,} pixels per video; sample fewer frames or "
            "downscale the video"
        )
    return total


@dataclass(frozen=True)
class VideoInfo:
    """Container metadata: frame count (as reported), frames per second, width, height and the codec's FourCC
    code as OpenCV reports it (lower case, "" when unknown)."""

    n_frames: int
    fps: float
    width: int
    height: int
    fourcc: str = ""

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps if self.fps > 0 else 0.0


def sample_frame_indices(n_frames: int, k: int) -> np.ndarray:
    """``k`` evenly spaced frame indices in ``[0, n_frames - 1]`` (``linspace``, as the official cropper).

    When ``k >= n_frames`` every frame is returned once.
    """
    if n_frames < 0 or k < 0:
        raise ValueError(f"n_frames and k must be >= 0, got {n_frames}, {k}")
    if n_frames == 0 or k == 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n_frames:
        return np.arange(n_frames, dtype=np.int64)
    return np.unique(np.linspace(0, n_frames - 1, k).astype(np.int64))


def _open(path: str | os.PathLike[str]) -> cv2.VideoCapture:
    p = Path(path)
    if not p.is_file():
        raise VideoReadError(f"{p}: no such file; expected a video file")
    if p.stat().st_size == 0:
        raise VideoReadError(f"{p}: file is empty; expected a video file")
    try:
        str(p).encode("utf-8")
        cap = cv2.VideoCapture(str(p))
    except UnicodeEncodeError:  # a name that is not UTF-8: OpenCV takes text only, so open it by descriptor
        fd = os.open(p, os.O_RDONLY)
        try:
            cap = cv2.VideoCapture(f"/proc/self/fd/{fd}")  # the decoder opens its own descriptor of the file
        finally:
            os.close(fd)
    if not cap.isOpened():
        cap.release()
        raise VideoReadError(f"{p}: cannot be opened as a video (corrupt or unsupported container)")
    return cap


def _fourcc_text(code: int) -> str:
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ").lower() if code > 0 else ""


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """Metadata of a video file; raises :class:`VideoReadError` when it cannot be opened."""
    cap = _open(path)
    try:
        info = VideoInfo(
            n_frames=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
            fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fourcc=_fourcc_text(int(cap.get(cv2.CAP_PROP_FOURCC))),
        )
    finally:
        cap.release()
    if info.width <= 0 or info.height <= 0:
        raise VideoReadError(f"{path}: video reports no frame size; expected a readable video stream")
    return info


def read_frames(path: str | os.PathLike[str], k: int, *, max_pixels: int | None = DEFAULT_MAX_VIDEO_PIXELS
                ) -> list[tuple[int, np.ndarray]]:
    """Decode ``k`` evenly spaced frames as ``(index, RGB uint8)`` pairs.

    Frames are walked with ``grab`` (no decoding) and only the wanted ones are ``retrieve``d, which is
    reliable across codecs and cheaper than seeking for short clips. If the container over-reports its
    frame count, the frames that exist are returned; a video with no decodable frame raises
    :class:`VideoReadError`.

    ``max_pixels`` bounds the frames held (frames x width x height; ``None``: no bound): the frame size the
    container states is checked before any frame is decoded, and every decoded frame is counted as it comes,
    so a stream whose frames are larger than stated stops at the budget. Either raises
    :class:`VideoTooLargeError`.
    """
    cap = _open(path)
    try:
        n = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        if n == 0:
            # unknown length: count by grabbing
            while cap.grab():
                n += 1
            cap.release()
            cap = _open(path)
        wanted = sample_frame_indices(n, k)
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        check_pixel_budget(path, int(wanted.size), width, height, max_pixels)
        out: list[tuple[int, np.ndarray]] = []
        held = 0
        if wanted.size:
            want = set(int(i) for i in wanted)
            last = int(wanted[-1])
            for idx in range(last + 1):
                if not cap.grab():
                    break
                if idx in want:
                    ok, frame = cap.retrieve()
                    if ok and frame is not None:
                        h, w = frame.shape[:2]
                        if max_pixels is not None and held + h * w > max_pixels:
                            raise VideoTooLargeError(
                                f"{path}: frames decode at {w} x {h} pixels, not the {width} x {height} the "
                                f"container states; {len(out) + 1} of them pass the budget of {max_pixels:,} "
                                "pixels per video; sample fewer frames or downscale the video"
                            )
                        held += h * w
                        out.append((idx, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
    finally:
        cap.release()
    if not out:
        raise VideoReadError(f"{path}: no frame could be decoded; expected a readable video stream")
    return out
