"""Face-region masks from landmarks and the random mask deformations used by SBI and BI.

All functions are pure: randomness comes from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import cv2
import numpy as np

HULL_TYPES = ("dfl_full", "extended", "components", "facehull")


class MaskError(ValueError):
    """Raised for bad mask requests (unknown hull type, wrong landmark shape)."""


def clip01(x: np.ndarray) -> np.ndarray:
    """Clip a float32 array to [0, 1] in place and return it."""
    if x.dtype == np.float32 and x.flags.c_contiguous:
        cv2.min(x, 1.0, dst=x)
        cv2.max(x, 0.0, dst=x)
        return x
    np.minimum(x, 1.0, out=x)
    np.maximum(x, 0.0, out=x)
    return x


def mask_box(mask: np.ndarray, pad: int = 0) -> tuple[slice, slice] | None:
    """Row and column slices of the bounding box of ``mask > 0`` grown by ``pad`` pixels on each side
    and clipped to the array, or ``None`` for an empty mask."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise MaskError(f"expected a 2-D mask, got shape {m.shape}")
    m8 = m if m.dtype == np.uint8 else (m > 0).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(m8)
    if w == 0 or h == 0:
        return None
    H, W = m.shape
    return slice(max(y - pad, 0), min(y + h + pad, H)), slice(max(x - pad, 0), min(x + w + pad, W))


def _fill_hulls(shape: tuple[int, int], parts: list[np.ndarray], antialias: bool = False) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    for pts in parts:
        hull = cv2.convexHull(np.round(np.asarray(pts, np.float64) * 16).astype(np.int32))
        cv2.fillConvexPoly(canvas, hull, 255, lineType=line, shift=4)
    return canvas.astype(np.float32) / 255.0


