from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_synth.bi import (
    DonorSearchError,
    blend_donor,
    colour_transfer,
    feather_weights,
    make_bi_pair,
    nearest_donors,
    piecewise_affine_maps,
    summed_landmark_distance,
)
from laanet_synth.dataset import BIPairDataset, FaceIndex, collate_pairs
from laanet_synth.imageio import write_image_atomic
from laanet_synth.landmarks import template_landmarks

seeds = st.integers(0, 2**32 - 1)


def test_nearest_donors_matches_brute_force():
    rng = np.random.default_rng(0)
    n = 300
    lms = (template_landmarks(128, 128)[None] + rng.normal(0, 4, (n, 68, 2))).astype(np.float32)
    groups = np.array([f"g{i // 3}" for i in range(n)])
    exact = nearest_donors(lms, groups, k=10, chunk=64, shortlist=None)
    fast = nearest_donors(lms, groups, k=10, chunk=64)
    overlap = []
    for i in range(0, n, 17):
        d = summed_landmark_distance(lms[i][None], lms)
        d[groups == groups[i]] = np.inf
        truth = np.argsort(d, kind="stable")[:10]
        np.testing.assert_array_equal(exact[i], truth)
        assert not (groups[fast[i]] == groups[i]).any()
        assert np.all(np.diff(d[fast[i]]) >= 0)  # nearest first
        assert d[fast[i]].sum() <= d[truth].sum() * 1.01
        overlap.append(len(set(fast[i]) & set(truth)) / 10)
    assert np.mean(overlap) >= 0.9


def test_nearest_donors_pads_and_validates():
    lms = np.stack([template_landmarks()] * 3)
    got = nearest_donors(lms, np.array(["a", "a", "b"]), k=4)
    assert got[2].tolist()[:2] == [0, 1] and got[2, 2] == -1
    assert got[0].tolist() == [2, -1, -1, -1]
    with pytest.raises(DonorSearchError):
        nearest_donors(np.zeros((3, 5, 2)), np.array(["a", "b", "c"]))


@given(seeds, st.floats(0.0, 0.15))
def test_piecewise_affine_maps_identity_at_zero_and_bounded(seed, scale):
    mx, my = piecewise_affine_maps((40, 50), np.random.default_rng(seed), scale)
    xs, ys = np.meshgrid(np.arange(50), np.arange(40))
    dev = np.abs(mx - xs).max()
    if scale == 0:
        assert dev == 0
    assert np.isfinite(mx).all() and np.isfinite(my).all()


def test_piecewise_affine_is_affine_inside_a_triangle():
    mx, _ = piecewise_affine_maps((31, 31), np.random.default_rng(1), 0.1, rows=2, cols=2)
    # with a 2x2 grid there are exactly two triangles; along the lower-left triangle's edge map is linear
    row = mx[0, :]
    np.testing.assert_allclose(np.diff(row, 2), 0, atol=1e-3)


def test_colour_transfer_and_feather():
    src = np.full((10, 10, 3), 50, np.uint8)
    dst = np.full((10, 10, 3), 120, np.uint8)
    m = np.zeros((10, 10), np.float32)
    m[2:8, 2:8] = 1
    np.testing.assert_array_equal(colour_transfer(src, dst, m), dst)
    w = feather_weights(np.pad(np.ones((40, 40), np.float32), 10))
    assert w[0, 0] == 0 and w[30, 30] == 1.0 and 0 < w[11, 30] < 1


@settings(max_examples=15, deadline=None)
@given(seeds, st.sampled_from([128, 256]))
def test_bi_pair_properties(seed, size):
    rng = np.random.default_rng(seed)
    bg = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    donor = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    lms = template_landmarks(size / 2, size / 2, size / 190)
    pair = make_bi_pair(bg, lms, donor, np.random.default_rng(seed), train=False)
    assert pair.mask.min() >= 0 and pair.mask.max() <= 1
    np.testing.assert_array_equal(pair.fake[pair.mask == 0], pair.real[pair.mask == 0])
    assert np.all(pair.boundary[(pair.mask == 0) | (pair.mask == 1)] == 0)
    assert pair.boundary_small.shape == (size // 4, size // 4)
    again = make_bi_pair(bg, lms, donor, np.random.default_rng(seed), train=False)
    np.testing.assert_array_equal(pair.fake, again.fake)


def test_blend_donor_changes_face_only():
    rng = np.random.default_rng(0)
    bg = np.full((128, 128, 3), 100, np.uint8)
    donor = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    fake, w = blend_donor(bg, template_landmarks(64, 64, 0.6), donor, rng)
    assert (w > 0).sum() > 200
    assert (fake[w == 0] == 100).all()
    assert np.abs(fake[w == 1].astype(int) - 100).mean() > 10


def test_bi_dataset(tmp_path):
    rng = np.random.default_rng(0)
    paths, groups, lms = [], [], []
    for k in range(6):
        write_image_atomic(tmp_path / f"{k}.png", rng.integers(0, 256, (160, 160, 3), dtype=np.uint8))
        paths.append(f"{k}.png")
        groups.append(f"g{k % 3}")
        lms.append(template_landmarks(80, 85, 0.7) + rng.normal(0, 1, (68, 2)))
    lms = np.stack(lms).astype(np.float32)
    index = FaceIndex(tmp_path, np.array(paths), np.array(groups), lms, np.concatenate([lms.min(1), lms.max(1)], 1))
    ds = BIPairDataset(index, 64, seed=1, k=3)
    assert ds.donors.shape == (6, 3)
    for i in range(6):
        assert not (index.groups[ds.donors[i]] == index.groups[i]).any()
    a, b = ds[2], ds[2]
    assert all(torch.equal(a[key], b[key]) for key in a)
    batch = collate_pairs([ds[0], ds[1]])
    assert batch["image"].shape == (4, 3, 64, 64) and batch["hm"][2:].amax() == 1.0
