"""The ONNX deployment path: export (dynamic batch, heads cls and hm, recipe in the metadata) and a Detector on
onnxruntime that scores like the torch float32 Detector, for the built-in model and the official layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from laanet_model import Detector, get_weights, load_checkpoint
from laanet_model.checkpoints import file_sha256
from laanet_model.onnx_backend import (
    META_RECIPE,
    OnnxModelError,
    OnnxNetwork,
    export_onnx_bytes,
    export_weights_onnx,
    max_logit_gap,
    preprocessing_from_onnx_metadata,
    read_onnx_metadata,
)
from laanet_model.weights import preprocessing_to_dict, resolve_weights_file

TOL = 1e-4
BUILTIN = "laanet-lite0-sbi-lfw"


@pytest.fixture(scope="module")
def builtin_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("onnx") / "lite0.onnx"
    summary = export_weights_onnx(BUILTIN, out)
    return str(out), summary


def test_onnx_export_summary_and_metadata(builtin_onnx) -> None:
    path, summary = builtin_onnx
    torch_det = Detector.from_weights(BUILTIN, device="cpu")
    assert summary["input_size"] == torch_det.input_size
    assert summary["max_abs_diff"]["cls"] < TOL and summary["max_abs_diff"]["hm"] < TOL
    meta = read_onnx_metadata(path)
    assert json.loads(meta[META_RECIPE]) == json.loads(json.dumps(preprocessing_to_dict(torch_det.preprocessing)))
    assert preprocessing_from_onnx_metadata(meta) == torch_det.preprocessing
    assert meta["laanet.weights"] == BUILTIN
    assert meta["laanet.weights_sha256"] == file_sha256(resolve_weights_file(get_weights(BUILTIN)))


def test_onnx_detector_matches_torch_builtin(builtin_onnx) -> None:
    path, _ = builtin_onnx
    torch_det = Detector.from_weights(BUILTIN, device="cpu", batch_size=3)
    onnx_det = Detector.from_weights(path, batch_size=3)
    assert onnx_det.backend == "onnxruntime" and torch_det.backend == "torch"
    assert onnx_det.preprocessing == torch_det.preprocessing
    assert onnx_det.thresholds == torch_det.thresholds
    assert onnx_det.weights is not None and onnx_det.weights.sha256 == file_sha256(path)  # the .onnx file's bytes
    s = torch_det.input_size
    crops = np.random.default_rng(3).integers(0, 256, size=(5, s, s, 3), dtype=np.uint8)
    # 5 crops in batches of 3: batch sizes 3 and 2 go through the one exported graph (dynamic batch)
    for flip in (False, True):
        ref = torch_det.predict_crops(crops, flip_test=flip)
        got = onnx_det.predict_crops(crops, flip_test=flip)
        assert len(got) == 5
        gaps = [abs(a.logit - b.logit) for a, b in zip(ref, got, strict=True)]
        assert max(gaps) < TOL
        assert max(float(np.abs(a.heatmap - b.heatmap).max()) for a, b in zip(ref, got, strict=True)) < TOL
    # the scores are not all equal: the comparison above is not between constants
    assert np.ptp([p.logit for p in ref]) > 1e-3


def test_onnx_backend_option_exports_in_memory() -> None:
    torch_det = Detector.from_weights(BUILTIN, device="cpu")
    onnx_det = Detector.from_weights(BUILTIN, device="cpu", backend="onnxruntime")
    assert isinstance(onnx_det.model, OnnxNetwork)
    s = torch_det.input_size
    crops = np.random.default_rng(4).integers(0, 256, size=(2, s, s, 3), dtype=np.uint8)
    ref = [p.logit for p in torch_det.predict_crops(crops)]
    got = [p.logit for p in onnx_det.predict_crops(crops)]
    np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)


def test_onnx_official_layout_parity(official_checkpoint_path, parity_input, expected_outputs) -> None:
    """The official B4 layout at 384 px: ONNX logits within 1e-4 of torch float32 and of the float64 reference."""
    model = load_checkpoint(official_checkpoint_path).float().eval()
    pre = get_weights("laanet-official-sbi").preprocessing
    net = OnnxNetwork(export_onnx_bytes(model, pre, weights_name="official-layout"))
    x = torch.from_numpy(parity_input).to(torch.float32)
    gaps = max_logit_gap(model, net, x)
    assert gaps["cls"] < TOL and gaps["hm"] < TOL
    out = net(x)
    assert np.abs(out["cls"].double().numpy() - expected_outputs["cls"]).max() < TOL
    assert np.abs(out["hm"].double().numpy() - expected_outputs["hm"]).max() < TOL
    one = net(x[1:])  # a batch of one through the dynamic batch axis
    assert torch.allclose(one["cls"], out["cls"][1:], atol=TOL)


def test_onnx_bad_inputs_give_clear_errors(tmp_path, builtin_onnx) -> None:
    bad = tmp_path / "not.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(OnnxModelError, match="not a readable ONNX model"):
        Detector.from_weights(bad)
    with pytest.raises(OnnxModelError, match="cannot read"):
        Detector.from_weights(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="float32 only"):
        Detector.from_weights(builtin_onnx[0], official_float64=True)
    with pytest.raises(ValueError, match="backend must be one of"):
        Detector.from_weights(BUILTIN, backend="tensorrt")
    net = OnnxNetwork.from_file(builtin_onnx[0])
    with pytest.raises(ValueError, match=r"expected a \(N, 3"):
        net(torch.zeros(1, 3, 64, 64))
