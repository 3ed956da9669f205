"""The real-image validation protocol's pure parts: portrait halves, quarter-size renders, verdict bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from laanet_train.realval import BAND_RULE, bands_from_calibration, portrait_halves, quarter


def test_portrait_halves_are_disjoint_stable_and_complete():
    paths = [Path(f"/x/p{i:02d}.jpg") for i in range(63)]
    sel, rep = portrait_halves(paths)
    assert len(sel) == 32 and len(rep) == 31
    assert not set(sel) & set(rep) and set(sel) | set(rep) == set(paths)
    # the split depends on names only: order and added files do not move a photo between halves
    sel2, rep2 = portrait_halves(list(reversed(paths)))
    assert sel2 == sel and rep2 == rep
    more_sel, more_rep = portrait_halves(paths + [Path("/x/new.jpg")])
    assert len(set(sel) - set(more_sel)) <= 1 and len(set(rep) - set(more_rep)) <= 1
    # not simply the alphabetical first half
    assert sel != sorted(paths)[:32]


def test_quarter_shrinks_each_side_by_four_with_area_averaging():
    img = np.zeros((400, 300, 3), np.uint8)
    img[::2] = 255
    q = quarter(img)
    assert q.shape == (100, 75, 3)
    assert abs(int(q.mean()) - 127) <= 1 and q.std() < 1.0


def test_bands_follow_the_stated_quantiles():
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 1, 1000)
    bands = bands_from_calibration(probs)
    assert bands["fake_above"] == pytest.approx(np.quantile(probs, 0.99), abs=1e-4)
    assert bands["real_below"] == pytest.approx(np.quantile(probs, 0.80), abs=1e-4)
    assert (probs > bands["fake_above"]).mean() <= 0.011
    assert bands["rule"] == BAND_RULE and bands["n_calibration"] == 1000


def test_bands_need_enough_calibration_photos():
    with pytest.raises(ValueError, match="at least 10"):
        bands_from_calibration(np.full(5, 0.1))
