"""The built-in weights: they load through the registry and the Detector, their card is complete and
honest, and the card's dfdc-crops AUC is reproduced by the evaluation code."""

from __future__ import annotations

from pathlib import Path

import pytest
from laanet_model.checkpoints import file_sha256
from laanet_model.detector import Detector
from laanet_model.weights import BUILTIN_WEIGHTS, get_weights
from laanet_train.evaluate import score_folder

NAME = "laanet-lite0-sbi-lfw"


def test_builtin_file_is_small_and_stored_in_float16(shipped_card: dict) -> None:
    path = get_weights(NAME).path()
    assert BUILTIN_WEIGHTS == NAME
    assert path.stat().st_size <= 30 * 1024 * 1024
    assert file_sha256(path) == shipped_card["sha256"]
    assert shipped_card["storage_dtype"].startswith("float16")


def test_card_metrics_come_from_the_selected_epoch(shipped_card: dict) -> None:
    tr = shipped_card["training"]
    for key in ("data", "validation", "recipe", "epochs_run", "steps_run", "seed", "wall_time_seconds"):
        assert key in tr, key
    assert "peopleDevTrain" in tr["data"] and "peopleDevTest" in tr["validation"]
    pre, size = shipped_card["preprocessing"], shipped_card["config"]["input_size"]
    assert pre["crop"]["input_size"] == tr["recipe"]["data"]["input_size"] == size
    assert pre["flip_test"] is True and pre["face_detector"] == "retinaface"
    m = shipped_card["metrics"]
    d = m["dfdc_crops"]
    assert (d["n_real"], d["n_fake"]) == (34, 33)
    # the exported epoch is one of the run's epochs (chosen by the rule the card states, not necessarily the
    # best synthetic-validation epoch), and the exported synthetic-validation figures are that epoch's,
    # re-measured through the Detector with the float16 weights
    assert "selection halves of faces/portraits and faces/realworld" in tr["selection"]
    chosen = [row for row in tr["history"] if (row["epoch"], row["global_step"]) == (tr["best_epoch"], tr["best_step"])]
    assert len(chosen) == 1
    synth = m["synthetic_val"]
    soup = tr.get("soup")
    if soup is None:
        assert synth["auc"] == pytest.approx(chosen[0]["val_auc"], abs=0.01)
    else:
        # a weight average: every ingredient is either the checkpoint the chain above ends in (its chosen epoch)
        # or an epoch of a fine-tune of that checkpoint described on the card, and every fine-tune described
        # there gives at least one; the figures are the average's own
        candidate = soup["candidates"][soup["checkpoint"]]
        labels = [x["label"] for x in soup["ingredients"]]
        assert labels == candidate["ingredients"] and len(set(labels)) == len(labels)
        assert all(len(x["sha256"]) == 64 for x in soup["ingredients"])
        fine_tunes = {st["stage"]: st for st in soup["fine_tunes"]}
        used, base = set(), []
        for label in labels:
            stage, epoch = (int(x) for x in label.removeprefix("stage").split("-epoch"))
            if stage in fine_tunes:
                used.add(stage)
                assert epoch < len(fine_tunes[stage]["history"]) and fine_tunes[stage]["steps_run"] > 0
            else:
                base.append(label)
                assert epoch == tr["best_epoch"], label
        assert used == set(fine_tunes) and len(base) <= 1
        assert synth["auc"] == pytest.approx(candidate["synthetic_val_auc"], abs=0.01)
        from laanet_train.realval import rule_value

        def like(row: dict, other: dict) -> dict:
            """``row`` with the measures ``other`` was scored on (rows of the two-AUC searches lack the sweep)."""
            return row if "sweep_within" in other else {k: v for k, v in row.items() if k != "sweep_within"}

        assert max(soup["candidates"].values(), key=rule_value) is candidate
        # it also beats every single checkpoint whose selection scores the card records, on their own measures
        singles = [row for stage in soup["fine_tunes"] + tr["not_kept"]
                   for row in stage.get("selection_scores", {}).values() if row is not candidate]
        assert len(singles) >= 20
        assert all(rule_value(like(candidate, row)) >= rule_value(row) for row in singles)
        # searches run after the export that were not exported: none found a candidate ahead by the margin a
        # replacement needs (otherwise the file should have been replaced)
        from laanet_train.realval import replacement_margin

        for search in tr.get("later_searches", []):
            best = max(search["candidates"].values(), key=rule_value)
            assert search["checkpoint"] in search["candidates"] and search["candidates"][search["checkpoint"]] is best
            assert rule_value(best) < rule_value(candidate) + replacement_margin(candidate), search["folder"]
    # a trained detector ranks its own held-out fakes above the reals
    assert synth["auc"] > 0.75
    # the training chain is described back to the first stage: steps add up over every stage
    stages = tr["earlier_stages"]
    assert tr["steps_run"] == sum(st["steps_run"] for st in stages) + tr["history"][-1]["global_step"]
    th = shipped_card["thresholds"]
    assert th["real_below"] < th["fake_above"]


def test_builtin_loads_through_the_registry_and_detector(builtin_detector: Detector,
                                                         shipped_card: dict) -> None:
    spec = get_weights(NAME)
    assert builtin_detector.spec == spec
    assert builtin_detector.input_size == shipped_card["preprocessing"]["crop"]["input_size"]
    assert builtin_detector.thresholds.fake_above == pytest.approx(shipped_card["thresholds"]["fake_above"])
    assert str(next(builtin_detector.model.parameters()).dtype) == "torch.float32"


def test_dfdc_crops_auc_is_reproduced(builtin_detector: Detector, shipped_card: dict,
                                      shared_data: Path) -> None:
    folder = shared_data / "dfdc-crops"
    if not (folder / "real").is_dir():
        pytest.skip(f"{folder} is absent")
    metrics = score_folder(builtin_detector, folder).metrics()
    d = shipped_card["metrics"]["dfdc_crops"]
    assert (metrics["n_real"], metrics["n_fake"]) == (d["n_real"], d["n_fake"])
    assert metrics["auc"] == pytest.approx(shipped_card["metrics"]["dfdc_crops"]["auc"], abs=0.01)
    assert metrics["ap"] == pytest.approx(shipped_card["metrics"]["dfdc_crops"]["ap"], abs=0.01)
    assert metrics["no_face_found"] == shipped_card["metrics"]["dfdc_crops"]["no_face_found"]


def test_builtin_recipe_is_the_one_its_run_was_selected_with(shipped_card: dict) -> None:
    """Checkpoint selection and calibration score through ``run_preprocessing`` of the run's config; the
    registry entry must judge faces by that same recipe (crop, flip test, smallest judged face)."""
    from laanet_train.config import config_from_dict
    from laanet_train.export import selection_recipe
    from laanet_train.validation import RUN_MIN_FACE_SCORE, RUN_MIN_FACE_SIZE, run_preprocessing

    # a soup was scored with its folder's recipe (recorded with it); a single run with its own
    recipe = config_from_dict(selection_recipe(shipped_card))
    assert run_preprocessing(recipe) == get_weights(NAME).preprocessing
    assert shipped_card["preprocessing"]["min_face_size"] == RUN_MIN_FACE_SIZE
    assert shipped_card["preprocessing"]["min_face_score"] == RUN_MIN_FACE_SCORE