def _forehead_split(lms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left half, right half and middle of the forehead points (empty for 68 points)."""
    if lms.shape[0] == 81:
        fh = lms[68:81]
        return fh[:7], fh[6:], fh[4:9]
    empty = np.zeros((0, 2), lms.dtype)
    return empty, empty, empty


def hull_mask(shape: tuple[int, int], landmarks: np.ndarray, hull_type: str) -> np.ndarray:
    """A float32 ``(H, W)`` mask in [0, 1] of the face region for 68 or 81 landmarks.

    - ``facehull``: convex hull of every point, drawn anti-aliased;
    - ``dfl_full``: the DeepFaceLab full-face mask, a union of hulls (each jaw half with its brow and
      forehead half, the cheeks, the nose ridge, each eye region with the nose, the nose);
    - ``extended``: the convex hull with the brows pushed up by half their distance to the nose tip (a
      forehead band even with 68 points);
    - ``components``: union of the left and right face halves (jaw half + brow), the nose and the mouth,
      without the forehead.
    """
    lms = np.asarray(landmarks, dtype=np.float64)
    if lms.ndim != 2 or lms.shape[1] != 2 or lms.shape[0] not in (68, 81):
        raise MaskError(f"expected (68, 2) or (81, 2) landmarks, got {lms.shape}")
    if hull_type == "facehull":
        return _fill_hulls(shape, [lms], antialias=True)
    left_fh, right_fh, mid_fh = _forehead_split(lms)
    if hull_type == "dfl_full":
        parts = [
            np.concatenate([lms[0:9], lms[17:18], left_fh]),
            np.concatenate([lms[8:17], lms[26:27], right_fh]),
            np.concatenate([lms[17:20], lms[8:9]]),
            np.concatenate([lms[24:27], lms[8:9]]),
            np.concatenate([lms[19:25], lms[8:9], mid_fh]),
            np.concatenate([lms[17:22], lms[27:28], lms[31:36], lms[8:9]]),
            np.concatenate([lms[22:27], lms[27:28], lms[31:36], lms[8:9]]),
            np.concatenate([lms[27:31], lms[31:36]]),
        ]
        return _fill_hulls(shape, parts)
    if hull_type == "extended":
        pts = lms[:68].copy()
        pts[17:27] = pts[17:27] + 0.5 * (pts[17:27] - pts[30])
        if lms.shape[0] == 81:
            pts = np.concatenate([pts, lms[68:81]])
        return _fill_hulls(shape, [pts])
    if hull_type == "components":
        parts = [
            np.concatenate([lms[0:9], lms[17:22], lms[27:31]]),
            np.concatenate([lms[8:17], lms[22:27], lms[27:31]]),
            lms[27:36],
            lms[48:60],
        ]
        return _fill_hulls(shape, parts)
    raise MaskError(f"unknown hull type {hull_type!r}; expected one of {HULL_TYPES}")


def random_hull_mask(shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A hull mask of a type drawn uniformly from :data:`HULL_TYPES`; returns (mask, type)."""
    kind = HULL_TYPES[int(rng.integers(len(HULL_TYPES)))]
    return hull_mask(shape, landmarks, kind), kind


def random_affine_params(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The SBI affine: translate x +-3 %, y +-1.5 %, scale U[0.95, 1/0.95] about the centre (2x3)."""
    h, w = shape
    tx = rng.uniform(-0.03, 0.03) * w
    ty = rng.uniform(-0.015, 0.015) * h
    s = rng.uniform(0.95, 1 / 0.95)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    return np.array([[s, 0, cx - s * cx + tx], [0, s, cy - s * cy + ty]], dtype=np.float64)


def elastic_field(shape: tuple[int, int], rng: np.random.Generator, alpha: float = 50.0, sigma: float = 7.0) -> np.ndarray:
    """Smooth random displacement field ``(H, W, 2)`` float32 (dx, dy interleaved): U(-1, 1) noise
    blurred with ``sigma``, times ``alpha``.

    For ``sigma >= 4`` the field is drawn at half resolution with ``sigma / 2`` and upsampled: blurred
    white noise at half the sampling rate has twice the standard deviation, so it is halved; the field is
    smooth on that scale, so its statistics match the full-resolution draw at a quarter of the cost.
    """
    h, w = shape
    if sigma >= 4 and h >= 16 and w >= 16:
        hs, ws = (h + 1) // 2, (w + 1) // 2
        noise = rng.uniform(-1.0, 1.0, (hs, ws, 2)).astype(np.float32)
        s = sigma / 2
        k = int(2 * round(3 * s) + 1)
        small = cv2.GaussianBlur(noise, (k, k), s, borderType=cv2.BORDER_REFLECT_101)
        small *= np.float32(0.5 * alpha)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    noise = rng.uniform(-1.0, 1.0, (h, w, 2)).astype(np.float32)
    k = int(2 * round(3 * sigma) + 1)
    field = cv2.GaussianBlur(noise, (k, k), sigma)
    field *= np.float32(alpha)
    return field


def elastic_displacement(shape: tuple[int, int], rng: np.random.Generator, alpha: float = 50.0, sigma: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """The two planes (dx, dy) of :func:`elastic_field`."""
    field = elastic_field(shape, rng, alpha, sigma)
    return field[..., 0], field[..., 1]


def pixel_grid(shape: tuple[int, int]) -> np.ndarray:
    """``(H, W, 2)`` float32 pixel coordinates (x, y) of every pixel."""
    h, w = shape
    grid = np.empty((h, w, 2), np.float32)
    grid[..., 0] = np.arange(w, dtype=np.float32)[None, :]
    grid[..., 1] = np.arange(h, dtype=np.float32)[:, None]
    return grid


def deform_mask(mask: np.ndarray, affine: np.ndarray, rng: np.random.Generator, alpha: float = 50.0, sigma: float = 7.0) -> np.ndarray:
    """Affine then elastic deformation of a float mask, composed into a single ``cv2.remap``:
    ``out(p) = mask(A^-1 (p + d(p)))``, the sampling map built by one ``cv2.transform``."""
    h, w = mask.shape
    field = elastic_field((h, w), rng, alpha, sigma)
    field += pixel_grid((h, w))
    inv = cv2.invertAffineTransform(affine)
    maps = cv2.transform(field, inv)
    out = cv2.remap(mask.astype(np.float32, copy=False), maps, None, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return clip01(out)


def _odd_kernel(rng: np.random.Generator) -> int:
    return int(rng.choice(np.arange(5, 27, 2)))


def blend_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The two-stage blurred blend mask M in [0, 1] (SBI ``get_blend_mask``).

    Resize the mask to a random size within [0.8, 1/0.8] of the original, blur with an odd kernel of
    5..25 (automatic sigma), normalise by the maximum and keep only the fully-inside region (values < 1
    -> 0), blur again with an odd kernel of 5..25 and sigma 5..45, normalise and resize back.
    """
    h, w = mask.shape
    if float(mask.max()) <= 0:
        return np.zeros((h, w), np.float32)
    sh = int(rng.integers(int(h * 0.8), int(h / 0.8)))
    sw = int(rng.integers(int(w * 0.8), int(w / 0.8)))
    m = cv2.resize(mask.astype(np.float32), (max(sw, 1), max(sh, 1)), interpolation=cv2.INTER_LINEAR)
    k1 = _odd_kernel(rng)
    k2 = _odd_kernel(rng)
    s2 = int(rng.integers(5, 46))
    # both blurs reach at most k1 // 2 + k2 // 2 pixels beyond the mask, and everything farther is 0:
    # with one more pixel of zeros around (so reflected borders only bring in zeros) they run on the box
    box = mask_box(m, pad=k1 // 2 + k2 // 2 + 2)
    if box is None:
        return np.zeros((h, w), np.float32)
    sub = cv2.GaussianBlur(m[box], (k1, k1), 0)
    sub /= max(float(sub.max()), 1e-12)
    sub[sub < 1 - 1e-6] = 0
    sub = cv2.GaussianBlur(sub, (k2, k2), s2)
    mx = float(sub.max())
    if mx > 0:
        sub /= mx
    m[:] = 0
    m[box] = sub
    m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
    return clip01(m)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """The Face X-ray boundary ``4 M (1 - M)``: 0 where M is 0 or 1, peak 1 at M = 0.5."""
    m = clip01(mask.astype(np.float32))
    out = np.subtract(np.float32(1.0), m)
    out *= m
    out *= np.float32(4.0)  # a power of two: the same value as (4 M)(1 - M)
    return out


def erode_dilate(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """BI's random morphology: p=0.5 erode with an odd k x k kernel (k in 1..21), else dilate (k in 1..5)."""
    erode = bool(rng.random() < 0.5)
    k = int(rng.integers(1, 22)) if erode else int(rng.integers(1, 6))
    k = k if k % 2 else k + 1
    if k == 1:
        return mask
    kernel = np.ones((k, k), np.uint8)
    return cv2.erode(mask, kernel) if erode else cv2.dilate(mask, kernel)
