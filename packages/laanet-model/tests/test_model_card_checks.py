"""A weights card is checked against its safetensors header before any real network is built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from laanet_model import CheckpointError, create_model, load_checkpoint
from laanet_model.card_checks import expected_shapes, read_safetensors_header, without_pretrained
from laanet_model.checkpoints import read_card, save_weights
from laanet_model.variants import resolve_config

LITE = "laanet_efficientnet_lite0"


@pytest.fixture(scope="module")
def saved_lite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(5)
    model = create_model(LITE, pretrained=False)
    return save_weights(model, tmp_path_factory.mktemp("lite") / "lite.safetensors", {"variant": LITE})


@pytest.fixture()
def no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the loader builds a real network or reads the tensors."""
    import laanet_model.checkpoints as ckpt

    def refuse(*args, **kwargs):
        raise AssertionError("a real network was built or tensors were read before the card was checked")

    monkeypatch.setattr(ckpt, "LAANet", refuse)
    monkeypatch.setattr("safetensors.torch.load_file", refuse)


def test_header_shapes_are_read_without_the_tensors(saved_lite: Path) -> None:
    header = read_safetensors_header(saved_lite)
    want = {k: v for k, v in expected_shapes(resolve_config(LITE)).items() if not k.startswith("inception_block.")}
    assert {k: h.shape for k, h in header.items()} == want
    assert {h.dtype for k, h in header.items() if k.endswith(".weight")} == {"F32"}
    assert {h.dtype for k, h in header.items() if k.endswith("num_batches_tracked")} == {"I64"}


def test_a_much_wider_backbone_is_refused_before_building(
    saved_lite: Path, card_edited_copy, no_real_network: None
) -> None:
    def widen(card: dict) -> None:
        card["config"]["backbone"]["width"] = 2.2  # the widest a card may ask, far more than the file holds
        card["config"]["backbone"]["fixed_stem_head"] = False

    path = card_edited_copy(saved_lite, widen)
    with pytest.raises(CheckpointError, match=r"network of [\d,]+ parameters, more than a file of"):
        load_checkpoint(path)


def test_declared_shapes_must_match_the_card(saved_lite: Path, card_edited_copy, no_real_network: None) -> None:
    def narrow_head(card: dict) -> None:
        card["config"]["heads"] = [["hm", 1], ["cls", 1], ["cstency", 128]]

    path = card_edited_copy(saved_lite, narrow_head)
    with pytest.raises(CheckpointError, match=r"does not fit the architecture its card describes; .*shape mismatches"):
        load_checkpoint(path)

    def drop_head(card: dict) -> None:
        card["config"]["heads"] = [["hm", 1], ["cls", 1]]

    path = card_edited_copy(saved_lite, drop_head)
    with pytest.raises(CheckpointError, match=r"unexpected tensors, e\.g\. \['cstency"):
        load_checkpoint(path)


def test_pretrained_requests_in_a_card_are_never_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    calls: list[object] = []
    real_create = timm.create_model

    def spy(*args, **kwargs):
        calls.append(kwargs.get("pretrained"))
        return real_create(*args, **kwargs)

    monkeypatch.setattr(timm, "create_model", spy)
    torch.manual_seed(2)
    model = create_model("laanet_timm:resnet18", pretrained=False)
    path = save_weights(model, tmp_path / "r18.safetensors", {"variant": "laanet_timm:resnet18"})
    card = read_card(path)
    card.pop("sha256")
    card["config"]["backbone"]["pretrained"] = True
    card["config"]["pretrained"] = "efficientnet-lite0-imagenet"
    path.with_suffix(".json").write_text(json.dumps(card))
    calls.clear()
    loaded = load_checkpoint(path)
    assert calls and not any(calls), f"timm was asked for pretrained weights: {calls}"
    assert loaded.config.pretrained is None and loaded.config.backbone.pretrained is False
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)


def test_without_pretrained_switches_every_request_off() -> None:
    cfg = resolve_config("laanet_timm:resnet18", pretrained="efficientnet-lite0-imagenet")
    cfg = cfg.__class__(**{**cfg.__dict__, "backbone": cfg.backbone.__class__("resnet18", True)})
    off = without_pretrained(cfg)
    assert off.pretrained is None and off.backbone.pretrained is False and off.backbone.model_name == "resnet18"
    assert without_pretrained(resolve_config(LITE)).pretrained is None


def _edit(card_edited_copy, saved: Path, **edits):
    def apply(card: dict) -> None:
        for dotted, value in edits.items():
            node = card
            *path, last = dotted.split("__")
            for key in path:
                node = node.setdefault(key, {})
            node[last] = value

    return card_edited_copy(saved, apply)


