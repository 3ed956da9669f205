from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_synth.landmarks import template_landmarks, to_81
from laanet_synth.masks import (
    HULL_TYPES,
    MaskError,
    blend_mask,
    boundary_map,
    deform_mask,
    erode_dilate,
    hull_mask,
    random_affine_params,
)
from laanet_synth.sbi import SBIConfig, SynthesisError, blend, geometric_augment, make_sbi_pair, self_blend

seeds = st.integers(0, 2**32 - 1)


def _face_image(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    lms = template_landmarks(size / 2, size / 2 + size * 0.05, size / 190)
    return img, lms


@pytest.mark.parametrize("kind", HULL_TYPES)
@pytest.mark.parametrize("n", [68, 81])
def test_hull_masks_cover_the_face(kind, n):
    lms = template_landmarks(128, 128)
    pts = to_81(lms) if n == 81 else lms
    m = hull_mask((256, 256), pts, kind)
    assert m.dtype == np.float32 and m.min() >= 0 and m.max() == 1
    assert m[int(lms[30, 1]), int(lms[30, 0])] == 1  # nose tip inside
    assert m[5, 5] == 0 and m[250, 250] == 0
    if kind != "facehull":
        assert set(np.unique(m)) <= {0.0, 1.0}


def test_forehead_enlarges_facehull():
    lms = template_landmarks(128, 128)
    assert hull_mask((256, 256), to_81(lms), "facehull").sum() > 1.3 * hull_mask((256, 256), lms, "facehull").sum()
    with pytest.raises(MaskError, match="unknown hull"):
        hull_mask((10, 10), lms, "x")


@settings(max_examples=25, deadline=None)
@given(seeds, st.sampled_from([64, 128, 256]))
def test_blend_mask_in_unit_range_and_boundary_zero_at_extremes(seed, size):
    rng = np.random.default_rng(seed)
    lms = template_landmarks(size / 2, size / 2, size / 200)
    m0 = hull_mask((size, size), lms, HULL_TYPES[seed % 4])
    m1 = deform_mask(m0, random_affine_params((size, size), rng), rng)
    m = blend_mask(m1, rng)
    assert m.shape == (size, size) and m.min() >= 0 and m.max() <= 1
    b = boundary_map(m)
    assert b.min() >= 0 and b.max() <= 1
    assert np.all(b[(m == 0) | (m == 1)] == 0)


@given(st.floats(0, 1), seeds)
def test_boundary_zero_where_mask_is_binary(p, seed):
    rng = np.random.default_rng(seed)
    m = (rng.random((20, 20)) < p).astype(np.float32)
    m[0, 0] = 0.5
    b = boundary_map(m)
    assert b[0, 0] == 1.0
    b[0, 0] = 0
    assert not b.any()


def test_erode_dilate_keeps_shape_and_type():
    rng = np.random.default_rng(0)
    m = hull_mask((128, 128), template_landmarks(64, 64, 0.5), "dfl_full")
    for _ in range(10):
        out = erode_dilate(m, rng)
        assert out.shape == m.shape and out.dtype == m.dtype


@settings(max_examples=20, deadline=None)
@given(seeds)
def test_fake_equals_real_where_mask_is_zero(seed):
    img, lms = _face_image(128, seed)
    fake, target, m = self_blend(img, to_81(lms), np.random.default_rng(seed))
    assert fake.shape == target.shape == img.shape and fake.dtype == np.uint8
    assert m.min() >= 0 and m.max() <= 1
    zero = m == 0
    assert zero.any() and (m > 0).any()
    np.testing.assert_array_equal(fake[zero], target[zero])


@settings(max_examples=15, deadline=None)
@given(seeds, st.sampled_from([128, 256]))
def test_pair_properties(seed, size):
    img, lms = _face_image(size, seed)
    cfg = SBIConfig(colour=None)
    pair = make_sbi_pair(img, lms, np.random.default_rng(seed), cfg)
    assert pair.real.shape == pair.fake.shape == (size, size, 3)
    assert pair.mask.shape == (size, size) and pair.boundary_small.shape == (size // 4, size // 4)
    assert pair.mask.min() >= 0 and pair.mask.max() <= 1
    np.testing.assert_array_equal(pair.fake[pair.mask == 0], pair.real[pair.mask == 0])
    assert np.all(pair.boundary[(pair.mask == 0) | (pair.mask == 1)] == 0)


@settings(max_examples=10, deadline=None)
@given(seeds)
def test_same_seed_same_pair(seed):
    img, lms = _face_image(128, 7)
    a = make_sbi_pair(img, lms, np.random.default_rng(seed))
    b = make_sbi_pair(img, lms, np.random.default_rng(seed))
    for x, y in ((a.real, b.real), (a.fake, b.fake), (a.mask, b.mask), (a.boundary_small, b.boundary_small)):
        np.testing.assert_array_equal(x, y)


def test_pairs_vary_and_fakes_differ():
    img, lms = _face_image(128, 3)
    rng = np.random.default_rng(0)
    diffs = [np.abs(p.fake.astype(int) - p.real.astype(int)).mean() for p in (make_sbi_pair(img, lms, rng, SBIConfig(colour=None)) for _ in range(6))]
    assert max(diffs) > 1.0 and len(set(np.round(diffs, 4))) > 1


def test_blend_exact():
    s = np.full((4, 4, 3), 200, np.uint8)
    t = np.full((4, 4, 3), 100, np.uint8)
    m = np.array([[0, 0.5, 1, 1]] * 4, np.float32)
    out = blend(s, t, m, 0.5)
    np.testing.assert_array_equal(out[0, :, 0], [100, 125, 150, 150])


def test_bad_inputs():
    with pytest.raises(SynthesisError, match="uint8"):
        self_blend(np.zeros((10, 10, 3), np.float32), template_landmarks(), np.random.default_rng(0))
    with pytest.raises(SynthesisError, match="landmarks"):
        self_blend(np.zeros((10, 10, 3), np.uint8), np.zeros((5, 2)), np.random.default_rng(0))
    with pytest.raises(SynthesisError, match="divisible by 4"):
        make_sbi_pair(np.zeros((30, 30, 3), np.uint8), template_landmarks(15, 15, 0.1), np.random.default_rng(0))


@settings(max_examples=30, deadline=None)
@given(seeds)
def test_geometric_augment_is_joint(seed):
    rng = np.random.default_rng(seed)
    img, lms = _face_image(128, seed)
    pair = make_sbi_pair(img, lms, rng, SBIConfig(colour=None, p_geometric=0.0))
    cfg = SBIConfig(p_geometric=1.0, p_member=1.0)
    real, fake, m, small = geometric_augment([pair.real, pair.fake, pair.mask, pair.boundary_small], np.random.default_rng(seed), cfg)
    assert real.shape == pair.real.shape and small.shape == pair.boundary_small.shape
    assert m.min() >= 0 and m.max() <= 1
    zero = m == 0
    # where the (moved) mask is 0 the fake equals the real, up to bilinear mixing at the mask edge
    assert np.abs(fake[zero].astype(int) - real[zero].astype(int)).max() <= 2
    changed = not np.array_equal(real, pair.real)
    assert changed or np.array_equal(fake, pair.fake)
