"""Colour and frequency transforms used by the synthesis pipelines (explicit-generator, uint8 in and out)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def _lut(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def rgb_shift_lut(shift: np.ndarray) -> np.ndarray:
    """The (256, 1, 3) uint8 lookup table of :func:`rgb_shift`."""
    base = np.arange(256, dtype=np.float32)[:, None] + np.asarray(shift, np.float32)[None]
    return _lut(base).reshape(256, 1, 3)


def rgb_shift(img: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Add a per-channel shift (3,) in uint8 units (saturating), via a lookup table."""
    return cv2.LUT(img, rgb_shift_lut(shift))


def compose_luts(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """One lookup table equal to applying ``first`` (256, 1, 3) and then ``then`` (256,) (the same
    table for every channel): ``LUT(LUT(x, first), then) == LUT(x, compose_luts(first, then))``."""
    return np.ascontiguousarray(np.asarray(then, np.uint8).reshape(256)[first])


def _trunc_shift_lut(shift: float, modulo: int | None = None) -> np.ndarray:
    v = np.arange(256, dtype=np.float64) + shift
    v = np.mod(v, modulo) if modulo else np.clip(v, 0, 255)
    return v.astype(np.uint8)  # truncation, as uint8 HSV shifts do


def hsv_shift_lut(hue: float, sat: float, val: float) -> np.ndarray | None:
    """The (256, 1, 3) uint8 HSV lookup table of :func:`hsv_shift`, or ``None`` when it changes no level."""
    lut = np.stack([_trunc_shift_lut(hue, 180), _trunc_shift_lut(sat), _trunc_shift_lut(val)], 1)
    ident = np.arange(256, dtype=np.uint8)
    if np.array_equal(lut[:180, 0], ident[:180]) and np.array_equal(lut[:, 1], ident) and np.array_equal(lut[:, 2], ident):
        return None
    return lut.reshape(256, 1, 3)


def hsv_shift(img: np.ndarray, hue: float, sat: float, val: float) -> np.ndarray:
    """Shift hue / saturation / value in uint8 HSV (hue on OpenCV's 0..180 scale) with truncating lookup
    tables, the uint8 arithmetic of the reference augmentation (a fractional positive shift is a no-op,
    a fractional negative one lowers by one level). When no level changes the image is returned as is."""
    lut = hsv_shift_lut(hue, sat, val)
    if lut is None:
        return img  # a shift that changes no level leaves the image untouched
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hsv = cv2.LUT(hsv, lut)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def brightness_contrast_lut(brightness: float, contrast: float) -> np.ndarray:
    """The (256,) uint8 lookup table of :func:`brightness_contrast` (shared by all channels)."""
    return _lut(np.arange(256, dtype=np.float32) * (1.0 + contrast) + brightness * 255.0)


def brightness_contrast(img: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    """``img * (1 + contrast) + brightness * 255`` (saturating), via a lookup table."""
    return cv2.LUT(img, brightness_contrast_lut(brightness, contrast))


def downscale(img: np.ndarray, ratio: int) -> np.ndarray:
    """Nearest-neighbour downscale by ``ratio`` then linear upscale back (kills high frequencies)."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // ratio), max(1, h // ratio)), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def sharpen(img: np.ndarray, alpha: float, lightness: float) -> np.ndarray:
    """Blend of identity and a Laplacian sharpening kernel (``alpha`` mix, ``lightness`` centre boost)."""
    ident = np.zeros((3, 3), np.float32)
    ident[1, 1] = 1
    effect = np.full((3, 3), -1, np.float32)
    effect[1, 1] = 8 + lightness
    kernel = (1 - alpha) * ident + alpha * effect
    return cv2.filter2D(img, -1, kernel)  # uint8 in, saturated uint8 out


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip at ``quality``."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return img
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def pointwise_colour(img: np.ndarray, rgb: np.ndarray | None, hsv: tuple[float, float, float], bc: tuple[float, float]) -> np.ndarray:
    """RGB shift (skipped when ``rgb`` is None), then :func:`hsv_shift` by ``hsv``, then
    :func:`brightness_contrast` by ``bc`` (brightness, contrast). Every step maps each pixel on its own;
    the RGB shift and brightness/contrast tables are fused when the HSV shift changes nothing."""
    table = brightness_contrast_lut(*bc)
    hsv_lut = hsv_shift_lut(*hsv)
    if hsv_lut is None:
        return cv2.LUT(img, table if rgb is None else compose_luts(rgb_shift_lut(rgb), table))
    out = img if rgb is None else cv2.LUT(img, rgb_shift_lut(rgb))
    out = cv2.cvtColor(cv2.LUT(cv2.cvtColor(out, cv2.COLOR_RGB2HSV), hsv_lut), cv2.COLOR_HSV2RGB)
    return cv2.LUT(out, table)


def source_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's source/target transform: RGB shift (p=0.3), HSV +-0.3 and brightness/contrast +-0.1, then one
    of a x2/x4 down-up scale or a sharpen.

    The colour steps act on each pixel alone and the downscale is a nearest-neighbour pick of pixels,
    so on the down-up branch the colour steps run on the picked pixels only (the same result, up to
    OpenCV's HSV -> RGB conversion, whose vector and scalar paths may round one level apart).
    """
    rgb = rng.uniform(-20, 20, 3) if rng.random() < 0.3 else None
    hsv = tuple(rng.uniform(-0.3, 0.3, 3))
    bc = (rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1))
    if rng.random() < 0.5:
        ratio = int(rng.choice([2, 4]))
        h, w = img.shape[:2]
        small = cv2.resize(img, (max(1, w // ratio), max(1, h // ratio)), interpolation=cv2.INTER_NEAREST)
        return cv2.resize(pointwise_colour(small, rgb, hsv, bc), (w, h), interpolation=cv2.INTER_LINEAR)
    return sharpen(pointwise_colour(img, rgb, hsv, bc), rng.uniform(0.2, 0.5), rng.uniform(0.5, 1.0))


@dataclass(frozen=True)
class ColourAugment:
    """Photometric augmentation applied with the same parameters to the real and the fake."""

    p_rgb_shift: float = 0.3
    rgb_shift_limit: float = 20.0
    p_hsv: float = 0.3
    hsv_limit: float = 0.3
    p_brightness_contrast: float = 0.3
    brightness_contrast_limit: float = 0.3
    p_jpeg: float = 0.5
    jpeg_quality: tuple[int, int] = (40, 100)

    def __call__(self, images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        out = list(images)
        pending: np.ndarray | None = None  # an RGB shift table not applied yet (fused with what follows)
        if rng.random() < self.p_rgb_shift:
            pending = rgb_shift_lut(rng.uniform(-self.rgb_shift_limit, self.rgb_shift_limit, 3))
        if rng.random() < self.p_hsv:
            h, s, v = rng.uniform(-self.hsv_limit, self.hsv_limit, 3)
            if pending is not None:
                out, pending = [cv2.LUT(x, pending) for x in out], None
            out = [hsv_shift(x, h, s, v) for x in out]
        if rng.random() < self.p_brightness_contrast:
            lim = self.brightness_contrast_limit
            b, c = rng.uniform(-lim, lim, 2)
            table = brightness_contrast_lut(b, c)
            pending = table if pending is None else compose_luts(pending, table)
        if pending is not None:
            out = [cv2.LUT(x, pending) for x in out]
        if rng.random() < self.p_jpeg:
            q = int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
            out = [jpeg(x, q) for x in out]
        return out
