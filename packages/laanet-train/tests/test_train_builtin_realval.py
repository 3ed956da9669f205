"""The built-in weights' real-image figures are reproduced from the shipped file: the verdict bands calibrated
on the selection photos, and every specificity and sensitivity figure on the card (the real-image
validation protocol of :mod:`laanet_train.realval`, run through the registry's Detector)."""

from __future__ import annotations

from pathlib import Path

import pytest
from laanet_model.detector import Detector
from laanet_model.weights import BUILTIN_WEIGHTS, get_weights
from laanet_train.realval import run_protocol, validation_identities_of_card

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(shared_data: Path, shipped_card: dict, builtin_detector: Detector) -> dict:
    for sub in ("faces/portraits", "faces/realworld", "faces/groups", "dfdc-crops", "lfw", "videos"):
        if not (shared_data / sub).exists():
            pytest.skip(f"{shared_data / sub} is absent")
    people = validation_identities_of_card(shipped_card, shared_data / "lfw")
    return run_protocol(builtin_detector, shared_data, exclude_identities=people)


def test_bands_are_the_calibrated_ones(report: dict, shipped_card: dict) -> None:
    spec, want = get_weights(BUILTIN_WEIGHTS), shipped_card["thresholds"]
    assert report["thresholds"]["fake_above"] == pytest.approx(want["fake_above"], abs=2e-3)
    assert report["thresholds"]["real_below"] == pytest.approx(want["real_below"], abs=2e-3)
    assert spec.thresholds.fake_above == want["fake_above"]
    assert shipped_card["thresholds_rule"] == report["thresholds"]["rule"]


@pytest.mark.parametrize("key", ["real_photos", "portraits_reported", "groups_faces", "realworld"])
def test_specificity_is_reproduced(report: dict, shipped_card: dict, key: str) -> None:
    got, want = report["metrics"][key], shipped_card["metrics"][key]
    assert got["n"] == want["n"]
    assert abs(got["called_fake"] - want["called_fake"]) <= 1, key
    assert got["median_prob"] == pytest.approx(want["median_prob"], abs=0.01)


def test_lfw_resolutions_and_consistency_are_reproduced(report: dict, shipped_card: dict) -> None:
    for tag, want in shipped_card["metrics"]["lfw_heldout_resolutions"].items():
        got = report["metrics"]["lfw_heldout_resolutions"][tag]
        assert got["n"] == want["n"] and abs(got["called_fake"] - want["called_fake"]) <= 1, tag
    got, want = report["metrics"]["resolution_consistency"], shipped_card["metrics"]["resolution_consistency"]
    assert got["median_abs_logit_change"] == pytest.approx(want["median_abs_logit_change"], abs=0.05)
    got, want = report["metrics"]["resolution_sweep"], shipped_card["metrics"]["resolution_sweep"]
    assert got["n"] == want["n"]
    assert got["within_tolerance"] == pytest.approx(want["within_tolerance"], abs=0.04)
    assert got["median_prob_spread"] == pytest.approx(want["median_prob_spread"], abs=0.01)


def test_sensitivity_is_reproduced(report: dict, shipped_card: dict) -> None:
    for kind in ("sbi", "bi"):
        got, want = report["metrics"]["synthetic_test"][kind], shipped_card["metrics"]["synthetic_test"][kind]
        assert got["auc"] == pytest.approx(want["auc"], abs=0.01), kind
    got, want = report["metrics"]["dfdc_crops"], shipped_card["metrics"]["dfdc_crops"]
    assert (got["n_real"], got["n_fake"]) == (34, 33)
    assert got["auc"] == pytest.approx(want["auc"], abs=0.01)
    assert got["ap"] == pytest.approx(want["ap"], abs=0.01)
    got, want = report["metrics"]["fake_clips"], shipped_card["metrics"]["fake_clips"]
    assert got["n"] == want["n"] == 2 and got["called_fake"] == want["called_fake"]
    for clip, prob in want["probs"].items():
        assert got["probs"][clip] == pytest.approx(prob, abs=0.01), clip


def test_the_selection_score_the_card_records_is_reproduced(shared_data: Path, shipped_card: dict,
                                                            builtin_detector: Detector, tmp_path: Path) -> None:
    """The shipped file scores on the selection data what the card says the selection rule saw for it (the
    recorded score is the float32 soup's; the shipped file is its float16 rounding)."""
    import yaml
    from laanet_train.export import selection_recipe
    from laanet_train.realval import SelectionBench, rule_value

    for sub in ("faces/portraits", "faces/realworld", "lfw"):
        if not (shared_data / sub).exists():
            pytest.skip(f"{shared_data / sub} is absent")
    tr = shipped_card["training"]
    want = tr["soup"]["candidates"][tr["soup"]["checkpoint"]] if "soup" in tr else None
    if want is None:
        pytest.skip("the shipped weights are a single checkpoint: their selection scores are the run's")
    scored_with = selection_recipe(shipped_card)
    recipe = dict(scored_with, data=dict(scored_with["data"], root=str(shared_data / "lfw")))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(recipe))
    got = SelectionBench(tmp_path, shared_data).score_detector(builtin_detector)
    assert got["synthetic_val_auc"] == pytest.approx(want["synthetic_val_auc"], abs=3e-3)
    assert got["photos_vs_fakes_auc"] == pytest.approx(want["photos_vs_fakes_auc"], abs=3e-3)
    if "sweep_within" in want:  # one selection photo more or less may cross the tolerance with float16 weights
        assert got["sweep_within"] == pytest.approx(want["sweep_within"], abs=0.02)
    else:  # a search ranked by the two AUCs: compare like with like
        got = {k: v for k, v in got.items() if k not in ("sweep_within", "sweep_photos")}
    # and it is still the best of every candidate the card records
    assert rule_value(got) > max(rule_value(row) for k, row in tr["soup"]["candidates"].items()
                                 if k != tr["soup"]["checkpoint"]) - 1e-3


def test_the_face_score_floor_on_the_card_is_the_rules_choice(shared_data: Path, shipped_card: dict, capsys) -> None:
    """The built-in recipe's ``min_face_score`` is what the stated rule gives on the selection photos, recomputed
    here with the face finder (and the registry entry and the card agree)."""
    import json

    from laanet_train.realval import FACE_SCORE_RULE, main
    from laanet_train.validation import RUN_MIN_FACE_SCORE, RUN_MIN_FACE_SIZE

    for sub in ("faces/portraits", "faces/realworld"):
        if not (shared_data / sub).exists():
            pytest.skip(f"{shared_data / sub} is absent")
    assert main(["face-score", "--shared", str(shared_data)]) == 0
    got = json.loads(capsys.readouterr().out)
    chosen = shipped_card["face_score_selection"]
    assert got["min_face_score"] == chosen["chosen"] == RUN_MIN_FACE_SCORE
    assert got["min_face_size"] == RUN_MIN_FACE_SIZE and got["rule"] == FACE_SCORE_RULE == chosen["rule"]
    assert got["lowest_top_score"] == pytest.approx(chosen["measured"]["lowest_top_score"], abs=2e-3)
    assert get_weights(BUILTIN_WEIGHTS).preprocessing.min_face_score == RUN_MIN_FACE_SCORE
