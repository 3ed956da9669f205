"""Input limits of the demo and the checks that enforce them before any heavy work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError


class InputRejected(ValueError):
    """An input that the demo refuses, with a message meant for the person who sent it."""


@dataclass(frozen=True)
class DemoLimits:
    """Bounds on what one request may ask of the server."""

    max_upload: str = "256mb"
    """Gradio's per-file upload limit (`launch(max_file_size=...)`); checkpoints are the largest uploads."""
    max_image_bytes: int = 40 * 1024 * 1024
    max_video_bytes: int = 200 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    """Width x height above which an image is refused before it is decoded (about 8660 x 5770)."""
    max_video_pixels: int = 100_000_000
    """Frames x width x height that one video request (analysis or preview) may decode in all, checked from the
    container's metadata before decoding (e.g. 48 frames of 1920 x 1080)."""
    max_request_bytes: int = 64 * 1024 * 1024
    """Largest request body on every route but the file upload (JSON with inline `data:` URLs): refused from its
    Content-Length, or as soon as a streamed body passes it, before it is read whole."""
    max_outputs: int = 400
    """Result files (overlays, tiles, reports) kept at once; writing more deletes the oldest."""
    max_faces: int = 32
    """At most this many faces per image are scored (the largest ones); the rest are counted."""
    min_video_frames: int = 2
    max_video_frames: int = 64
    suspicious_frames: int = 4
    """How many of the most suspicious video frames are shown with their heatmaps."""
    concurrency_limit: int = 1
    """Model calls running at once (they share one queue)."""
    queue_size: int = 64
    """Requests that may wait in the queue before new ones are turned away."""

    def clamp_frames(self, n: int) -> int:
        """``n`` frames kept within ``min_video_frames`` and ``max_video_frames``."""
        return max(self.min_video_frames, min(self.max_video_frames, int(n)))

    def __post_init__(self) -> None:
        if not 1 <= self.min_video_frames <= self.max_video_frames:
            raise ValueError(
                "expected 1 <= min_video_frames <= max_video_frames, got "
                f"{self.min_video_frames}, {self.max_video_frames}"
            )
        for name in ("max_image_bytes", "max_video_bytes", "max_image_pixels", "max_video_pixels",
                     "max_request_bytes", "max_outputs", "max_faces", "suspicious_frames", "concurrency_limit",
                     "queue_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"


def check_file(path: str | Path, max_bytes: int, what: str) -> Path:
    """Return `path` if it is a non-empty regular file of at most `max_bytes`, else raise InputRejected."""
    p = Path(path)
    if not p.is_file():
        raise InputRejected(f"The {what} file could not be found on the server; please upload it again.")
    size = p.stat().st_size
    if size == 0:
        raise InputRejected(f"The {what} file is empty (0 bytes); please give a real {what}.")
    if size > max_bytes:
        raise InputRejected(
            f"The {what} is {_mb(size)}; {what}s up to {_mb(max_bytes)} are accepted."
        )
    return p


def check_image_header(path: str | Path, limits: DemoLimits) -> tuple[int, int]:
    """Read only the image header; refuse files that are not images or have too many pixels.

    Returns (width, height).
    """
    p = check_file(path, limits.max_image_bytes, "image")
    try:
        with Image.open(p) as im:
            width, height = im.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as err:
        if isinstance(err, Image.DecompressionBombError):
            raise InputRejected(
                f"The image is too large to process; images up to "
                f"{limits.max_image_pixels:,} pixels are accepted."
            ) from err
        raise InputRejected(
            "The file is not an image that can be read (expected JPEG, PNG, WebP, BMP or TIFF)."
        ) from err
    if width * height > limits.max_image_pixels:
        raise InputRejected(
            f"The image is {width} x {height} pixels ({width * height:,}); images up to "
            f"{limits.max_image_pixels:,} pixels are accepted. Please downscale it first."
        )
    if width < 16 or height < 16:
        raise InputRejected(f"The image is only {width} x {height} pixels; faces cannot be found in it.")
    return width, height


def pixel_text(n: int) -> str:
    """A pixel count in words: megapixels from ten million on, else the exact count."""
    return f"{n / 1e6:,.0f} megapixels" if n >= 10_000_000 else f"{n:,} pixels"


class OverPixelBudget(InputRejected):
    """A video whose sampled frames would hold more pixels than the budget allows."""


def check_video_budget(n_total: int, width: int, height: int, n_frames: int, limits: DemoLimits,
                       budget: int | None = None) -> int:
    """Refuse, before any frame is decoded, a video whose sampled frames would hold more than
    ``budget`` (default `limits.max_video_pixels`) pixels in all (frames x width x height, from the container's metadata); returns
    the pixel count. One small rule so that it can later defer to the decoder's own budget."""
    if width * height > limits.max_image_pixels:
        raise InputRejected(
            f"The video frames are {width} x {height} pixels; frames up to {limits.max_image_pixels:,} pixels "
            "are accepted."
        )
    frames = min(n_frames, n_total) if n_total > 0 else n_frames
    cap = limits.max_video_pixels if budget is None else int(budget)
    total = frames * width * height
    if total > cap:
        fit = max(0, cap // max(1, width * height))
        advice = (f"sample at most {fit} frames of this video" if fit >= limits.min_video_frames
                  else "use a smaller video")
        raise OverPixelBudget(
            f"{frames} frames of {width} x {height} pixels are {pixel_text(total)} in all; this server "
            f"decodes at most {pixel_text(cap)} per video: {advice}."
        )
    return total
