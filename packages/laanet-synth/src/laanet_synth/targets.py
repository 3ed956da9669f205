"""Heatmap and self-consistency targets from a boundary map (the official target encoder, version 1).

Given ``t``, the boundary map ``B = 4M(1-M)`` scaled to uint8 (``B*255``) and warped to 1/4 of the input
size, the map is split into four quadrants. In each quadrant every pixel equal to the quadrant maximum
is a "vulnerable point"; each gets a 2-D Gaussian whose sigma adapts to the width of the boundary band
through it (CenterNet radius), stamped with an element-wise maximum, so the heatmap has an exact 1.0
per vulnerable point: on the point itself when the fractional part of ``3 sigma`` is at least 0.5, else
one pixel up and left of it (the official integer window arithmetic, reproduced as is). The self-consistency target is ``(255 - |max(t) - t|) / 255`` in quadrants that
have points and 0 elsewhere.
"""

from __future__ import annotations

import math

import numpy as np


class TargetError(ValueError):
    """Raised for boundary maps of the wrong shape or type."""


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's ``gaussian_radius((height, width), min_overlap)``, including its original form."""
    a1, b1 = 1.0, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(max(b1 * b1 - 4 * a1 * c1, 0.0))) / 2
    a2, b2 = 4.0, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(max(b2 * b2 - 4 * a2 * c2, 0.0))) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(max(b3 * b3 - 4 * a3 * c3, 0.0))) / 2
    return min(r1, r2, r3)


def gaussian_radius_vec(height: np.ndarray, width: np.ndarray, min_overlap: float = 0.7) -> np.ndarray:
    """Vectorised :func:`gaussian_radius`."""
    h = np.asarray(height, np.float64)
    w = np.asarray(width, np.float64)
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(np.maximum(b1 * b1 - 4 * c1, 0))) / 2
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + np.sqrt(np.maximum(b2 * b2 - 16 * c2, 0))) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + np.sqrt(np.maximum(b3 * b3 - 4 * a3 * c3, 0))) / 2
    return np.minimum(np.minimum(r1, r2), r3)


def run_lengths(binary: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and horizontal run lengths of ``binary`` through each point (row, col).

    Each run is counted from the point in both directions with the point itself counted in each (so a
    run of n pixels through a point gives n + 1). Walking towards negative indices wraps around to the
    far side of the map (numpy negative indexing, as in the official encoder); walking towards positive
    indices stops at the edge.
    """
    b = np.asarray(binary, bool)
    H, W = b.shape
    vert = np.zeros(len(rows), np.int64)
    horiz = np.zeros(len(rows), np.int64)
    for k, (j, i) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        if not b[j, i]:
            continue
        col = b[:, i]
        fwd = col[j:]
        n_fwd = int(np.argmin(fwd)) if not fwd.all() else fwd.size
        back = np.concatenate([col[j::-1], col[:j:-1]])  # upwards, then wrapping from the bottom
        n_back = int(np.argmin(back)) if not back.all() else back.size
        vert[k] = n_fwd + n_back
        row = b[j]
        fwd = row[i:]
        n_fwd = int(np.argmin(fwd)) if not fwd.all() else fwd.size
        back = np.concatenate([row[i::-1], row[:i:-1]])
        n_back = int(np.argmin(back)) if not back.all() else back.size
        horiz[k] = n_fwd + n_back
    return vert, horiz


def _runs_along_axis0(b: np.ndarray) -> np.ndarray:
    """For every pixel, the run length through it along axis 0 counted as in :func:`run_lengths`."""
    n = b.shape[0]
    idx = np.arange(n)[:, None]
    nb = ~b
    next_false = np.where(nb, idx, n)
    next_false = np.minimum.accumulate(next_false[::-1], axis=0)[::-1]
    fwd = next_false - idx
    prev_false = np.where(nb, idx, -1)
    prev_false = np.maximum.accumulate(prev_false, axis=0)
    back = idx - prev_false
    # no False above: the walk wraps to the bottom and continues through the trailing run
    last_false = prev_false[-1:]
    trailing = np.where(last_false >= 0, n - 1 - last_false, n)
    back = np.where(prev_false < 0, np.minimum(idx + 1 + trailing, n), back)
    return np.where(b, fwd + back, 0)


def run_length_maps(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and horizontal run-length maps of ``binary`` for every pixel (see :func:`run_lengths`)."""
    b = np.asarray(binary, bool)
    return _runs_along_axis0(b), _runs_along_axis0(b.T).T


def stamp_gaussian(hm: np.ndarray, row: int, col: int, sigma: float) -> None:
    """Stamp ``exp(-d^2 / 2 sigma^2)`` with half-size ``3 sigma`` at (row, col) by element-wise max, in place.

    The window follows the official integer arithmetic (``int`` truncation of ``centre -/+ 3 sigma``,
    Gaussian centre at ``size // 2``); for a tiny sigma this puts the single peak at (row-1, col-1).
    """
    H, W = hm.shape
    tmp = sigma * 3
    ul = (int(col - tmp), int(row - tmp))
    br = (int(col + tmp + 1), int(row + tmp + 1))
    if ul[0] >= W or ul[1] >= H or br[0] < 0 or br[1] < 0:
        return
    size = 2 * tmp + 1
    x = np.arange(0, size, 1, np.float32)
    y = x[:, None]
    c = size // 2
    g = np.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * sigma**2)).astype(np.float32)
    gx = (max(0, -ul[0]), min(br[0], W) - ul[0])
    gy = (max(0, -ul[1]), min(br[1], H) - ul[1])
    ix = (max(0, ul[0]), min(br[0], W))
    iy = (max(0, ul[1]), min(br[1], H))
    gpatch = g[gy[0] : gy[1], gx[0] : gx[1]]
    if gpatch.size == 0:
        return
    region = hm[iy[0] : iy[0] + gpatch.shape[0], ix[0] : ix[0] + gpatch.shape[1]]
    np.maximum(region, gpatch[: region.shape[0], : region.shape[1]], out=region)


