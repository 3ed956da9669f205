from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_synth.colour import (
    ColourAugment,
    brightness_contrast,
    downscale,
    hsv_shift,
    jpeg,
    rgb_shift,
    sharpen,
    source_transform,
)

img_strategy = st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s).integers(0, 256, (24, 32, 3), dtype=np.uint8))


@settings(max_examples=20, deadline=None)
@given(img_strategy, st.floats(-40, 40), st.floats(-0.5, 0.5), st.floats(-0.5, 0.5))
def test_ops_keep_shape_and_type(img, shift, b, c):
    for out in (
        rgb_shift(img, [shift, 0, -shift]),
        brightness_contrast(img, b, c),
        hsv_shift(img, -0.3, -0.3, -0.3),
        downscale(img, 2),
        sharpen(img, 0.3, 0.7),
        jpeg(img, 60),
        source_transform(img, np.random.default_rng(0)),
    ):
        assert out.shape == img.shape and out.dtype == np.uint8


def test_exact_values():
    img = np.array([[[10, 100, 250]]], np.uint8)
    assert rgb_shift(img, [5, -5, 20]).tolist() == [[[15, 95, 255]]]
    assert brightness_contrast(img, 0.0, 0.1).tolist() == [[[11, 110, 255]]]
    assert hsv_shift(img, 0.3, 0.3, 0.3) is img  # positive fractional shifts change no uint8 level
    flat = np.full((8, 8, 3), 77, np.uint8)
    assert (sharpen(flat, 0.5, 1.0) >= 77).all() and (downscale(flat, 4) == 77).all()


def test_colour_augment_same_parameters_for_both():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    aug = ColourAugment(p_rgb_shift=1, p_hsv=1, p_brightness_contrast=1, p_jpeg=1)
    a, b = aug([img, img.copy()], np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, img)
