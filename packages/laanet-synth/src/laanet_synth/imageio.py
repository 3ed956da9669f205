"""Reading images from disk as RGB uint8 arrays, with clear errors for bad input."""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 50_000_000


class ImageReadError(ValueError):
    """Raised when a file cannot be read as an image (empty, corrupt, truncated, not an image, too large)."""


def _decode(data: bytes, source: str, max_pixels: int) -> np.ndarray:
    if len(data) == 0:
        raise ImageReadError(f"{source}: file is empty; expected an image file (JPEG, PNG, BMP, PPM, WebP...)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise ImageReadError(
                    f"{source}: image is {w}x{h} = {w * h} pixels; expected at most {max_pixels} pixels "
                    "(raise max_pixels to allow larger images)"
                )
            img.load()
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{source}: image has too many pixels ({exc}); expected at most {max_pixels}") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{source}: not a recognised image format; expected JPEG, PNG, BMP, PPM or WebP") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{source}: image data is corrupt or truncated ({exc}); expected a complete image") from exc
    with contextlib.suppress(Exception):  # a broken EXIF block must not lose the pixels
        img = ImageOps.exif_transpose(img)
    if img.mode != "RGB":
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA")
            bg = Image.new("RGBA", img.size, (0, 0, 0, 255))
            img = Image.alpha_composite(bg, img)
        elif img.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(img, dtype=np.float64)
            hi = arr.max() if arr.size and arr.max() > 0 else 1.0
            img = Image.fromarray(np.clip(arr / hi * 255.0, 0, 255).astype(np.uint8))
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(f"{source}: decoded to shape {arr.shape}; expected a non-empty H x W x 3 image")
    return np.ascontiguousarray(arr)


def read_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as an ``(H, W, 3)`` RGB uint8 array, honouring EXIF orientation.

    Raises :class:`ImageReadError` when the file is missing, empty, not an image, truncated or has more
    than ``max_pixels`` pixels. Alpha is composited over black; 16-bit images are rescaled to 8 bits.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise ImageReadError(f"{p}: no such file; expected a path to an image file") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"{p}: is a directory; expected a path to an image file") from exc
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot be read ({exc})") from exc
    return _decode(data, str(p), max_pixels)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, source: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to ``(H, W, 3)`` RGB uint8; see :func:`read_image`."""
    return _decode(bytes(data), source, max_pixels)


def write_image_atomic(path: str | os.PathLike[str], image_rgb: np.ndarray, quality: int | None = None) -> None:
    """Write an RGB uint8 image (format from the suffix) atomically (:mod:`laanet_synth.atomic`); ``quality``
    is the JPEG / WebP quality (Pillow's default when ``None``)."""
    from .atomic import write_atomic

    p = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}.get(p.suffix.lower(), "PNG")
    image = Image.fromarray(np.ascontiguousarray(image_rgb))
    options = {} if quality is None else {"quality": int(quality)}
    write_atomic(p, lambda fh: image.save(fh, format=fmt, **options))
