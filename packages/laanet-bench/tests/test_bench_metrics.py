"""Metrics against scikit-learn, and the bootstrap's determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_bench.metrics import (
    BootstrapConfig,
    MetricError,
    accuracy,
    auc,
    average_precision,
    bootstrap_intervals,
    compute_metrics,
    eer,
    macro_recall,
    roc_curve,
)
from sklearn import metrics as skm


@st.composite
def labelled_scores(draw):
    n = draw(st.integers(min_value=2, max_value=60))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    if len(set(y)) < 2:
        y[0], y[-1] = 0, 1
    # coarse grid so that ties are common
    s = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    return np.array(y), np.array(s, dtype=np.float64) / 20.0


@settings(max_examples=150, deadline=None)
@given(labelled_scores())
def test_metrics_match_sklearn(data):
    y, s = data
    assert auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert auc(y, s) == pytest.approx(skm.auc(*skm.roc_curve(y, s)[:2]), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert accuracy(y, s) == pytest.approx(skm.accuracy_score(y, s >= 0.5), abs=1e-12)
    assert macro_recall(y, s) == pytest.approx(skm.recall_score(y, s >= 0.5, average="macro"), abs=1e-12)
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    assert eer(y, s) == pytest.approx(fpr[np.nanargmin(np.abs((1 - tpr) - fpr))], abs=1e-12)
    ours_fpr, ours_tpr, _ = roc_curve(y, s)
    np.testing.assert_allclose(ours_fpr, fpr, atol=1e-12)
    np.testing.assert_allclose(ours_tpr, tpr, atol=1e-12)


def test_mf1_is_the_harmonic_mean_of_ap_and_ar():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    s = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    m = compute_metrics(y, s)
    ap = skm.average_precision_score(y, s)
    ar = skm.recall_score(y, s >= 0.5, average="macro")
    assert m["mf1"] == pytest.approx(2 * ap * ar / (ap + ar))
    assert set(m) == {"auc", "ap", "acc", "eer", "ar", "mf1"}


def test_perfect_and_inverted_scores():
    y = np.array([0, 0, 1, 1])
    assert compute_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["auc"] == 1.0
    assert compute_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["eer"] == 0.0
    assert compute_metrics(y, np.array([0.9, 0.8, 0.2, 0.1]))["auc"] == 0.0


@pytest.mark.parametrize("y, s", [([1, 1, 1], [0.1, 0.2, 0.3]), ([0, 1], [0.1]), ([0, 2], [0.1, 0.2]),
                                  ([0, 1], [0.1, float("nan")])])
def test_bad_input_is_refused(y, s):
    with pytest.raises(MetricError):
        compute_metrics(np.array(y), np.array(s))


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.clip(0.35 * y + 0.65 * rng.random(300), 0, 1)
    a = bootstrap_intervals(y, s, BootstrapConfig(n_boot=200, seed=7))
    b = bootstrap_intervals(y, s, BootstrapConfig(n_boot=200, seed=7))
    c = bootstrap_intervals(y, s, BootstrapConfig(n_boot=200, seed=8))
    assert a == b
    assert a != c
    point = compute_metrics(y, s)
    for name, (lo, hi) in a.items():
        assert lo <= hi
        assert lo - 1e-9 <= point[name] <= hi + 1e-9, name
    assert a["auc"][1] - a["auc"][0] < 0.2


def test_bootstrap_width_shrinks_with_more_data():
    rng = np.random.default_rng(1)
    widths = []
    for n in (60, 2000):
        y = rng.integers(0, 2, n)
        s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
        lo, hi = bootstrap_intervals(y, s, BootstrapConfig(n_boot=200, seed=0))["auc"]
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2
