from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_synth.crops import (
    ALIGNED_SBI,
    ANTIALIASED_SBI,
    CAPPED_SBI,
    OFFICIAL_BI,
    OFFICIAL_SBI,
    CropError,
    CropRecipe,
    apply_affine,
    calibrate_box,
    cap_resolution,
    crop_face,
    get_recipe,
    recipe_for_size,
    warp_matrix,
    warp_to_size,
)
from laanet_synth.faces import Face
from laanet_synth.landmarks import template_landmarks


def _face(lms: np.ndarray) -> Face:
    return Face(box=np.concatenate([lms.min(0), lms.max(0)]), score=1.0, landmarks=lms)


def _dotted(shape, pts):
    img = np.zeros((*shape, 3), np.uint8)
    for x, y in pts:
        cv2.circle(img, (int(round(x)), int(round(y))), 3, (255, 255, 255), -1)
    return img


def test_warp_matrix_is_corner_aligned():
    m = warp_matrix(246, 246, 384)
    np.testing.assert_allclose(apply_affine(np.array([[0, 0], [245, 245]]), m), [[0, 0], [383, 383]], atol=1e-4)
    img = np.random.default_rng(0).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    out = warp_to_size(img, 99)
    np.testing.assert_array_equal(out[::2, ::2], img)  # scale exactly 2 on the grid


@pytest.mark.parametrize("recipe", [OFFICIAL_SBI, OFFICIAL_BI, ALIGNED_SBI, recipe_for_size(256), recipe_for_size(224, OFFICIAL_BI)])
def test_matrix_maps_landmarks_onto_crop(recipe):
    lms = template_landmarks(300, 220, 1.3, 12.0)
    img = _dotted((480, 640), lms[[30, 36, 45, 48, 54]])
    c = crop_face(img, _face(lms), recipe)
    assert c.image.shape == (recipe.input_size, recipe.input_size, 3) and c.image.dtype == np.uint8
    np.testing.assert_allclose(c.landmarks, apply_affine(lms, c.matrix), atol=1e-4)
    for idx in (30, 36, 45, 48, 54):
        x, y = np.round(c.landmarks[idx]).astype(int)
        assert c.image[y - 1 : y + 2, x - 1 : x + 2].max() > 100, idx  # the dot is where the matrix says
    # the matrix agrees with a direct warp of the image
    direct = cv2.warpAffine(img, c.matrix, (recipe.input_size,) * 2, flags=cv2.INTER_LINEAR)
    assert np.abs(direct.astype(int) - c.image.astype(int)).mean() < 6


def test_eye_alignment_levels_inner_eye_corners():
    lms = template_landmarks(320, 240, 1.0, 20.0)
    img = _dotted((480, 640), lms)
    c = crop_face(img, _face(lms), ALIGNED_SBI)
    assert abs(c.landmarks[39, 1] - c.landmarks[42, 1]) < 0.05
    assert c.landmarks[42, 0] > c.landmarks[39, 0]


def test_official_sbi_is_trim_of_256_crop():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)
    lms = template_landmarks(200, 200)
    face = _face(lms)
    c = crop_face(img, face, OFFICIAL_SBI)
    plain = crop_face(img, face, CropRecipe(name="plain", input_size=256))
    expected = warp_to_size(plain.image[5:251, 5:251], 384)
    np.testing.assert_array_equal(c.image, expected)


def test_calibrated_box_extends_upward():
    lms = template_landmarks(200, 200)
    box = calibrate_box(_face(lms))
    x1, y1 = lms.min(0)
    x2, y2 = lms.max(0)
    assert box[1] < y1 - 0.2 * (y2 - y1)  # reaches into the forehead
    assert box[3] > y2 and box[0] < x1 and box[2] > x2


def test_recipes_named_and_bad():
    assert get_recipe("official-sbi") is OFFICIAL_SBI
    assert get_recipe("official-bi-256").input_size == 256
    with pytest.raises(CropError, match="unknown crop recipe"):
        get_recipe("x")
    with pytest.raises(CropError):
        CropRecipe(resize_to=317)
    with pytest.raises(CropError, match="no pixels"):
        crop_face(np.zeros((50, 50, 3), np.uint8), _face(template_landmarks(500, 500)), OFFICIAL_SBI)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.15, 3.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(-30, 30), st.sampled_from([128, 256, 384]))
