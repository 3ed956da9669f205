"""The real-swap figures: overall and per method, the band shares, rows without a score, the split's rows."""

from __future__ import annotations

import numpy as np
import pytest
from laanet_research.real_swaps import list_rows, swap_figures


def _rows():
    return ([{"label": "0", "method": "real"}] * 4
            + [{"label": "1", "method": "A"}] * 2 + [{"label": "1", "method": "B"}] * 2)


def test_figures_per_method_and_overall():
    probs = [0.1, 0.2, 0.3, 0.9, 0.95, 0.8, 0.05, 0.15]
    out = swap_figures(_rows(), probs, fake_above=0.5)
    assert out["n_real"] == 4 and out["n_fake"] == 4 and out["not_scored"] == 0
    # method A: both fakes above every real but one (0.9): AUC = (4 + 3) / 8
    assert out["methods"]["A"]["auc"] == pytest.approx(7 / 8)
    # method B: both fakes below most reals
    assert out["methods"]["B"]["auc"] == pytest.approx(1 / 8)
    assert out["methods"]["A"]["fakes_called_fake"] == 1.0 and out["methods"]["B"]["fakes_called_fake"] == 0.0
    assert out["reals_called_fake"] == 0.25 and out["fakes_called_fake"] == 0.5
    assert out["methods"]["A"]["n_real"] == 4 and out["methods"]["A"]["n_fake"] == 2
    assert "fakes_called_real" not in out
    # with the real band: the fakes below it read "real"
    banded = swap_figures(_rows(), probs, fake_above=0.5, real_below=0.2)
    assert banded["fakes_called_real"] == 0.5 and banded["methods"]["B"]["fakes_called_real"] == 1.0
    assert banded["methods"]["A"]["fakes_called_real"] == 0.0


def test_rows_without_a_score_are_counted_not_scored():
    probs = [0.1, None, 0.3, 0.4, 0.9, None, 0.2, 0.6]
    out = swap_figures(_rows(), probs, fake_above=0.5)
    assert out["not_scored"] == 2 and out["n_real"] == 3 and out["n_fake"] == 3
    with pytest.raises(ValueError):
        swap_figures(_rows(), probs[:3])


def test_list_rows_reads_one_split_with_absolute_paths(tmp_path):
    (tmp_path / "deepfakes").mkdir()
    (tmp_path / "deepfakes" / "index.csv").write_text(
        "path,label,method,group,split\nx/a.jpg,0,real,g1,report\nx/b.jpg,1,A,g1,select\n")
    rows = list_rows(tmp_path, "report")
    assert [r["path"] for r in rows] == [str(tmp_path / "x/a.jpg")]
    with pytest.raises(ValueError, match="no rows"):
        list_rows(tmp_path, "train")


def test_the_selection_rows_swap_measures_score_every_image_with_the_no_face_rule(tmp_path):
    """The real-swap AUC of a selection row: faces by the frame rule, the recipe's no-face rule otherwise."""
    from laanet_research.selection import rule_value, swap_measures
    from laanet_synth.imageio import write_image_atomic

    rows = []
    for i, (label, grey) in enumerate([(0, 10), (0, 60), (0, 200), (1, 120), (1, 220), (1, 30)]):
        path = tmp_path / f"{i}.png"
        write_image_atomic(path, np.full((8, 8, 3), grey, np.uint8))
        rows.append({"path": str(path), "label": str(label), "method": "A"})

    class Scorer:
        """A face in every image brighter than 25 (logit by brightness); the darkest gets the no-face rule's
        whole-image score, which calls it fake (logit 5)."""

        seen: list[str] = []

        def predict(self, key, image):
            import types

            from laanet_model.scoring import sigmoid

            self.seen.append(key)
            mean = float(image.mean())
            logit = 5.0 if mean < 25 else (mean - 100) / 20
            return types.SimpleNamespace(score=lambda: float(sigmoid(logit)))

    scorer = Scorer()
    got = swap_measures(scorer, rows)
    # probabilities: reals 0.993 (no face), 0.12, 0.993; fakes 0.73, 0.998, 0.03
    assert got["swap_auc"] == pytest.approx(4 / 9, abs=1e-4)
    assert len(scorer.seen) == 6 and all(k.startswith("swaplist/") for k in scorer.seen)
    four = {"synthetic_val_auc": 0.9, "photos_vs_fakes_auc": 0.8, "sweep_within": 0.7, "swap_auc": 0.6}
    assert rule_value(four) == pytest.approx(0.75)
    assert "card_fake_above" not in got  # without the calibration photos there is no card band to state


def test_the_selection_rows_state_the_card_band_and_the_swaps_it_calls_fake(monkeypatch) -> None:
    """With the calibration photos, the row adds (outside the rule) the band the card would get from the same
    selection data and the share of the swaps above it."""
    import types

    from laanet_research.photo_bands import photo_and_swap_bands
    from laanet_research.selection import rule_value, swap_measures

    probs = {"r1": 0.1, "r2": 0.2, "r3": 0.95, "f1": 0.5, "f2": 0.97, "f3": 0.99}
    rows = [{"path": k, "label": str(int(k[0] == "f")), "method": "A"} for k in probs]

    class Scorer:
        def predict(self, key, image):
            return types.SimpleNamespace(score=lambda: probs[key.split("/", 1)[1]])

    photos = np.linspace(0.05, 0.6, 40)
    monkeypatch.setattr("laanet_synth.imageio.read_image", lambda path: None)  # the scorer needs no pixels
    got = swap_measures(Scorer(), rows, photos)
    band = photo_and_swap_bands(photos, np.array([0.1, 0.2, 0.95]), np.array([0.5, 0.97, 0.99]))["fake_above"]
    assert got["card_fake_above"] == band and 0.6 < band < 0.97  # the real at 0.95 lifts the band
    assert got["swaps_called_fake"] == pytest.approx(2 / 3, abs=1e-4)
    row = {"synthetic_val_auc": 0.9, "photos_vs_fakes_auc": 0.8, "sweep_within": 0.7, **got}
    assert rule_value(row) == pytest.approx((0.9 + 0.8 + 0.7 + got["swap_auc"]) / 4)  # not in the rule
