"""Blended images (BI, Face X-ray style): a donor face blended into a real face with a landmark-similar pose.

Pure functions taking an explicit ``numpy.random.Generator``; the donor search is vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .masks import boundary_map, clip01, erode_dilate, mask_box, random_hull_mask


class DonorSearchError(ValueError):
    """Raised when a donor search cannot run (shapes disagree, no other group)."""


def normalise_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks (N, 68, 2) expressed in their own face frame: minus the landmark-box corner, divided by
    the box's larger side, times 256. This makes distances comparable between faces of different size and
    position, as distances between aligned crops are."""
    lms = np.asarray(landmarks, np.float32)
    lo = lms.min(axis=1, keepdims=True)
    side = (lms.max(axis=1, keepdims=True) - lo).max(axis=2, keepdims=True)
    return (lms - lo) / np.maximum(side, 1e-6) * 256.0


def summed_landmark_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_i ||a_i - b_i||`` over the last two axes (..., 68, 2), broadcasting."""
    d = a - b
    return np.sqrt((d * d).sum(-1)).sum(-1)


def nearest_donors(
    landmarks: np.ndarray,
    groups: np.ndarray,
    k: int = 30,
    n_candidates: int = 10_000,
    rng: np.random.Generator | None = None,
    chunk: int = 256,
    shortlist: int | None = 8,
    progress: bool = False,
) -> np.ndarray:
    """For every face, the indices of the ``k`` faces with the smallest summed landmark distance
    ``sum_i ||l_i - l'_i||`` among up to ``n_candidates`` random candidates, excluding its own group.

    Vectorised in query chunks: a BLAS matrix product ranks all candidates by squared Euclidean
    distance of the flattened landmarks, the ``shortlist * k`` best are re-ranked by the exact summed
    distance, and the ``k`` best kept (``shortlist=None`` re-ranks every candidate: exact, slower). Returns (N, k) int64, nearest first, padded with -1 when fewer
    than ``k`` donors exist.
    """
    lms = np.asarray(landmarks, np.float32)
    grp = np.asarray(groups)
    n = len(lms)
    if lms.ndim != 3 or lms.shape[1:] != (68, 2) or len(grp) != n:
        raise DonorSearchError(f"expected landmarks (N, 68, 2) and N groups, got {lms.shape} and {len(grp)}")
    rng = rng if rng is not None else np.random.default_rng(0)
    _, gid = np.unique(grp, return_inverse=True)
    out = np.full((n, k), -1, np.int64)
    flat = lms.reshape(n, 136)
    sq = (flat * flat).sum(1)
    starts = range(0, n, chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="donor search", unit="chunk")
    for s in starts:
        q = np.arange(s, min(n, s + chunk))
        cand = np.arange(n) if n <= n_candidates else np.sort(rng.choice(n, n_candidates, replace=False))
        d2 = sq[q][:, None] + sq[cand][None] - 2.0 * (flat[q] @ flat[cand].T)
        d2[gid[q][:, None] == gid[cand][None]] = np.inf
        m = len(cand) if shortlist is None else min(max(shortlist * k, k), len(cand))
        short = np.argpartition(d2, m - 1, axis=1)[:, :m] if m < len(cand) else np.broadcast_to(np.arange(len(cand)), (len(q), len(cand)))
        short_ok = np.isfinite(np.take_along_axis(d2, short, 1))
        exact = summed_landmark_distance(lms[q][:, None], lms[cand[short]])
        exact[~short_ok] = np.inf
        kk = min(k, m)
        order = np.argsort(exact, axis=1, kind="stable")[:, :kk]
        best = cand[np.take_along_axis(short, order, 1)]
        ok = np.isfinite(np.take_along_axis(exact, order, 1))
        out[q, :kk] = np.where(ok, best, -1)
    return out


def piecewise_affine_maps(shape: tuple[int, int], rng: np.random.Generator, scale: float, rows: int = 4, cols: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps (map_x, map_y) for ``cv2.remap`` of a random piecewise-affine warp.

    A ``rows`` x ``cols`` grid of control points spans the image; each point's displacement is drawn from
    N(0, scale * side). Each grid cell is split into two triangles along its anti-diagonal and the
    displacement is interpolated affinely inside each. Computed separably: the bilinear interpolation of
    the grid minus ``D * min(u v, (1-u)(1-v))``, where ``D = d00 - d10 - d01 + d11`` is the cell's
    twist, equals the piecewise-affine field exactly. Both terms are products of small matrices (grid
    interpolation weights and one-hot cell membership), so no full-size gather is needed.
    """
    h, w = shape
    disp = piecewise_affine_displacements(shape, rng, scale, rows, cols)
    return piecewise_affine_maps_from(disp, shape, (slice(0, h), slice(0, w)))


def piecewise_affine_displacements(shape: tuple[int, int], rng: np.random.Generator, scale: float, rows: int = 4, cols: int = 4) -> np.ndarray:
    """The control-point displacements (rows, cols, 2) float32 (x, y) of :func:`piecewise_affine_maps`."""
    h, w = shape
    return (rng.normal(0.0, scale, (rows, cols, 2)) * np.array([w, h])).astype(np.float32)


