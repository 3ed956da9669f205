"""The built-in weights' figures are reproduced from the shipped file: the verdict bands calibrated on the
selection photos, every specificity and sensitivity figure on the card (the real-image report of
:mod:`laanet_research.report`, run through the registry's Detector), the synthetic validation AUC, and the
training record's claims about the selection (the score the rule saw, the face-score floor)."""

from __future__ import annotations

from pathlib import Path

import pytest
from laanet_model.detector import Detector
from laanet_model.weights import BUILTIN_WEIGHTS, get_weights
from laanet_research.heldout import validation_identities_of_card
from laanet_research.report import run_protocol

RECORD = Path(__file__).resolve().parents[1] / "builtin-lite0" / "record.json"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def record(shipped_card: dict) -> dict:
    """The training record of the built-in weights (``research/builtin-lite0/record.json``)."""
    import json

    data = json.loads(RECORD.read_text())
    assert data["sha256"] == shipped_card["sha256"], "the record describes other weights than the shipped ones"
    return data


@pytest.fixture(scope="module")
def report(shared_data: Path, shipped_card: dict, builtin_detector: Detector) -> dict:
    for sub in ("faces/portraits", "faces/realworld", "faces/groups", "dfdc-crops", "lfw", "videos",
                "deepfakes/index.csv"):
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


def test_heatmap_localisation_is_reproduced(report: dict, shipped_card: dict) -> None:
    for kind in ("sbi", "bi"):
        got, want = report["metrics"]["heatmap_localisation"][kind], shipped_card["metrics"]["heatmap_localisation"][kind]
        assert got["n"] == want["n"]
        assert got["peak_in_blend"] == pytest.approx(want["peak_in_blend"], abs=0.04), kind
        assert got["pixel_auc"] == pytest.approx(want["pixel_auc"], abs=0.02), kind
        assert got["peak_median"] == pytest.approx(want["peak_median"], abs=0.02), kind
        assert got["peak_in_blend"] > got["chance"], kind


def test_real_swap_figures_are_reproduced(report: dict, shipped_card: dict) -> None:
    got, want = report["metrics"]["real_swaps"], shipped_card["metrics"]["real_swaps"]
    assert (got["n_real"], got["n_fake"], got["not_scored"]) == (want["n_real"], want["n_fake"], want["not_scored"])
    for key in ("auc", "ap", "fakes_called_fake", "reals_called_fake"):
        assert got[key] == pytest.approx(want[key], abs=0.015), key
    assert got["methods"].keys() == want["methods"].keys()
    for method, figures in want["methods"].items():
        assert got["methods"][method]["auc"] == pytest.approx(figures["auc"], abs=0.02), method


def test_the_selection_score_the_record_names_is_reproduced(shared_data: Path, shipped_card: dict, record: dict,
                                                           builtin_detector: Detector, tmp_path: Path) -> None:
    """The shipped file scores on the selection data what the record says the selection rule saw for it (the
    recorded score is the float32 weights'; the shipped file is their float16 rounding), and its synthetic
    validation AUC is the card's."""
    import yaml
    from laanet_research.selection import rule_value
    from laanet_research.selection_bench import SelectionBench
    from laanet_train.export import selection_recipe

    for sub in ("faces/portraits", "faces/realworld", "lfw"):
        if not (shared_data / sub).exists():
            pytest.skip(f"{shared_data / sub} is absent")
    # the choice: a run's epochs against the previous weights (selection_scores), or a greedy soup search
    chosen = record["training"].get("selection_scores") or record["training"]["soup"]
    want = chosen["candidates"][chosen["checkpoint"]]
    scored_with = selection_recipe(shipped_card)
    recipe = dict(scored_with, data=dict(scored_with["data"], root=str(shared_data / "lfw")))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(recipe))
    swap_split = "select" if "swap_auc" in want else None
    if swap_split and not (shared_data / "deepfakes" / "index.csv").is_file():
        pytest.skip(f"{shared_data / 'deepfakes'} is absent")
    got = SelectionBench(tmp_path, shared_data, swap_split=swap_split).score_detector(builtin_detector)
    assert got["synthetic_val_auc"] == pytest.approx(want["synthetic_val_auc"], abs=3e-3)
    assert got["synthetic_val_auc"] == pytest.approx(shipped_card["metrics"]["synthetic_val"]["auc"], abs=3e-3)
    assert got["photos_vs_fakes_auc"] == pytest.approx(want["photos_vs_fakes_auc"], abs=3e-3)
    # one selection photo more or less may cross the tolerance with float16 weights
    assert got["sweep_within"] == pytest.approx(want["sweep_within"], abs=0.02)
    if swap_split:
        assert got["swap_auc"] == pytest.approx(want["swap_auc"], abs=3e-3)
    # and it is still the best of every candidate the record lists
    # (by the rule the record states; records written before rules were named are read by their measures)
    rule = chosen.get("rule")
    assert rule_value(got, rule) > max(rule_value(row, rule) for k, row in chosen["candidates"].items()
                                       if k != chosen["checkpoint"]) - 1e-3


def test_the_face_score_floor_on_the_card_is_the_rules_choice(shared_data: Path, record: dict, capsys) -> None:
    """The built-in recipe's ``min_face_score`` is what the stated rule gives on the selection photos, recomputed
    here with the face finder (and the registry entry and the card agree)."""
    import json

    from laanet_research.cli import main
    from laanet_research.face_score import FACE_SCORE_RULE
    from laanet_train.validation import RUN_MIN_FACE_SCORE, RUN_MIN_FACE_SIZE

    for sub in ("faces/portraits", "faces/realworld"):
        if not (shared_data / sub).exists():
            pytest.skip(f"{shared_data / sub} is absent")
    assert main(["face-score", "--shared", str(shared_data)]) == 0
    got = json.loads(capsys.readouterr().out)
    chosen = record["face_score_selection"]
    assert got["min_face_score"] == chosen["chosen"] == RUN_MIN_FACE_SCORE
    assert got["min_face_size"] == RUN_MIN_FACE_SIZE and got["rule"] == FACE_SCORE_RULE == chosen["rule"]
    assert got["lowest_top_score"] == pytest.approx(chosen["measured"]["lowest_top_score"], abs=2e-3)
    assert get_weights(BUILTIN_WEIGHTS).preprocessing.min_face_score == RUN_MIN_FACE_SCORE
