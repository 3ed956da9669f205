"""Saving and loading weights: round trips, official layouts, and refusing wrong files clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from laanet_model import CheckpointError, create_model, get_weights, list_weights, load_checkpoint
from laanet_model.checkpoints import official_filter_fn, read_card, save_weights
from laanet_model.weights import BUILTIN_WEIGHTS, WEIGHTS, preprocessing_from_dict, preprocessing_to_dict

LITE = "laanet_efficientnet_lite0"


@pytest.fixture(scope="module")
def lite_model() -> torch.nn.Module:
    torch.manual_seed(3)
    model = create_model(LITE, pretrained=False).eval()
    with torch.no_grad():  # make BN statistics non-trivial so a round trip really checks them
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.9, 1.1)
    return model


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> None:
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        oa, ob = a.eval()(x, heads=("hm", "cls")), b.eval()(x, heads=("hm", "cls"))
    torch.testing.assert_close(oa["cls"], ob["cls"])
    torch.testing.assert_close(oa["hm"], ob["hm"])


def test_model_safetensors_round_trip(tmp_path: Path, lite_model) -> None:
    path = save_weights(lite_model, tmp_path / "mine", {"variant": LITE, "metrics": {"AUC": 0.9}})
    assert path.name == "mine.safetensors" and path.is_file()
    card = read_card(path)
    assert card["variant"] == LITE and card["metrics"] == {"AUC": 0.9}
    assert card["config"]["backbone"]["activation"] == "relu6"
    assert len(card["sha256"]) == 64
    assert not list(tmp_path.glob("*.tmp"))
    loaded = load_checkpoint(path)
    assert not loaded.training
    own, ref = loaded.state_dict(), lite_model.state_dict()
    assert set(own) == set(ref)
    for k in ref:
        torch.testing.assert_close(own[k], ref[k])
    _same_outputs(loaded, lite_model)
    as64 = load_checkpoint(path, dtype=torch.float64)
    assert next(as64.parameters()).dtype == torch.float64


def test_model_official_pth_variants(tmp_path: Path, lite_model) -> None:
    sd = lite_model.state_dict()
    prefixed = {f"module.{k}": v for k, v in sd.items()}
    p1 = tmp_path / "prefixed.pth"
    torch.save({"epoch": 1, "state_dict": prefixed, "optimizer": {}}, p1)
    _same_outputs(load_checkpoint(p1, variant=LITE), lite_model)
    bare = {k: v for k, v in sd.items() if not k.startswith("inception_block.")}
    p2 = tmp_path / "bare.pt"
    torch.save(bare, p2)
    _same_outputs(load_checkpoint(p2, variant=LITE), lite_model)


def test_model_official_filter_fn() -> None:
    t = torch.ones(2)
    out = official_filter_fn({"state_dict": {"module.deconv_4.0.pw_block.0.weight": t, "module._fc.bias": t}})
    assert set(out) == {"deconv_4.0.pw_block.0.weight", "inception_block.pw_block.0.weight"}
    out = official_filter_fn({"inception_block.x": t})
    assert set(out) == {"inception_block.x", "deconv_4.0.x"}


def test_model_wrong_architecture_is_refused(
    official_checkpoint_path: Path, tmp_path: Path, lite_model
) -> None:
    # A B4 checkpoint read as Lite0: missing, unexpected keys and wrong shapes, named in the message.
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(official_checkpoint_path, variant=LITE)
    msg = str(err.value)
    assert "does not fit the expected architecture" in msg
    assert "unexpected keys" in msg and "shape mismatches" in msg
    # A Lite0 file read as the official B4.
    p = tmp_path / "lite.pth"
    torch.save({"state_dict": lite_model.state_dict()}, p)
    with pytest.raises(CheckpointError, match="missing keys"):
        load_checkpoint(p)
    # Only part of a state dict.
    part = dict(list(lite_model.state_dict().items())[:10])
    torch.save(part, p)
    with pytest.raises(CheckpointError, match=r"missing keys, e\.g\."):
        load_checkpoint(p, variant=LITE)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_model_random_bytes_are_refused(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"junk{suffix}"
    p.write_bytes(bytes(range(256)) * 40)
    if suffix == ".safetensors":
        p.with_suffix(".json").write_text(json.dumps({"variant": LITE}))
    with pytest.raises(CheckpointError, match="expected"):
        load_checkpoint(p)


def test_model_truncated_files_are_refused(tmp_path: Path, lite_model) -> None:
    path = save_weights(lite_model, tmp_path / "cut", {"variant": LITE})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        load_checkpoint(path)
    card = read_card(path)
    del card["sha256"]
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(path)
    pth = tmp_path / "cut.pth"
    torch.save({"state_dict": lite_model.state_dict()}, pth)
    raw = pth.read_bytes()
    pth.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_checkpoint(pth, variant=LITE)


def test_model_sha_mismatch_and_missing_card(tmp_path: Path, lite_model) -> None:
    path = save_weights(lite_model, tmp_path / "w.safetensors", {"variant": LITE})
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        load_checkpoint(path, sha256="0" * 64)
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="no card"):
        load_checkpoint(path)


def test_model_non_checkpoint_objects_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "list.pth"
    torch.save([1, 2, 3], p)
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(p)
    with pytest.raises(CheckpointError, match="neither an existing file nor a registered"):
        load_checkpoint(tmp_path / "nothing-here.pth")
    with pytest.raises(CheckpointError, match="directory"):
        load_checkpoint(tmp_path)


def test_model_registry_names_and_missing_official_file(tmp_path: Path, monkeypatch) -> None:
    assert {"laanet-official-sbi", "laanet-official-bi", BUILTIN_WEIGHTS} <= set(list_weights())
    sbi = get_weights("laanet-official-sbi")
    assert sbi.variant == "laanet_efficientnet_b4"
    assert sbi.preprocessing.crop.border_trim == 5 and sbi.preprocessing.input_size == 384
    assert get_weights("laanet-official-bi").preprocessing.crop.window == (18, 299, 18, 299)
    assert sbi.metrics["CDF"] == {"auc": 95.40, "ap": 97.64}
    assert sbi.licence == "SnT academic licence"
    monkeypatch.setenv("LAANET_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint("laanet-official-sbi")
    msg = str(err.value)
    assert sbi.file_name in msg and str(tmp_path) in msg and "github.com/10Ring/LAA-Net" in msg
    with pytest.raises(KeyError, match="unknown weights"):
        get_weights("nope")


def test_model_registry_loads_official_file_from_weights_dir(
    tmp_path: Path, monkeypatch, official_checkpoint_path: Path
) -> None:
    target = tmp_path / WEIGHTS["laanet-official-bi"].file_name
    target.symlink_to(official_checkpoint_path)
    monkeypatch.setenv("LAANET_WEIGHTS_DIR", str(tmp_path))
    model = load_checkpoint("laanet-official-bi")
    assert model.feature_channels == (56, 160, 448, 1792)


def test_model_preprocessing_dict_round_trip() -> None:
    for name in list_weights():
        pre = WEIGHTS[name].preprocessing
        assert preprocessing_from_dict(json.loads(json.dumps(preprocessing_to_dict(pre)))) == pre
    with pytest.raises(ValueError, match="unknown preprocessing fields"):
        preprocessing_from_dict({"colour": "blue"})


def test_model_card_of_a_weights_file_gives_its_recipe(tmp_path: Path, monkeypatch, lite_model) -> None:
    import laanet_model.weights as weights_mod
    from laanet_model import Detector

    card = {
        "variant": LITE,
        "crop_recipe": "official-sbi",
        "input_size": 224,
        "metrics": {"val_auc": 0.93, "val_ap": 0.91},
        "thresholds": {"real_below": 0.35, "fake_above": 0.65},
        "description": "trained here",
    }
    path = save_weights(lite_model, tmp_path / "mine", card)
    det = Detector.from_weights(path, device="cpu")
    assert det.input_size == 224 and det.preprocessing.crop.border_trim == 5
    assert (det.thresholds.real_below, det.thresholds.fake_above) == (0.35, 0.65)
    assert det.spec.metrics == {"val_auc": 0.93, "val_ap": 0.91} and det.spec.description == "trained here"
    _same_outputs(det.model, lite_model)

    # the registry never reads cards: a different card in the assets folder changes nothing
    before = get_weights(BUILTIN_WEIGHTS)
    monkeypatch.setattr(weights_mod, "assets_dir", lambda: tmp_path)
    save_weights(lite_model, tmp_path / BUILTIN_WEIGHTS, card)
    assert get_weights(BUILTIN_WEIGHTS) == before
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(BUILTIN_WEIGHTS, sha256=before.sha256)


def test_model_card_input_size_has_one_precedence() -> None:
    from laanet_model.weights import card_input_size, preprocessing_from_card

    recipe = {"preprocessing": {"crop": {"input_size": 160}}, "input_size": 224, "config": {"input_size": 384}}
    assert card_input_size(recipe) == 160
    assert card_input_size({"input_size": 224, "config": {"input_size": 384}}) == 224
    assert card_input_size({"config": {"input_size": 384}}) == 384
    assert card_input_size({}) is None
    assert preprocessing_from_card({"input_size": 224, "config": {"input_size": 384}}).input_size == 224
