"""The one band rule: verdict bands from quantiles of the fake probabilities of real calibration faces."""

from __future__ import annotations

import numpy as np
import pytest
from laanet_train.calibration import FAKE_QUANTILE, REAL_QUANTILE, band_rule, calibrate_bands


def test_bands_follow_the_stated_quantiles_of_the_real_scores():
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 1, 1000)
    bands = calibrate_bands(probs, "some real photos")
    assert (FAKE_QUANTILE, REAL_QUANTILE) == (0.99, 0.80)
    assert bands["fake_above"] == pytest.approx(np.quantile(probs, 0.99), abs=1e-4)
    assert bands["real_below"] == pytest.approx(np.quantile(probs, 0.80), abs=1e-4)
    assert (probs > bands["fake_above"]).mean() <= 0.011
    assert bands["n_calibration"] == 1000 and bands["real_below"] <= bands["fake_above"]


def test_the_rule_states_its_quantiles_and_its_data():
    rule = band_rule("the selection photos")
    assert rule == ("fake above the 99th percentile and real below the 80th percentile of the fake probabilities "
                    "of real calibration photos (the selection photos)")
    assert calibrate_bands(np.linspace(0, 1, 11), "the selection photos")["rule"] == rule


def test_bands_need_finite_real_scores():
    with pytest.raises(ValueError, match="real scores"):
        calibrate_bands(np.array([]), "nothing")
    with pytest.raises(ValueError, match="finite"):
        calibrate_bands(np.array([0.1, np.nan]), "broken")
    few = calibrate_bands(np.array([0.1, 0.2, 0.3]), "three faces")  # coarse, but by the same rule
    assert few["fake_above"] == pytest.approx(np.quantile([0.1, 0.2, 0.3], 0.99), abs=1e-4)


def test_known_fakes_lower_the_real_band_only_and_say_so():
    from laanet_train.calibration import FAKE_MISS_QUANTILE

    rng = np.random.default_rng(1)
    reals = rng.uniform(0.0, 1.0, 500)
    fakes = rng.uniform(0.2, 1.0, 300)  # a tenth of them lie below 0.28, far below the reals' 80th percentile
    plain = calibrate_bands(reals, "real photos")
    both = calibrate_bands(reals, "real photos", fakes, "known swaps")
    assert FAKE_MISS_QUANTILE == 0.10
    # the fake band bounds false accusations of real faces: the fakes do not move it
    assert both["fake_above"] == plain["fake_above"]
    assert both["real_below"] == pytest.approx(np.quantile(fakes, 0.10), abs=1e-4)
    assert both["real_below"] < plain["real_below"]
    assert (fakes < both["real_below"]).mean() <= 0.101
    assert both["n_calibration"] == 500 and both["n_calibration_fakes"] == 300
    assert both["rule"].startswith(plain["rule"]) and "10th percentile of the fake probabilities of known fakes " \
        "(known swaps), so that at most about 10 % of them read real" in both["rule"]
    # fakes that score high leave the real band where the reals put it
    high = calibrate_bands(reals, "real photos", rng.uniform(0.9, 1.0, 50), "easy fakes")
    assert high["real_below"] == plain["real_below"]
    with pytest.raises(ValueError, match="fake scores"):
        calibrate_bands(reals, "real photos", [0.5, float("inf")], "broken")
    with pytest.raises(ValueError, match="fake_data"):
        calibrate_bands(reals, "real photos", fakes)
