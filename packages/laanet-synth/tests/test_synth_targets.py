from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_synth.masks import boundary_map
from laanet_synth.targets import (
    TargetError,
    encode_targets,
    gaussian_radius,
    gaussian_radius_vec,
    run_length_maps,
    run_lengths,
    stamp_gaussian,
)


def encode_targets_loop(boundary_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The point-by-point reference of :func:`encode_targets` (same output, slower): each quadrant's peak
    pixels one by one, their run lengths, radius and Gaussian stamp."""
    t = np.asarray(boundary_u8)
    if t.ndim == 3:
        t = t[..., 0]
    if t.ndim != 2 or t.dtype != np.uint8 or t.shape[0] % 2 or t.shape[1] % 2:
        raise TargetError(f"expected a uint8 (h, w) boundary map with even sides, got {t.dtype} {t.shape}")
    H, W = t.shape
    hm, cst = np.zeros((H, W), np.float32), np.zeros((H, W), np.float32)
    gmax = int(t.max())
    if gmax == 0:
        return hm[None], cst[None]
    h2, w2 = H // 2, W // 2
    above = t > 128
    for y0 in (0, h2):
        for x0 in (0, w2):
            q = t[y0 : y0 + h2, x0 : x0 + w2]
            qmax = int(q.max()) or 1
            rr, cc = np.nonzero(q == qmax)
            if rr.size == 0:
                continue
            rows, cols = rr + y0, cc + x0
            vert, horiz = run_lengths(above, rows, cols)
            for j, i, v, h in zip(rows.tolist(), cols.tolist(), vert.tolist(), horiz.tolist(), strict=True):
                stamp_gaussian(hm, j, i, gaussian_radius(h, v) / 3 + 1e-4)
            cst[y0 : y0 + h2, x0 : x0 + w2] = (255.0 - np.abs(gmax - q.astype(np.float32))) / 255.0
    return hm[None], cst[None]


def _ellipse_boundary(size=96, cx=48, cy=50, ax=30, ay=36, blur=9):
    m = np.zeros((size * 4, size * 4), np.float32)
    cv2.ellipse(m, (cx * 4, cy * 4), (ax * 4, ay * 4), 0, 0, 360, 1.0, -1)
    m = cv2.GaussianBlur(m, (0, 0), blur)
    b = boundary_map(m / m.max())
    return cv2.resize((b * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_AREA)


def test_real_gives_zero_targets():
    hm, cst = encode_targets(np.zeros((96, 96), np.uint8))
    assert hm.shape == cst.shape == (1, 96, 96) and not hm.any() and not cst.any()


def test_ellipse_targets():
    t = _ellipse_boundary()
    hm, cst = encode_targets(t)
    assert hm.dtype == np.float32 and hm.max() == 1.0 and hm.min() >= 0
    for y0 in (0, 48):
        for x0 in (0, 48):
            q = t[y0 : y0 + 48, x0 : x0 + 48]
            peaks = np.argwhere(q == q.max()) + [y0, x0]
            for j, i in peaks:  # exact 1 at the point, or one pixel up-left (official int truncation)
                assert hm[0, j - 1 : j + 1, i - 1 : i + 1].max() == 1.0
    gmax = t.max()
    np.testing.assert_allclose(cst[0], (255.0 - np.abs(float(gmax) - t.astype(np.float32))) / 255.0, atol=1e-6)
    assert 0 < (hm > 0.5).sum() < 96 * 96 / 4


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([32, 64, 96]))
def test_heatmap_peaks_exactly_one_at_maxima(seed, size):
    rng = np.random.default_rng(seed)
    t = (cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 3) * 255).astype(np.uint8)
    t[rng.random((size, size)) < 0.7] = 0
    hm, cst = encode_targets(t)
    assert hm.min() >= 0 and hm.max() <= 1 and cst.min() >= 0 and cst.max() <= 1
    if t.any():
        assert hm.max() == 1.0
        ones = np.argwhere(hm[0] == 1.0)
        assert len(ones) >= 1
    else:
        assert not hm.any()


def test_run_lengths_count_centre_twice_and_wrap_upwards():
    b = np.zeros((10, 10), bool)
    b[3:6, 4] = True  # vertical run of 3
    v, h = run_lengths(b, np.array([4]), np.array([4]))
    assert v[0] == 4 and h[0] == 2
    b2 = np.zeros((10, 10), bool)
    b2[0:2, 0] = True
    b2[8:10, 0] = True  # wraps from row 0 to row 9 going up
    v, _ = run_lengths(b2, np.array([0]), np.array([0]))
    assert v[0] == 2 + 3


def test_tiny_sigma_quirk_puts_peak_up_left():
    hm = np.zeros((10, 10), np.float32)
    stamp_gaussian(hm, 5, 5, 1e-4)
    assert hm[4, 4] == 1.0 and hm.sum() == pytest.approx(1.0)


def test_gaussian_radius_vec_matches_scalar():
    hs, ws = np.array([1.0, 5, 17, 40]), np.array([2.0, 5, 3, 60])
    np.testing.assert_allclose(gaussian_radius_vec(hs, ws), [gaussian_radius(h, w) for h, w in zip(hs, ws, strict=True)])
    assert math.isclose(gaussian_radius(0, 0), 0.0)


def test_bad_target_input():
    with pytest.raises(TargetError, match="uint8"):
        encode_targets(np.zeros((8, 8), np.float32))
    with pytest.raises(TargetError, match="even"):
        encode_targets(np.zeros((7, 8), np.uint8))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([16, 32, 64, 96]), st.sampled_from([1.0, 3.0, 6.0]), st.booleans())
def test_vectorised_encoder_equals_point_loop(seed, size, blur, binary):
    rng = np.random.default_rng(seed)
    if binary:
        t = np.where(rng.random((size, size)) < 0.5, 255, 0).astype(np.uint8)
    else:
        t = (cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), blur) * 255 * rng.uniform(1, 3)).clip(0, 255).astype(np.uint8)
        t[rng.random((size, size)) < 0.3] = 0
    (hm_a, cst_a), (hm_b, cst_b) = encode_targets(t), encode_targets_loop(t)
    np.testing.assert_allclose(hm_a, hm_b, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(hm_a == 1.0, hm_b == 1.0)
    np.testing.assert_array_equal(cst_a, cst_b)
    b = t > 128
    rows, cols = np.nonzero(np.ones_like(b))
    v, h = run_lengths(b, rows, cols)
    vm, hmap = run_length_maps(b)
    np.testing.assert_array_equal(vm[rows, cols], v)
    np.testing.assert_array_equal(hmap[rows, cols], h)
