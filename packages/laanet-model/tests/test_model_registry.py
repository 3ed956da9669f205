"""The registry is the truth: the built-in entry agrees with the card shipped beside its weights, and the
shipped weights load.

These checks compare the two descriptions field by field, so they hold for any set of built-in weights
(another input size, other metric keys); when the assets are replaced, the entry in ``weights.py`` is
updated from the new card and these tests say which field was missed.
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


def test_builtin_entry_is_complete_without_files() -> None:
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


def test_builtin_card_module_is_generated_from_the_card(shipped_card: dict, tmp_path: Path) -> None:
    from laanet_model.builtin_card_source import (
        builtin_card_module_path,
        builtin_card_source,
        write_builtin_card_module,
    )

    shipped = builtin_card_module_path().read_text()
    assert shipped == builtin_card_source(shipped_card), (
        "laanet_model/builtin_card.py is not the rendering of the shipped card: regenerate it with "
        "'python -m laanet_train.realval report laanet-lite0-sbi-lfw --shared ../shared/data --write-card' "
        "or laanet_model.builtin_card_source.write_builtin_card_module(card)"
    )
    # the rendering is a function of the card: a recalibrated card gives another module, which still imports
    changed = {**shipped_card, "thresholds": {"real_below": 0.01, "fake_above": 0.9}}
    namespace: dict = {}
    exec(compile(write_builtin_card_module(changed, tmp_path / "m.py").read_text(), "m.py", "exec"), namespace)
    assert (namespace["BUILTIN_REAL_BELOW"], namespace["BUILTIN_FAKE_ABOVE"]) == (0.01, 0.9)
    assert namespace["BUILTIN_METRICS"] == shipped_card["metrics"]
    assert namespace["BUILTIN_SHA256"] == shipped_card["sha256"]


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