def test_any_face_size_and_position(scale, fx, fy, angle, size):
    h, w = 360, 480
    lms = template_landmarks(fx * w, fy * h, scale, angle)
    img = np.full((h, w, 3), 90, np.uint8)
    try:
        c = crop_face(img, _face(lms), recipe_for_size(size))
    except CropError:
        return  # face entirely outside: a clear error is the contract
    assert c.image.shape == (size, size, 3)
    np.testing.assert_allclose(c.landmarks, apply_affine(lms, c.matrix), atol=1e-3)
    inv = cv2.invertAffineTransform(c.matrix)
    np.testing.assert_allclose(apply_affine(c.landmarks, inv), lms, atol=1e-2 * max(scale, 1))


def _textured_face(scale: float) -> tuple[np.ndarray, Face]:
    """A face with fine texture, drawn at ``scale`` (about 100 px wide at 1) in a frame that grows with it."""
    size = int(round(320 * scale))
    rng = np.random.default_rng(8)
    base = cv2.resize(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    lms = template_landmarks(size / 2, size / 2, scale)
    return base, _face(lms)


def test_resolution_cap_reduces_large_cut_outs_only():
    region = np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    assert cap_resolution(region, None) is region and cap_resolution(region, 300) is region
    small = cap_resolution(region, 150)
    assert small.shape == (150, 100, 3)
    np.testing.assert_array_equal(small, cv2.resize(region, (100, 150), interpolation=cv2.INTER_AREA))
    with pytest.raises(CropError, match="max_source_px"):
        CropRecipe(max_source_px=4)
    assert get_recipe("antialiased-capped-sbi") is CAPPED_SBI and CAPPED_SBI.max_source_px == 192


def test_resolution_cap_keeps_the_geometry_and_leaves_small_faces_alone():
    recipe = recipe_for_size(160, CAPPED_SBI)
    plain = recipe_for_size(160, ANTIALIASED_SBI)
    img, face = _textured_face(3.0)  # a cut-out of about 450 px: capped
    capped, free = crop_face(img, face, recipe), crop_face(img, face, plain)
    np.testing.assert_allclose(capped.matrix, free.matrix, atol=1e-9)  # the same mapping: landmarks unchanged
    assert not np.array_equal(capped.image, free.image)
    img, face = _textured_face(0.6)  # a cut-out below the cap: the same pixels as without it
    np.testing.assert_array_equal(crop_face(img, face, recipe).image, crop_face(img, face, plain).image)


def test_resolution_cap_makes_a_large_face_look_as_it_would_at_the_cap_size():
    """A finely textured cut-out photographed large reaches the network exactly as the same photo shrunk (area
    averaging) to the cap's size does; without the cap it keeps detail the small photo cannot have."""
    from laanet_synth.crops import pre_cropped, whole_image_face

    capped, free = (pre_cropped(recipe_for_size(160, r)) for r in (CAPPED_SBI, ANTIALIASED_SBI))
    rng = np.random.default_rng(4)
    big = cv2.resize(rng.integers(0, 256, (160, 160, 3), dtype=np.uint8), (640, 640), interpolation=cv2.INTER_CUBIC)
    cap = CAPPED_SBI.max_source_px
    small = cv2.resize(big, (cap, cap), interpolation=cv2.INTER_AREA)
    lms = template_landmarks(320, 320, 3.0)

    def crop(image: np.ndarray, recipe: CropRecipe) -> np.ndarray:
        k = image.shape[0] / 640
        return crop_face(image, whole_image_face(*image.shape[1::-1], (lms + 0.5) * k - 0.5), recipe).image

    reference = crop(small, capped)
    np.testing.assert_array_equal(crop(big, capped), reference)
    assert np.abs(crop(big, free).astype(np.float32) - reference).mean() > 2.0