def piecewise_affine_maps_from(disp: np.ndarray, shape: tuple[int, int], box: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """The maps of :func:`piecewise_affine_maps` for control-point displacements ``disp`` over an image of
    ``shape``, computed for the pixels of ``box`` (row slice, column slice) only: the same values as
    the full maps' ``[box]``."""
    h, w = shape
    rows, cols = disp.shape[:2]
    ys, xs = box
    wx, cx, u = (a[xs] for a in _interp_weights(w, cols))
    wy, cy, v = (a[ys] for a in _interp_weights(h, rows))
    # one-hot cell membership, so that the per-cell twist spreads over the image by matrix products
    ox = np.zeros((len(cx), cols - 1), np.float32)
    ox[np.arange(len(cx)), cx] = 1.0
    oy = np.zeros((len(cy), rows - 1), np.float32)
    oy[np.arange(len(cy)), cy] = 1.0
    weight = np.minimum(v[:, None] * u[None, :], (1 - v)[:, None] * (1 - u)[None, :])
    maps = []
    base = (np.arange(xs.start, xs.stop, dtype=np.float32)[None, :], np.arange(ys.start, ys.stop, dtype=np.float32)[:, None])
    for ch in range(2):
        g = disp[..., ch]
        twist = g[:-1, :-1] - g[:-1, 1:] - g[1:, :-1] + g[1:, 1:]  # (rows-1, cols-1)
        out = (oy @ twist) @ ox.T
        out *= weight
        np.subtract((wy @ g) @ wx.T, out, out=out)  # bilinear minus the twist correction
        out += base[ch]
        maps.append(np.ascontiguousarray(out))
    return maps[0], maps[1]


def _interp_weights(n: int, nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation from ``nodes`` evenly spaced grid points onto ``n`` pixels: the (n, nodes)
    weight matrix, each pixel's cell index and its fractional position in the cell."""
    g = np.arange(n, dtype=np.float32) / max(n - 1, 1) * (nodes - 1)
    cell = np.minimum(g.astype(np.int64), nodes - 2)
    frac = g - cell
    mat = np.zeros((n, nodes), np.float32)
    idx = np.arange(n)
    mat[idx, cell] = 1 - frac
    mat[idx, cell + 1] += frac
    return mat, cell, frac


def piecewise_affine_mask(mask: np.ndarray, rng: np.random.Generator, scale_range: tuple[float, float] = (0.01, 0.15)) -> np.ndarray:
    """Deform a 2-D mask with a random piecewise-affine warp (scale drawn from ``scale_range``); the
    sampling maps are built only around the mask's support."""
    scale = float(rng.uniform(*scale_range))
    h, w = mask.shape[:2]
    disp = piecewise_affine_displacements((h, w), rng, scale)
    support = mask_box(mask)
    out = np.zeros_like(mask)
    if support is None:
        return out
    # the field interpolates the control points, so no pixel moves farther than the largest of them:
    # outside the support grown by that (and the bilinear footprint) the result is 0
    dx, dy = (int(np.ceil(float(np.abs(disp[..., c]).max()))) + 2 for c in range(2))
    ys, xs = support
    box = (slice(max(ys.start - dy, 0), min(ys.stop + dy, h)), slice(max(xs.start - dx, 0), min(xs.stop + dx, w)))
    mx, my = piecewise_affine_maps_from(disp, (h, w), box)
    out[box] = cv2.remap(mask, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out


def colour_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift the source's per-channel mean inside ``mask`` to the target's mean there."""
    m8 = (mask > 0).astype(np.uint8)
    if not cv2.countNonZero(m8):
        return source
    shift = np.subtract(cv2.mean(target, m8)[:3], cv2.mean(source, m8)[:3])
    base = np.arange(256, dtype=np.float64)[:, None] + shift[None]
    lut = np.clip(base, 0, 255).astype(np.uint8)  # truncation, as a float -> uint8 cast
    return cv2.LUT(source, lut.reshape(256, 1, 3))


def feather_weights(mask: np.ndarray, feather: float = 0.2) -> np.ndarray:
    """Blend weights that rise from 0 at the mask edge to 1 at ``feather`` x the face size inside it.

    The distance transform runs on the mask's bounding box plus a 2 px zero ring (every path of the
    5x5 chamfer metric to a zero outside the box crosses that ring), so the result equals the
    full-frame transform.
    """
    binary = (mask > 0).astype(np.uint8)
    box = mask_box(binary, pad=2)
    out = np.zeros(mask.shape, np.float32)
    if box is None:
        return out
    x, y, bw, bh = cv2.boundingRect(binary)
    size = max(bw, bh)
    dist = cv2.distanceTransform(binary[box], cv2.DIST_L2, 5)
    np.divide(dist, feather * size, out=dist, dtype=np.float64)  # rounded once, from float64
    out[box] = clip01(dist)
    return out


@dataclass(frozen=True)
class BIConfig:
    """BI parameters (defaults follow the official training code, sizes relative to its 317 px frames)."""

    aug_size: tuple[int, int] = (128, 317)
    pa_scale: tuple[float, float] = (0.01, 0.15)
    feather: float = 0.2
    p_degrade: float = 0.5
    degrade_size: tuple[int, int] = (64, 317)
    max_tries: int = 5


DEFAULT_BI = BIConfig()


@dataclass(frozen=True, eq=False)
class BIPair:
    """A BI pair at the input size: ``real`` (the background face), ``fake``, blend weights ``mask``,
    ``boundary`` (S, S) float32 and ``boundary_small`` (S/4, S/4) uint8."""

    real: np.ndarray
    fake: np.ndarray
    mask: np.ndarray
    boundary: np.ndarray
    boundary_small: np.ndarray


def blend_donor(
    background: np.ndarray,
    bg_landmarks: np.ndarray,
    donor: np.ndarray,
    rng: np.random.Generator,
    config: BIConfig = DEFAULT_BI,
) -> tuple[np.ndarray, np.ndarray]:
    """Blend ``donor`` into ``background`` (same size crops): returns (fake, M) at the input size.

    Both are resized to a random working size; the hull of the background landmarks (four types) is
    deformed piecewise-affinely, eroded or dilated, the donor's colour is shifted to the background's in
    the mask, and the two are blended with feathered weights M (20 % of the face size); the result is
    resized back.
    """
    S = background.shape[0]
    for _ in range(config.max_tries):
        a = int(rng.integers(config.aug_size[0], config.aug_size[1] + 1))
        lms = np.asarray(bg_landmarks, np.float32) * (a / S)
        mask, _ = random_hull_mask((a, a), lms, rng)
        mask = piecewise_affine_mask(mask, rng, config.pa_scale)
        mask = erode_dilate(mask, rng)
        box = mask_box(mask, pad=2)
        if box is not None:
            break
    else:
        return background.copy(), np.zeros(background.shape[:2], np.float32)
    # everything outside the mask's box keeps the background: colour transfer, feathering and the
    # blend run on the box only
    bg = cv2.resize(background, (a, a), interpolation=cv2.INTER_LINEAR)
    fg = cv2.resize(donor, (a, a), interpolation=cv2.INTER_LINEAR)
    m_box, bg_box = mask[box], bg[box]
    fg_box = colour_transfer(fg[box], bg_box, m_box)
    w_box = feather_weights(m_box, config.feather)
    bg[box] = cv2.blendLinear(fg_box, bg_box, w_box, 1.0 - w_box)
    w = np.zeros((a, a), np.float32)
    w[box] = w_box
    fake = bg
    if a != S:
        fake = cv2.resize(fake, (S, S), interpolation=cv2.INTER_LINEAR)
        w = clip01(cv2.resize(w, (S, S), interpolation=cv2.INTER_LINEAR))
    # outside the mask the fake is the background exactly
    out = np.ascontiguousarray(background).copy()
    cv2.copyTo(np.ascontiguousarray(fake), (w > 0).view(np.uint8), out)
    return out, w


def degrade(image: np.ndarray, rng: np.random.Generator, size_range: tuple[int, int]) -> np.ndarray:
    """Resize down to a random size (bilinear or nearest) and back up bilinearly."""
    S = image.shape[0]
    lo, hi = size_range
    d = int(rng.integers(min(lo, S), min(hi, S) + 1))
    interp = cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_NEAREST
    small = cv2.resize(image, (d, d), interpolation=interp)
    return cv2.resize(small, (S, S), interpolation=cv2.INTER_LINEAR)


def make_bi_pair(
    background: np.ndarray,
    bg_landmarks: np.ndarray,
    donor: np.ndarray,
    rng: np.random.Generator,
    config: BIConfig = DEFAULT_BI,
    train: bool = True,
) -> BIPair:
    """A BI pair from two face crops of the same size (S divisible by 4) with the background's landmarks.

    With p_degrade (train) both the real and the fake are degraded with the same resize.
    """
    S = background.shape[0]
    if background.shape != donor.shape or background.ndim != 3 or background.shape[1] != S or S % 4:
        raise ValueError(f"expected two square crops of the same size divisible by 4, got {background.shape} and {donor.shape}")
    fake, m = blend_donor(background, bg_landmarks, donor, rng, config)
    real = background
    if train and rng.random() < config.p_degrade:
        state = rng.bit_generator.state
        real = degrade(real, rng, config.degrade_size)
        rng.bit_generator.state = state
        fake = degrade(fake, rng, config.degrade_size)
    b = boundary_map(m)
    small = cv2.resize((b * 255).astype(np.uint8), (S // 4, S // 4), interpolation=cv2.INTER_LINEAR)
    return BIPair(real=real, fake=fake, mask=m, boundary=b, boundary_small=small)
