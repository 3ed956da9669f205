"""The registry: the built-in entry is its shipped card, read as a user of the weights needs it (nothing of how the
weights were searched for travels in the wheel), and the shipped weights load.

These checks compare the two descriptions field by field, so they hold for any set of built-in weights
(another input size, other metric keys).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from laanet_model.checkpoints import file_sha256, load_checkpoint
from laanet_model.weights import (
    BUILTIN_WEIGHTS,
    WEIGHTS,
    Thresholds,
    card_input_size,
    get_weights,
    preprocessing_from_card,
    spec_from_card,
)


def test_builtin_entry_is_complete() -> None:
    spec = WEIGHTS[BUILTIN_WEIGHTS]
    assert spec.builtin and spec.sha256 and len(spec.sha256) == 64
    assert spec.metrics and spec.description and spec.licence
    assert get_weights(BUILTIN_WEIGHTS) is spec


def test_builtin_entry_agrees_with_its_card(shipped_card: dict) -> None:
    spec = get_weights(BUILTIN_WEIGHTS)
    assert shipped_card["name"] == spec.name
    assert shipped_card["variant"] == spec.variant
    assert shipped_card["sha256"] == spec.sha256
    assert preprocessing_from_card(shipped_card) == spec.preprocessing
    assert card_input_size(shipped_card) == spec.preprocessing.input_size
    th = shipped_card["thresholds"]
    assert Thresholds(th["real_below"], th["fake_above"]) == spec.thresholds
    assert shipped_card["metrics"] == spec.metrics
    assert shipped_card["description"] == spec.description
    assert shipped_card["licence"] == spec.licence
    # reading the card over the entry changes nothing
    assert spec_from_card(spec, shipped_card) == spec


#: what the shipped card holds: what a user of the weights needs, and a pointer to the training record
CARD_KEYS = {"format", "name", "variant", "description", "config", "preprocessing", "thresholds", "thresholds_rule",
             "metrics", "sha256", "licence", "storage_dtype", "training"}


def test_the_shipped_card_is_slim_and_names_the_data_of_every_figure(shipped_card: dict) -> None:
    from laanet_model.weights import assets_dir

    assert (assets_dir() / f"{BUILTIN_WEIGHTS}.json").stat().st_size <= 20 * 1024
    assert set(shipped_card) == CARD_KEYS
    assert set(shipped_card["training"]) == {"recipe", "record"}
    assert shipped_card["training"]["record"].startswith("research/builtin-lite0/")
    assert "percentile" in shipped_card["thresholds_rule"]
    # every figure but the synthetic validation (on the pairs the training recipe names) states its protocol
    for key, entry in shipped_card["metrics"].items():
        if key in ("synthetic_val", "groups_faces", "portraits_reported", "realworld", "lfw_heldout_resolutions"):
            continue  # parts of real_photos and of the LFW check, whose protocols cover them
        assert "protocol" in entry, key


def test_no_module_of_the_package_is_generated() -> None:
    import laanet_model

    package = Path(laanet_model.__file__).parent
    assert not list(package.glob("builtin_card*.py"))
    assert not [p for p in package.rglob("*.py") if "do not edit" in p.read_text().lower()]


def test_builtin_card_is_consistent_with_its_file_and_training(shipped_card: dict) -> None:
    spec = get_weights(BUILTIN_WEIGHTS)
    assert file_sha256(spec.path()) == shipped_card["sha256"]
    # the architecture config, the crop and the training recipe name one input size
    assert shipped_card["config"]["input_size"] == shipped_card["preprocessing"]["crop"]["input_size"]
    assert shipped_card["training"]["recipe"]["data"]["input_size"] == spec.preprocessing.input_size
    assert shipped_card["training"]["recipe"]["model"]["variant"] == spec.variant


def test_shipped_weights_load_into_the_network() -> None:
    """Fails when the built-in weights do not load (missing, corrupt, wrong hash or wrong architecture)."""
    from safetensors.torch import load_file

    spec = get_weights(BUILTIN_WEIGHTS)
    model = load_checkpoint(BUILTIN_WEIGHTS)
    stored = load_file(str(spec.path()))
    state = model.state_dict()
    assert stored, "the weights file holds no tensors"
    for key, value in stored.items():
        assert torch.equal(state[key], value.to(state[key].dtype)), key
    # not the initialisation: the heads were trained away from their starting bias
    assert not torch.allclose(state["hm.3.bias"], torch.full_like(state["hm.3.bias"], -2.19))


def test_laanet_model_imports_without_training_code_or_tensorboard() -> None:
    code = (
        "import sys\n"
        "import laanet_model\n"
        "from laanet_model import Detector, get_weights, load_checkpoint\n"
        "from laanet_model import checkpoints, detector, network, paper, scoring, variants, weights\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('laanet_train', 'tensorboard', 'yaml'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_detector_records_its_weights_file_hashing_it_once(monkeypatch, tmp_path: Path) -> None:
    """``Detector.from_weights`` keeps the file behind a name and its sha256 (checked against the registry
    while loading), so callers that record provenance do not hash the file a second time."""
    import shutil

    from laanet_bench.scorer import load_scorer
    from laanet_model import checkpoints, detector

    calls = []

    def counting(path, *args, **kwargs):
        calls.append(Path(path))
        return file_sha256(path, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "file_sha256", counting)
    monkeypatch.setattr(detector, "file_sha256", counting)
    spec = get_weights(BUILTIN_WEIGHTS)
    scorer = load_scorer(BUILTIN_WEIGHTS, device="cpu")
    assert len(calls) == 1 and calls[0] == spec.path()
    ident = scorer.detector.weights
    assert ident is not None and (ident.name, ident.path, ident.sha256) == (BUILTIN_WEIGHTS, spec.path(), spec.sha256)
    # a copied file is named by its file name, and its hash is the file's (checked against its card)
    copy = tmp_path / "copy.safetensors"
    shutil.copy(spec.path(), copy)
    shutil.copy(spec.path().with_suffix(".json"), copy.with_suffix(".json"))
    calls.clear()
    ident = detector.Detector.from_weights(copy, device="cpu").weights
    assert ident is not None and (ident.name, ident.path, ident.sha256) == ("copy.safetensors", copy, spec.sha256)
    assert calls == [copy]
