"""The official checkpoint layout loads strictly and reproduces the reference outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from laanet_model import create_model, load_checkpoint
from laanet_model.backbones import Conv2dSame
from torch import nn

TOL = 1e-5


def _run(model: nn.Module, inputs: np.ndarray) -> dict[str, np.ndarray]:
    x = torch.from_numpy(inputs).to(torch.float32)
    with torch.inference_mode():
        out = model.float().eval()(x)
    return {k: v.double().numpy() for k, v in out.items()}


def _compare(out: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> dict[str, float]:
    cst = out["cstency"]
    sample = cst.reshape(cst.shape[0], -1)[:, expected["cstency_sample_index"]]
    return {
        "cls": float(np.abs(out["cls"] - expected["cls"]).max()),
        "hm": float(np.abs(out["hm"] - expected["hm"]).max()),
        "cstency_channel_mean": float(np.abs(cst.mean(axis=(2, 3)) - expected["cstency_channel_mean"]).max()),
        "cstency_sample": float(np.abs(sample - expected["cstency_sample"]).max()),
    }


@pytest.fixture(scope="module")
def parity_outputs(official_checkpoint_path, parity_input) -> dict[str, np.ndarray]:
    model = load_checkpoint(official_checkpoint_path)
    assert next(model.parameters()).dtype == torch.float32
    return _run(model, parity_input)


def test_model_state_dict_keys_equal_official_layout(official_keys) -> None:
    rows = official_keys
    sd = create_model("laanet_efficientnet_b4").state_dict()
    assert list(sd) == [k for k, _ in rows]
    assert all(tuple(sd[k].shape) == shape for k, shape in rows)
    # The inception block is one module registered twice.
    model = create_model("laanet_efficientnet_b4")
    assert model.inception_block is model.deconv_4[0]
    assert sum(p.numel() for p in model.parameters()) == 27_128_786


def test_model_official_checkpoint_matches_reference(parity_outputs, expected_outputs) -> None:
    assert parity_outputs["hm"].shape == (2, 1, 96, 96)
    assert parity_outputs["cls"].shape == (2, 1)
    assert parity_outputs["cstency"].shape == (2, 256, 96, 96)
    errors = _compare(parity_outputs, expected_outputs)
    assert all(err < TOL for err in errors.values()), errors


def test_model_official_checkpoint_loads_strictly(official_checkpoint_path) -> None:
    raw = torch.load(official_checkpoint_path, weights_only=True)
    model = create_model("laanet_efficientnet_b4")
    result = model.load_state_dict(raw["state_dict"], strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_model_static_padding_of_block6() -> None:
    model = create_model("laanet_efficientnet_b4")
    assert model._blocks[6]._depthwise_conv.padding_ltrb == (2, 2, 2, 2)
    assert model._blocks[22]._depthwise_conv.padding_ltrb == (1, 2, 1, 2)
    assert model._conv_stem.padding_ltrb == (0, 1, 0, 1)
    dynamic = create_model("laanet_efficientnet_b4", pad_image_size=384)
    assert dynamic._blocks[6]._depthwise_conv.padding_ltrb == (1, 2, 1, 2)
    differing = [
        name
        for (name, a), (_, b) in zip(model.named_modules(), dynamic.named_modules(), strict=True)
        if isinstance(a, Conv2dSame) and a.padding_ltrb != b.padding_ltrb
    ]
    assert differing == ["_blocks.6._depthwise_conv"]


def test_model_dynamic_padding_at_block6_breaks_parity(
    official_checkpoint_path, parity_input, expected_outputs
) -> None:
    model = load_checkpoint(official_checkpoint_path)
    conv = model._blocks[6]._depthwise_conv
    conv.static_padding = nn.ZeroPad2d((1, 2, 1, 2))  # what dynamic SAME gives at 384 px
    errors = _compare(_run(model, parity_input), expected_outputs)
    assert errors["hm"] > 1e-3, errors
    assert errors["cstency_sample"] > 1e-3, errors