@pytest.mark.parametrize(("edits", "message"), [
    ({"config__backbone__width": 64.0}, r"backbone width 64\.0 is outside what efficientnet backbones allow"),
    ({"config__backbone__depth": float("nan")}, r"backbone depth nan is outside"),
    ({"config__input_size": 20000}, r"input_size 20000 is outside what efficientnet backbones allow \(32 to 1024\)"),
    ({"variant": "laanet_timm:hf-hub:timm/resnet18.a1_in1k", "config": None},
     r"backbone 'hf-hub:timm/resnet18\.a1_in1k' is not a local architecture name"),
    ({"config__backbone": {"kind": "timm", "model_name": "hf-hub:timm/resnet18.a1_in1k"}},
     r"backbone 'hf-hub:timm/resnet18\.a1_in1k' is not a local architecture name"),
    ({"config__backbone": {"kind": "timm", "model_name": "../../evil"}}, r"'\.\./\.\./evil' is not a local"),
    ({"config__backbone": {"kind": "timm", "model_name": "no_such_net"}}, r"'no_such_net' is not an architecture"),
])
def test_a_card_outside_its_variant_is_refused_before_anything_is_built(
    saved_lite: Path, card_edited_copy, no_real_network: None, monkeypatch: pytest.MonkeyPatch, edits, message
) -> None:
    import timm

    def offline(*args, **kwargs):
        raise AssertionError("timm was asked to build a model")

    monkeypatch.setattr(timm, "create_model", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if edits.get("config", 1) is None:
        edits = dict(edits)
        del edits["config"]
        path = card_edited_copy(saved_lite, lambda card: (card.pop("config"), card.update(variant=edits["variant"])))
    else:
        path = _edit(card_edited_copy, saved_lite, **edits)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("edits", "message"), [
    ({"preprocessing__face_detector": "../../evil"}, r"unknown face detector '\.\./\.\./evil'"),
    ({"preprocessing__face_detector": "face-alignment"}, r"face detector 'face-alignment' is not installed"),
    ({"preprocessing__crop__input_size": 20000}, r"crop input_size 20000 is outside"),
])
def test_a_card_recipe_with_a_bad_detector_or_crop_is_refused_before_loading(
    saved_lite: Path, card_edited_copy, monkeypatch: pytest.MonkeyPatch, edits, message
) -> None:
    import importlib.util

    from laanet_model import Detector

    if "face-alignment" in edits.values() and importlib.util.find_spec("face_alignment") is not None:
        pytest.skip("face-alignment is installed here")
    import laanet_model.detector as det_module

    def refuse(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded before the recipe was checked")

    monkeypatch.setattr(det_module, "load_checkpoint", refuse)
    from laanet_model.weights import Preprocessing, preprocessing_to_dict

    path = _edit(card_edited_copy, saved_lite, preprocessing=preprocessing_to_dict(Preprocessing()))
    path = _edit(card_edited_copy, path, **edits)
    with pytest.raises(CheckpointError, match=message) as info:
        Detector.from_weights(path)
    assert "\n" not in str(info.value)


def test_non_finite_weights_are_refused(saved_lite: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    sd = load_file(str(saved_lite))
    name = next(k for k, v in sd.items() if v.is_floating_point() and k.endswith(".weight"))
    sd[name][0] = float("nan")
    bad = tmp_path / "nan.safetensors"
    save_file(sd, str(bad))
    card = read_card(saved_lite)
    card.pop("sha256", None)
    bad.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=rf"nan\.safetensors: 1 tensor holds NaN or infinity \(e\.g\. \['{name}'\]\)"):
        load_checkpoint(bad)
    pth = tmp_path / "inf.pth"
    torch.save({"state_dict": {name: torch.tensor([float("inf")])}}, pth)
    with pytest.raises(CheckpointError, match="inf.pth: 1 tensor holds NaN or infinity"):
        load_checkpoint(pth, variant=LITE)


@pytest.mark.parametrize(("content", "looks"), [(b"hello, these are not weights\n", "a text file"),
                                                (b"", "empty"), (b"\x89PNG\r\n\x1a\n....", "a file starting with bytes 89 50 4e 47")])
def test_a_file_that_is_not_a_checkpoint_gets_a_clear_line(tmp_path: Path, content: bytes, looks: str) -> None:
    path = tmp_path / "text.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"text\.pth is {looks}.*not a torch checkpoint; expected a \.pth") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
