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
        card["config"]["backbone"]["width"] = 64.0
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
