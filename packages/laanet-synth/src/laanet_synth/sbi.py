"""Self-blended images (SBI): a real face blended with a transformed copy of itself.

Pure functions of an image, its landmarks and an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .colour import ColourAugment, source_transform
from .crops import warp_matrix
from .landmarks import flip_landmarks, to_81
from .masks import (
    blend_mask,
    boundary_map,
    clip01,
    deform_mask,
    mask_box,
    random_affine_params,
    random_hull_mask,
)


class SynthesisError(ValueError):
    """Raised for inputs the synthesis cannot use (wrong image or landmark shapes)."""


@dataclass(frozen=True)
class SBIConfig:
    """SBI parameters (defaults follow the official training code)."""

    blend_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
    p_truncate_68: float = 0.25
    p_hflip: float = 0.5
    #: random margin beyond the crop recipe's own trim, in pixels of a 256 px crop (official 5..24 minus 5)
    extra_margin: tuple[int, int] = (0, 20)
    elastic_alpha: float = 50.0
    elastic_sigma: float = 7.0
    #: OneOf(crop, scale, erase) probability; each member, once chosen, applies with p_member
    p_geometric: float = 0.5
    p_member: float = 0.5
    crop_fraction_max: float = 0.14
    scale_limit: float = 0.15
    colour: ColourAugment | None = field(default_factory=ColourAugment)


DEFAULT_SBI = SBIConfig()


@dataclass(frozen=True, eq=False)
class SBIPair:
    """One SBI pair at the input size: ``real`` and ``fake`` (S, S, 3) uint8, blend ``mask`` and
    ``boundary`` (S, S) float32, and ``boundary_small`` (S/4, S/4) uint8 for the targets."""

    real: np.ndarray
    fake: np.ndarray
    mask: np.ndarray
    boundary: np.ndarray
    boundary_small: np.ndarray


def _check(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise SynthesisError(f"expected an (H, W, 3) uint8 RGB image, got {getattr(image, 'shape', type(image))}")
    lms = np.asarray(landmarks, np.float32)
    if lms.shape not in ((68, 2), (81, 2)):
        raise SynthesisError(f"expected (68, 2) or (81, 2) landmarks, got {lms.shape}")
    return image, lms


def blend(source: np.ndarray, target: np.ndarray, mask: np.ndarray, ratio: float) -> np.ndarray:
    """``ratio*M*source + (1 - ratio*M)*target`` rounded to uint8; equals ``target`` where M is 0."""
    w = mask.astype(np.float32) * np.float32(ratio)
    return cv2.blendLinear(source, target, w, 1.0 - w)


def warp_blend(source: np.ndarray, affine: np.ndarray, target: np.ndarray, mask: np.ndarray, ratio: float) -> np.ndarray:
    """``blend(warpAffine(source, affine), target, mask, ratio)`` with the source warped (bilinear, zero
    border) and blended only inside the bounding box of ``mask > 0``; elsewhere the result is ``target``."""
    box = mask_box(mask)
    out = target.copy()
    if box is None:
        return out
    ys, xs = box
    inv = cv2.invertAffineTransform(np.asarray(affine, np.float64))
    inv[:, 2] += inv[:, :2] @ np.array([xs.start, ys.start], np.float64)  # output origin at the box corner
    size = (xs.stop - xs.start, ys.stop - ys.start)
    warped = cv2.warpAffine(source, inv, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
    out[box] = blend(warped, target[box], mask[box], ratio)
    return out


def self_blend_parts(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, config: SBIConfig = DEFAULT_SBI
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """The random draws of one self-blend: ``(source, target, M, affine, ratio)``, the source not yet
    warped by its ``affine`` (2x3). See :func:`self_blend`."""
    img, lms = _check(image, landmarks)
    h, w = img.shape[:2]
    if lms.shape[0] == 81 and rng.random() < config.p_truncate_68:
        lms = lms[:68]
    mask, _ = random_hull_mask((h, w), lms, rng)
    source = img
    if rng.random() < 0.5:
        source = source_transform(img, rng)
    else:
        img = source_transform(img, rng)
    affine = random_affine_params((h, w), rng)
    mask = deform_mask(mask, affine, rng, config.elastic_alpha, config.elastic_sigma)
    m = blend_mask(mask, rng)
    ratio = float(config.blend_ratios[int(rng.integers(len(config.blend_ratios)))])
    return source, img, m, affine, ratio


def self_blend(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, config: SBIConfig = DEFAULT_SBI) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One self-blend: returns ``(fake, target, M)``.

    The hull (one of four types; 81 points truncated to 68 with p=0.25) gives the mask. A copy of the
    image is the source; the colour/frequency transform hits the source or the target (p=0.5 each). The
    source and the mask get the same random affine, the mask alone an elastic deformation. M is the
    two-stage blurred blend mask; the fake is ``r*M*source + (1-r*M)*target`` with r from
    ``blend_ratios``. ``target`` is the (possibly transformed) real image.
    """
    source, target, m, affine, ratio = self_blend_parts(image, landmarks, rng, config)
    return warp_blend(source, affine, target, m, ratio), target, m


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``a o b`` (apply b, then a)."""
    return (np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]]))[:2]


def _crop_warp(x: np.ndarray, e: int, size: int, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    h, w = x.shape[:2]
    c = x[e : h - e, e : w - e] if e > 0 else x
    ch, cw = c.shape[:2]
    if (ch, cw) == (size, size):
        return np.ascontiguousarray(c)
    return cv2.warpAffine(c, warp_matrix(cw, ch, size), (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT)


def _shift_crop(x: np.ndarray, ox: float, oy: float, keep_w: float, keep_h: float) -> np.ndarray:
    """Content moved by (-ox, -oy) and cut to (keep_w, keep_h) from the top-left, zeros elsewhere."""
    h, w = x.shape[:2]
    m = np.array([[1.0, 0, -ox], [0, 1.0, -oy]])
    out = cv2.warpAffine(x, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    out[int(round(keep_h)) :] = 0
    out[:, int(round(keep_w)) :] = 0
    return out


def _scale_from_origin(x: np.ndarray, f: float) -> np.ndarray:
    h, w = x.shape[:2]
    m = np.array([[f, 0, 0.5 * f - 0.5], [0, f, 0.5 * f - 0.5]])
    return cv2.warpAffine(x, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def geometric_augment(arrays: list[np.ndarray], rng: np.random.Generator, config: SBIConfig = DEFAULT_SBI) -> list[np.ndarray]:
    """The joint geometric augmentation of the official SBI pipeline, on arrays of one face (images,
    masks, the 1/4-size boundary map; sizes may differ, offsets scale with each array's size).

    With ``p_geometric`` one of: a random crop keeping (1-c) of each side (c in 0, 0.01 .. 0.14), a
    random scale by [1 - limit, 1 + limit], or random erasing; the chosen one applies with
    ``p_member``. As in the reference (centre and scale taken before this step), a crop becomes a shift
    towards the top-left with a zero band and a scale is anchored at the top-left corner.
    """
    if rng.random() >= config.p_geometric:
        return arrays
    kind = int(rng.integers(3))
    if rng.random() >= config.p_member:
        return arrays
    if kind == 0:
        steps = int(round(config.crop_fraction_max * 100)) + 1
        cy, cx = rng.integers(0, steps, 2) / 100.0
        fy, fx = rng.random(2)  # position of the kept window, as a fraction of the free margin
        out = []
        for a in arrays:
            h, w = a.shape[:2]
            out.append(_shift_crop(a, fx * cx * w, fy * cy * h, (1 - cx) * w, (1 - cy) * h))
        return out
    if kind == 1:
        f = float(rng.uniform(1 - config.scale_limit, 1 + config.scale_limit))
        return [_scale_from_origin(a, f) for a in arrays]
    big = arrays[0].shape[0]
    h, w = arrays[0].shape[:2]
    for _ in range(10):
        area = rng.uniform(0.02, 0.33) * h * w
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(1 / 0.3)))
        eh, ew = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
        if 0 < eh < h and 0 < ew < w:
            y, x = int(rng.integers(0, h - eh)), int(rng.integers(0, w - ew))
            out = []
            for a in arrays:
                k = a.shape[0] / big
                a = a.copy()
                a[int(y * k) : int(np.ceil((y + eh) * k)), int(x * k) : int(np.ceil((x + ew) * k))] = 0
                out.append(a)
            return out
    return arrays


def make_sbi_pair(
    image: np.ndarray,
    landmarks68: np.ndarray,
    rng: np.random.Generator,
    config: SBIConfig = DEFAULT_SBI,
    train: bool = True,
) -> SBIPair:
    """A full SBI training pair from a face crop at the network input size and its 68 landmarks.

    Steps: 81-point layout; (train) horizontal flip with p_hflip; self-blend; a random extra margin
    cut from all of real, fake and mask and a corner-aligned warp back to the input size (the boundary
    map goes straight to 1/4 size, as uint8 ``B*255``); (train) the joint geometric augmentation
    (:func:`geometric_augment`: crop, scale or erasing, masks included); colour augmentation with the
    same parameters on real and fake.
    """
    img, lms = _check(image, landmarks68)
    if lms.shape[0] != 68:
        raise SynthesisError("make_sbi_pair expects 68 landmarks (the 81-point layout is derived)")
    S = img.shape[0]
    if img.shape[1] != S or S % 4:
        raise SynthesisError(f"expected a square crop with side divisible by 4, got {img.shape[:2]}")
    lms81 = to_81(lms)
    if train and rng.random() < config.p_hflip:
        img = cv2.flip(img, 1)
        lms81 = flip_landmarks(lms81, S)
    source, real, m, affine, ratio = self_blend_parts(img, lms81, rng, config)
    lo, hi = config.extra_margin
    e = int(round(int(rng.integers(lo, hi)) * S / 256)) if hi > lo else int(round(lo * S / 256))
    b = boundary_map(m)
    b_small = _crop_warp((b * 255).astype(np.uint8), e, S // 4)
    # the margin cut + warp back to S is one affine C; the source takes C o affine in a single warp and
    # the blend happens after warping, so every image is resampled once
    crop = _compose(warp_matrix(S - 2 * e, S - 2 * e, S), np.array([[1.0, 0, -e], [0, 1.0, -e]]))
    flags = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT}
    if e > 0:
        real = cv2.warpAffine(real, crop, (S, S), **flags)
        m = clip01(cv2.warpAffine(m, crop, (S, S), **flags))
    fake = warp_blend(source, _compose(crop, affine), real, m, ratio)
    if train:
        real, fake, m, b_small = geometric_augment([real, fake, m, b_small], rng, config)
    if config.colour is not None:
        real, fake = config.colour([real, fake], rng)
    return SBIPair(real=real, fake=fake, mask=m, boundary=boundary_map(m), boundary_small=b_small)
