"""Heatmap localisation against blend masks: the peak-in-region share and the pixel AUC."""

import numpy as np
import pytest
from laanet_bench.localisation import blend_region, heatmap_localisation, peak_position


def _disc(size: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.float32)


def test_blend_region_resizes_by_area_and_thresholds():
    mask = np.zeros((16, 16), np.float32)
    mask[:8, :8] = 1.0
    region = blend_region(mask, (4, 4))
    assert region.tolist() == [[True, True, False, False]] * 2 + [[False] * 4] * 2
    # a faint mask (0.05 everywhere) is not a blend at the default threshold
    assert not blend_region(np.full((16, 16), 0.05, np.float32), (4, 4)).any()


def test_peak_position_is_the_argmax():
    hm = np.zeros((5, 7))
    hm[3, 6] = 1.0
    assert peak_position(hm) == (3, 6)
    with pytest.raises(ValueError):
        peak_position(np.zeros((0, 3)))


def test_a_heatmap_that_follows_the_mask_localises_and_one_that_avoids_it_does_not():
    rng = np.random.default_rng(0)
    masks, follow, avoid = [], [], []
    for _ in range(12):
        cy, cx = rng.uniform(20, 44, size=2)
        m = _disc(64, cy, cx, 10)
        masks.append(m)
        small = blend_region(m, (16, 16)).astype(np.float64)
        follow.append(small * 0.8 + rng.uniform(0, 0.1, (16, 16)))
        avoid.append((1 - small) * 0.8 + rng.uniform(0, 0.1, (16, 16)))
    good = heatmap_localisation(follow, masks)
    bad = heatmap_localisation(avoid, masks)
    assert good["peak_in_blend"] == 1.0 and good["pixel_auc"] > 0.99
    assert bad["peak_in_blend"] == 0.0 and bad["pixel_auc"] < 0.01
    assert good["n"] == good["n_auc"] == 12
    assert 0 < good["chance"] < 0.5


def test_an_uninformative_region_is_left_out_of_the_auc_but_counted_for_the_peak():
    full = np.ones((32, 32), np.float32)
    out = heatmap_localisation([np.random.default_rng(1).random((8, 8))], [full])
    assert out["peak_in_blend"] == 1.0 and out["pixel_auc"] is None and out["n_auc"] == 0


def test_mismatched_or_empty_inputs_are_refused():
    with pytest.raises(ValueError):
        heatmap_localisation([np.zeros((4, 4))], [])
    with pytest.raises(ValueError):
        heatmap_localisation([], [])
