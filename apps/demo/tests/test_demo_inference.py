"""The pure scoring and formatting functions of the demo, without Gradio or a model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from laanet_demo.analysis import to_face_views
from laanet_demo.inference import (
    FaceView,
    UnjudgedView,
    VerdictBands,
    face_record,
    face_rows,
    label_value,
    most_suspicious,
    sigmoid,
    verdict_markdown,
)

probs = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def view(index: int, logit: float, box=(0.0, 0.0, 10.0, 10.0)) -> FaceView:
    p = sigmoid(logit)
    return FaceView(index=index, prob=p, logit=logit, verdict=VerdictBands().verdict(p), box=box,
                    heatmap_crop=np.full((8, 8), 0.25, np.float32), crop=None, crop_matrix=None)


@given(a=probs, b=probs, p=probs)
def test_bands_partition_the_unit_interval(a: float, b: float, p: float) -> None:
    lo, hi = sorted((a, b))
    bands = VerdictBands(lo, hi)
    v = bands.verdict(p)
    assert v == ("fake" if p > hi else "real" if p < lo else "uncertain")


@given(p=probs, q=probs)
def test_verdict_is_monotone(p: float, q: float) -> None:
    bands = VerdictBands(0.3, 0.7)
    order = {"real": 0, "uncertain": 1, "fake": 2}
    lo, hi = sorted((p, q))
    assert order[bands.verdict(lo)] <= order[bands.verdict(hi)]


def test_bands_reject_bad_thresholds_and_probabilities() -> None:
    with pytest.raises(ValueError, match="real_below <= fake_above"):
        VerdictBands(0.8, 0.2)
    with pytest.raises(ValueError, match="probability"):
        VerdictBands().verdict(1.5)
    with pytest.raises(ValueError, match="probability"):
        VerdictBands().verdict(float("nan"))


def test_bands_describe_states_both_thresholds() -> None:
    assert VerdictBands(0.3, 0.7).describe() == "real below 0.3, fake above 0.7, uncertain in between"
    assert VerdictBands(0.5, 0.5).verdict(0.5) == "uncertain" and VerdictBands(0.5, 0.5).verdict(0.51) == "fake"


@given(x=st.floats(min_value=-700, max_value=700))
def test_sigmoid_is_stable_and_symmetric(x: float) -> None:
    s = sigmoid(x)
    assert 0.0 <= s <= 1.0
    assert math.isclose(s + sigmoid(-x), 1.0, rel_tol=0, abs_tol=1e-12)


@given(p=probs, lo=st.floats(0.0, 0.5), width=st.floats(0.0, 0.5))
def test_label_value_never_contradicts_its_number(p: float, lo: float, width: float) -> None:
    bands = VerdictBands(lo, lo + width)
    text = label_value(p, bands)
    verdict = bands.verdict(p)
    assert text.startswith(verdict + " · score ") and f"{p:.3f}" in text
    # the band stated beside the number is the one the number falls in
    if verdict == "fake":
        assert f"(fake above {bands.fake_above:.3g})" in text and p > bands.fake_above
    elif verdict == "real":
        assert f"(real below {bands.real_below:.3g})" in text and p < bands.real_below
    else:
        assert "uncertain from" in text and bands.real_below <= p <= bands.fake_above
    assert "probability" not in text


def test_label_value_without_score() -> None:
    assert label_value(None, VerdictBands()) == "no face"
    assert label_value(None, VerdictBands(), unjudged=2) == "not judged"


@given(st.lists(st.one_of(st.none(), probs), max_size=30), st.integers(0, 10))
def test_most_suspicious_picks_the_top_scores(frame_probs: list[float | None], k: int) -> None:
    top = most_suspicious(frame_probs, k)
    scored = [p for p in frame_probs if p is not None]
    assert len(top) == min(k, len(scored))
    assert all(frame_probs[i] is not None for i in top)
    got = [frame_probs[i] for i in top]
    assert got == sorted(scored, reverse=True)[: len(top)]


def test_face_rows_and_records() -> None:
    faces = [view(1, 2.0, box=(1.4, 2.6, 30.0, 40.0)), view(2, -2.0, box=None)]
    rows = face_rows(faces)
    assert [r[0] for r in rows] == [1, 2]
    assert rows[0][1] == round(sigmoid(2.0), 4) and rows[0][2] == "fake" and rows[0][5] == "1, 3, 30, 40"
    assert rows[1][2] == "real" and rows[1][5] == ""
    small = UnjudgedView((5.0, 6.0, 25.0, 30.0), "face too small to judge")
    rows = face_rows(faces, [small])
    assert len(rows) == 3 and rows[2][2] == "not judged" and rows[2][5] == "5, 6, 25, 30"
    assert rows[2][6] == "face too small to judge" and rows[2][1] is None
    rec = face_record(faces[0])
    assert rec["verdict"] == "fake" and rec["box"] == [1.4, 2.6, 30.0, 40.0] and rec["heatmap_peak"] == 0.25


class _Pred:
    def __init__(self, logit: float, box, heat_shape=(1, 96, 96)) -> None:
        self.logit = logit
        self.prob = sigmoid(logit)
        self.box = np.asarray(box, np.float32)
        self.heatmap = np.zeros(heat_shape, np.float32)
        self.heatmap_crop = None
        self.crop = None
        self.crop_matrix = None


def test_to_face_views_keeps_the_largest_faces_most_fake_first() -> None:
    preds = [_Pred(0.0, (0, 0, 10, 10)), _Pred(1.0, (0, 0, 50, 50)), _Pred(2.0, (0, 0, 30, 30))]
    views = to_face_views(preds, VerdictBands(0.4, 0.6), max_faces=2)
    # the two largest (logits 1 and 2), ordered by score, most fake first, and numbered in that order
    assert [v.logit for v in views] == [2.0, 1.0] and [v.index for v in views] == [1, 2]
    assert views[0].heatmap_crop.shape == (96, 96)
    assert [v.verdict for v in views] == ["fake", "fake"]  # sigmoid(1) = 0.73, sigmoid(2) = 0.88
    all_faces = to_face_views(preds, VerdictBands(0.4, 0.6), max_faces=5)
    assert [v.logit for v in all_faces] == [2.0, 1.0, 0.0] and all_faces[-1].verdict == "uncertain"


def test_verdict_markdown() -> None:
    text = verdict_markdown(0.9, VerdictBands(0.3, 0.7), "video", "mean of logits", 3)
    assert "**fake**" in text and "0.900" in text and "mean of logits" in text and "3 faces" in text
    assert "No face" in verdict_markdown(None, VerdictBands(), "image", "rule", 0)
    small = [UnjudgedView((0, 0, 20, 20), "face too small to judge: 20 px wide, the model needs at least 32 px")]
    text = verdict_markdown(None, VerdictBands(), "image", "rule", 0, small, "LIMITS")
    assert "**not judged**" in text and "20 px wide" in text and text.endswith("LIMITS")
    text = verdict_markdown(0.1, VerdictBands(0.3, 0.7), "image", "rule", 1, small)
    assert "**real**" in text and "1 more face not judged" in text
