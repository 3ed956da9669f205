from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_synth.landmarks import (
    FLIP_68,
    FLIP_81,
    LandmarkError,
    eye_frame,
    flip_landmarks,
    forehead_points,
    template_landmarks,
    to_81,
)

coords = st.floats(-500, 500, allow_nan=False, allow_infinity=False)


@given(st.sampled_from([68, 81]), st.integers(1, 2000), st.integers(0, 2**32 - 1))
def test_flip_is_involution(n, width, seed):
    pts = np.random.default_rng(seed).uniform(-100, 2100, (n, 2)).astype(np.float32)
    twice = flip_landmarks(flip_landmarks(pts, width), width)
    np.testing.assert_allclose(twice, pts, atol=1e-3)


def test_flip_permutations_are_involutions():
    for perm in (FLIP_68, FLIP_81):
        np.testing.assert_array_equal(perm[perm], np.arange(len(perm)))
    assert FLIP_68[36] == 45 and FLIP_68[39] == 42 and FLIP_68[8] == 8 and FLIP_68[30] == 30
    assert FLIP_81[68] == 80 and FLIP_81[74] == 74


def test_flip_of_a_symmetric_face_is_itself():
    p = template_landmarks(cx=100.0)
    np.testing.assert_allclose(flip_landmarks(p, 201), p, atol=1e-4)
    p81 = to_81(p)
    np.testing.assert_allclose(flip_landmarks(p81, 201), p81, atol=1e-3)


def test_forehead_geometry_is_plausible():
    p = template_landmarks()
    fh = forehead_points(p)
    assert fh.shape == (13, 2)
    origin, u, up = eye_frame(p)
    h = (fh - origin) @ up
    brow_top = ((p[17:27] - origin) @ up).max()
    eye_chin = -((p[8] - origin) @ up)
    assert (h >= brow_top - 1e-4).all()  # nothing below the brows
    assert 0.4 * eye_chin < h.max() < 0.9 * eye_chin  # hairline height
    a = (fh - origin) @ u
    assert np.all(np.diff(a) > 0)  # contour order from the jaw-0 side to the jaw-16 side
    jaw_a = (p[0:17] - origin) @ u
    assert a.min() >= jaw_a.min() - 1e-3 and a.max() <= jaw_a.max() + 1e-3
    assert h[6] == pytest.approx(h.max())  # the arc peaks in the middle


@settings(max_examples=30)
@given(st.floats(-60, 60), st.floats(0.3, 5), coords, coords)
def test_forehead_is_rotation_scale_translation_equivariant(angle, scale, cx, cy):
    base = template_landmarks(0, 0, 1.0, 0.0)
    moved = template_landmarks(cx, cy, scale, angle)
    a = np.radians(angle)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    expected = forehead_points(base) @ r.T * scale + [cx, cy]
    np.testing.assert_allclose(forehead_points(moved), expected, atol=1e-2 * max(scale, 1))


@given(st.integers(0, 2**32 - 1))
def test_forehead_commutes_with_flip(seed):
    rng = np.random.default_rng(seed)
    p = template_landmarks() + rng.normal(0, 3, (68, 2)).astype(np.float32)
    w = 256
    np.testing.assert_allclose(to_81(flip_landmarks(p, w)), flip_landmarks(to_81(p), w), atol=1e-3)


def test_bad_shapes():
    with pytest.raises(LandmarkError, match="shape"):
        to_81(np.zeros((81, 2)))
    with pytest.raises(LandmarkError):
        flip_landmarks(np.zeros((10, 2)), 5)


def test_real_lfw_forehead(lfw_sample):
    for _img, lms, _ in lfw_sample:
        fh = forehead_points(lms)
        assert (fh[:, 1] < lms[17:27, 1].max()).all()  # above the brows in an upright face
        assert fh[:, 1].min() > -60  # not far above the 250 px image
