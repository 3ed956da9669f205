"""Resolution and quality invariance (laanet_synth.quality) and the anti-aliased crop recipe."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_synth.crops import (
    ANTIALIASED_SBI,
    OFFICIAL_SBI,
    calibrate_box,
    crop_face,
    get_recipe,
    recipe_for_size,
)
from laanet_synth.faces import Face
from laanet_synth.landmarks import template_landmarks
from laanet_synth.quality import (
    QUALITY_RECIPES,
    QualityAugment,
    degrade_images,
    degrade_pair,
    frame_window,
    quality_recipe,
    reframe_source,
    resample_view,
    rescale_source,
)

ALWAYS = QualityAugment(p_rescale=1.0, p_sharpen=0.5, p_blur=0.5, p_noise=1.0, p_grey=0.5, p_jpeg=1.0, p_smooth=0.5)


def _photo(seed: int, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_degrade_pair_applies_the_same_draw_to_both(seed):
    img = _photo(seed % 1000)
    a, b = degrade_pair(img, img.copy(), np.random.default_rng(seed), ALWAYS)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape == img.shape


def test_degrade_pair_keeps_the_difference_local():
    real = _photo(3, 128)
    fake = real.copy()
    fake[56:72, 56:72] = 255 - fake[56:72, 56:72]
    changed = 0
    for seed in range(20):
        a, b = degrade_pair(real, fake, np.random.default_rng(seed), ALWAYS)
        diff = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
        outside = np.ones_like(diff, bool)
        outside[40:88, 40:88] = False  # the blend region grown by two JPEG blocks
        assert diff[outside].max() == 0, f"seed {seed}: the degradation leaked the difference out of the region"
        changed += int(diff[60:68, 60:68].max() > 0)
    assert changed == 20


def test_degrade_pair_changes_the_images_and_rejects_mismatched_shapes():
    img = _photo(5)
    a, _ = degrade_pair(img, img, np.random.default_rng(0), ALWAYS)
    assert np.abs(a.astype(int) - img.astype(int)).mean() > 0.5
    with pytest.raises(ValueError, match="same shape"):
        degrade_pair(img, img[:50], np.random.default_rng(0), ALWAYS)


def test_rescale_source_moves_landmarks_with_the_image():
    lms = template_landmarks(130, 110)
    image = np.zeros((240, 260, 3), np.uint8)
    for x, y in lms[[36, 45, 30, 8]]:
        cv2.circle(image, (int(round(x)), int(round(y))), 4, (255, 255, 255), -1)
    face = Face(box=np.concatenate([lms.min(0), lms.max(0)]), score=1.0, landmarks=lms)
    scales = []
    for seed in range(12):
        out, moved = rescale_source(image, face, np.random.default_rng(seed), QualityAugment(p_rescale=1.0))
        scales.append(out.shape[1] / image.shape[1])
        for x, y in moved.landmarks[[36, 45, 30, 8]]:
            assert out[int(round(y)), int(round(x))].max() > 100, f"seed {seed}: landmark off its dot"
        np.testing.assert_allclose(moved.box[2] / face.box[2], out.shape[1] / image.shape[1], rtol=1e-3)
    assert min(scales) < 1 < max(scales), "both shrinking and enlarging must be drawn"
    assert all(0.44 <= s <= 2.51 for s in scales)


def test_rescale_source_is_identity_when_off():
    image = _photo(1)
    lms = template_landmarks(48, 40, 0.5)
    face = Face(box=np.array([0, 0, 96, 96]), score=1.0, landmarks=lms)
    out, same = rescale_source(image, face, np.random.default_rng(0), QualityAugment(p_rescale=0.0))
    assert out is image and same is face


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_reframe_source_cuts_close_around_the_face_and_moves_it_along(seed):
    lms = template_landmarks(150, 130)
    image = np.zeros((300, 320, 3), np.uint8)
    for x, y in lms[[36, 45, 30, 8]]:
        cv2.circle(image, (int(round(x)), int(round(y))), 4, (255, 255, 255), -1)
    face = Face(box=np.concatenate([lms.min(0), lms.max(0)]), score=1.0, landmarks=lms)
    cfg = QualityAugment(p_frame=1.0)
    out, moved = reframe_source(image, face, np.random.default_rng(seed), cfg)
    assert out.shape[0] < image.shape[0] or out.shape[1] < image.shape[1], "a window is always drawn at p_frame=1"
    for x, y in moved.landmarks[[36, 45, 30, 8]]:
        assert out[int(round(y)), int(round(x))].max() > 100, "landmark off its dot"
    np.testing.assert_allclose(moved.box - face.box, np.tile(moved.landmarks[0] - face.landmarks[0], 2), atol=1e-4)
    # the calibrated box stays inside the window, and no side is cut further out than the widest margin
    bx1, by1, bx2, by2 = calibrate_box(moved)
    assert bx1 >= -1 and by1 >= -1 and bx2 <= out.shape[1] + 1 and by2 <= out.shape[0] + 1
    w, h = bx2 - bx1, by2 - by1
    win = frame_window(face, image.shape[1], image.shape[0], np.random.default_rng(seed), cfg)
    x1, y1, x2, y2 = win
    fx1, fy1, fx2, fy2 = calibrate_box(face)
    cut = [x1 > 0, y1 > 0, x2 < image.shape[1], y2 < image.shape[0]]
    gaps = [fx1 - x1, fy1 - y1, x2 - fx2, y2 - fy2]
    sizes = [w, h, w, h]
    assert any(cut)
    assert all(g <= 0.25 * s + 1 for g, s, c in zip(gaps, sizes, cut, strict=True) if c)


def test_reframe_source_is_identity_when_off_and_in_the_named_recipe():
    image = _photo(1, 200)
    lms = template_landmarks(100, 80, 0.5)
    face = Face(box=np.concatenate([lms.min(0), lms.max(0)]), score=1.0, landmarks=lms)
    rng = np.random.default_rng(0)
    out, same = reframe_source(image, face, rng, QualityAugment())
    assert out is image and same is face
    assert rng.random() == np.random.default_rng(0).random(), "no draw is made when the step is off"
    framed = QUALITY_RECIPES["v2-framed"]
    assert 0 < framed.p_frame < 1 and framed == QualityAugment(p_frame=framed.p_frame)
    shares = [frame_window(face, 200, 200, np.random.default_rng(k), framed) is not None for k in range(400)]
    assert abs(np.mean(shares) - framed.p_frame) < 0.08


def test_quality_config_is_validated():
    with pytest.raises(ValueError, match="scale_range"):
        QualityAugment(scale_range=(0.0, 2.0))
    with pytest.raises(ValueError, match="jpeg_quality"):
        QualityAugment(jpeg_quality=(50, 101))
    with pytest.raises(ValueError, match="p_noise"):
        QualityAugment(p_noise=1.5)
    with pytest.raises(ValueError, match="frame_margin"):
        QualityAugment(frame_margin=(0.3, 0.1))
    with pytest.raises(ValueError, match="p_frame"):
        QualityAugment(p_frame=-0.1)


def test_antialiased_recipe_removes_aliasing_when_shrinking():
    # a 1-pixel checkerboard photo with a large face: the plain bilinear shrink aliases it into a pattern,
    # the area shrink averages it to flat grey
    yy, xx = np.mgrid[0:1200, 0:1200]
    image = np.repeat((((yy + xx) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)
    lms = template_landmarks(600, 560, 7.0)
    face = Face(box=np.concatenate([lms.min(0), lms.max(0)]), score=1.0, landmarks=lms)
    plain = crop_face(image, face, recipe_for_size(160, OFFICIAL_SBI)).image
    smooth = crop_face(image, face, recipe_for_size(160, ANTIALIASED_SBI)).image
    assert smooth[10:-10, 10:-10].std() < 3.0
    assert plain[10:-10, 10:-10].std() > 20.0


def test_antialiased_crop_matrix_maps_landmarks_onto_the_face():
    lms = template_landmarks(400, 420, 5.0)
    image = np.zeros((900, 800, 3), np.uint8)
    for x, y in lms:
        cv2.circle(image, (int(round(x)), int(round(y))), 9, (255, 255, 255), -1)
    face = Face(box=np.concatenate([lms.min(0), lms.max(0)]), score=1.0, landmarks=lms)
    crop = crop_face(image, face, recipe_for_size(160, get_recipe("antialiased-sbi")))
    assert crop.image.shape == (160, 160, 3)
    for x, y in crop.landmarks:
        if 1 <= x < 159 and 1 <= y < 159:
            assert crop.image[int(round(y)), int(round(x))].max() > 60


def test_smoothing_preserves_edges_and_removes_texture():
    rng = np.random.default_rng(0)
    img = np.full((96, 96, 3), 60, np.float32)
    img[:, 48:] = 190
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    only_smooth = QualityAugment(p_rescale=0.0, p_sharpen=0.0, p_blur=0.0, p_noise=0.0, p_grey=0.0, p_jpeg=0.0,
                                 p_smooth=1.0, smooth_sigma_color=(40.0, 40.0), smooth_sigma_space=(3.0, 3.0))
    a, b = degrade_pair(img, img.copy(), np.random.default_rng(1), only_smooth)
    np.testing.assert_array_equal(a, b)
    flat = (slice(10, 86), slice(5, 40))
    assert a[flat].std() < 0.5 * img[flat].std()  # the texture is smoothed away
    edge_before = img[:, 50:].mean() - img[:, :46].mean()
    edge_after = a[:, 50:].mean() - a[:, :46].mean()
    assert edge_after > 0.95 * edge_before  # the edge is kept
    assert abs(int(a[40, 47, 0]) - int(a[40, 48, 0])) > 100


def test_named_quality_recipes():
    assert quality_recipe(False) is None
    assert quality_recipe(True) is QUALITY_RECIPES["v2"] == QualityAugment()
    assert QUALITY_RECIPES["v2"].p_smooth == 0.0 and QUALITY_RECIPES["v3"].p_smooth > 0
    assert QUALITY_RECIPES["v3"] == QualityAugment(p_smooth=QUALITY_RECIPES["v3"].p_smooth)
    v4 = QUALITY_RECIPES["v4"]
    assert v4.p_smooth == 0.0 and v4.p_sharpen + v4.p_blur <= 1.0 and v4.scale_range[1] > QualityAugment().scale_range[1]
    with pytest.raises(ValueError, match="unknown quality recipe"):
        quality_recipe("v9")
    with pytest.raises(ValueError, match="smooth_sigma_color"):
        QualityAugment(smooth_sigma_color=(50.0, 10.0))



@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_a_copied_stream_degrades_a_third_image_as_it_degraded_the_pair(seed):
    import copy

    real, fake, third = _photo(seed % 1000), _photo(seed % 1000 + 1), _photo(seed % 1000 + 2)
    rng = np.random.default_rng(seed)
    twin = copy.deepcopy(rng)
    a, b = degrade_pair(real, fake, rng, ALWAYS)
    (c,) = degrade_images([third], twin, ALWAYS)
    # the third image got the same draws: degrading all three together gives the same three images
    x, y, z = degrade_images([real, fake, third], np.random.default_rng(seed), ALWAYS)
    for got, want in ((a, x), (b, y), (c, z)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="one shape"):
        degrade_images([real, real[:10]], np.random.default_rng(0), ALWAYS)


def test_resample_view_lowers_the_resolution_and_keeps_the_size():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)  # all detail at the finest scale

    def detail(x: np.ndarray) -> float:  # mean change between horizontal and vertical neighbours
        f = x.astype(np.float32)
        return float(np.abs(np.diff(f, axis=0)).mean() + np.abs(np.diff(f, axis=1)).mean()) / 2

    cfg = QualityAugment(view_scale=(0.3, 0.5))
    views = [resample_view(img, np.random.default_rng(s), cfg) for s in range(8)]
    assert all(v.shape == img.shape and v.dtype == np.uint8 for v in views)
    assert max(detail(v) for v in views) < 0.6 * detail(img)
    np.testing.assert_array_equal(views[0], resample_view(img, np.random.default_rng(0), cfg))
    with pytest.raises(ValueError, match="view_scale"):
        QualityAugment(view_scale=(0.5, 1.5))
