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


def test_card_states_the_recipe_it_was_selected_with(shipped_card: dict) -> None:
    """The card's training recipe (the one its weights were selected and calibrated with) names the data the
    synthetic figures come from and the card's input size; its bands are ordered."""
    recipe = shipped_card["training"]["recipe"]
    assert recipe["data"]["train_list"] == "peopleDevTrain.txt" and recipe["data"]["val_list"] == "peopleDevTest.txt"
    assert recipe["data"]["root"] is None and recipe["model"]["init_from"] is None  # no machine paths
    pre, size = shipped_card["preprocessing"], shipped_card["config"]["input_size"]
    assert pre["crop"]["input_size"] == recipe["data"]["input_size"] == size
    assert pre["flip_test"] is True and pre["face_detector"] == "retinaface"
    assert shipped_card["metrics"]["synthetic_val"]["n_pairs"] == recipe["data"]["max_val_faces"]
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

    recipe = config_from_dict(selection_recipe(shipped_card))
    assert run_preprocessing(recipe) == get_weights(NAME).preprocessing
    assert shipped_card["preprocessing"]["min_face_size"] == RUN_MIN_FACE_SIZE
    assert shipped_card["preprocessing"]["min_face_score"] == RUN_MIN_FACE_SCORE