def _stamp_all(hm: np.ndarray, rows: np.ndarray, cols: np.ndarray, sigmas: np.ndarray) -> None:
    """:func:`stamp_gaussian` for many points at once (same windows, same values), element-wise max."""
    H, W = hm.shape
    tmp = sigmas * 3
    # int() truncation towards zero, as the reference arithmetic
    ulx = np.trunc(cols - tmp).astype(np.int64)
    uly = np.trunc(rows - tmp).astype(np.int64)
    brx = np.trunc(cols + tmp + 1).astype(np.int64)
    bry = np.trunc(rows + tmp + 1).astype(np.int64)
    size = 2 * tmp + 1
    glen = np.ceil(size).astype(np.int64)  # len(arange(0, size))
    c = np.floor(size / 2)
    K = int(max((brx - ulx).max(), (bry - uly).max()))
    k = np.arange(K)
    px = ulx[:, None] + k[None]  # (P, K) image columns
    py = uly[:, None] + k[None]
    okx = (px >= 0) & (px < np.minimum(brx, W)[:, None]) & (k[None] < glen[:, None])
    oky = (py >= 0) & (py < np.minimum(bry, H)[:, None]) & (k[None] < glen[:, None])
    x = np.arange(K, dtype=np.float32)
    inv = (1.0 / (2 * sigmas.astype(np.float32) ** 2))[:, None]
    gx = (x[None] - c[:, None].astype(np.float32)) ** 2  # (P, K)
    vals = np.exp(-(gx[:, None, :] + gx[:, :, None]) * inv[:, :, None]).astype(np.float32)  # (P, Ky, Kx)
    ok = oky[:, :, None] & okx[:, None, :]
    flat = (np.clip(py, 0, H - 1)[:, :, None] * W + np.clip(px, 0, W - 1)[:, None, :])[ok]
    out = hm.reshape(-1)
    np.maximum.at(out, flat, vals[ok])


def encode_targets(boundary_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heatmap and self-consistency targets ``(1, h, w)`` float32 from a uint8 boundary map ``(h, w)``.

    Accepts ``(h, w)`` or ``(h, w, C)`` (channel 0 is used). ``h`` and ``w`` must be even (quadrants).
    An all-zero map (a real face) gives all-zero targets. Vectorised: run lengths for the whole map at
    once and every Gaussian stamped in one scatter-max (the tests hold a point-by-point reference it equals,
    built from :func:`run_lengths`, :func:`gaussian_radius` and :func:`stamp_gaussian`).
    """
    t, hm, cst = _prepare(boundary_u8)
    gmax = int(t.max())
    if gmax == 0:
        return hm[None], cst[None]
    H, W = t.shape
    h2, w2 = H // 2, W // 2
    vert_map, horiz_map = run_length_maps(t > 128)
    all_r, all_c = [], []
    for y0 in (0, h2):
        for x0 in (0, w2):
            q = t[y0 : y0 + h2, x0 : x0 + w2]
            qmax = int(q.max()) or 1
            rr, cc = np.nonzero(q == qmax)
            if rr.size == 0:
                continue
            all_r.append(rr + y0)
            all_c.append(cc + x0)
            cst[y0 : y0 + h2, x0 : x0 + w2] = (255.0 - np.abs(gmax - q.astype(np.float32))) / 255.0
    if all_r:
        rows, cols = np.concatenate(all_r), np.concatenate(all_c)
        sig = gaussian_radius_vec(horiz_map[rows, cols], vert_map[rows, cols]) / 3 + 1e-4
        _stamp_all(hm, rows, cols, sig)
    return hm[None], cst[None]


def _prepare(boundary_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(boundary_u8)
    if t.ndim == 3:
        t = t[..., 0]
    if t.ndim != 2 or t.dtype != np.uint8:
        raise TargetError(f"expected a uint8 (h, w) boundary map, got {t.dtype} {t.shape}")
    H, W = t.shape
    if H % 2 or W % 2:
        raise TargetError(f"boundary map sides must be even, got {t.shape}")
    return t, np.zeros((H, W), np.float32), np.zeros((H, W), np.float32)
