"""The ONNX deployment path: export a network's ``cls`` and ``hm`` heads with its recipe, and run the file with
onnxruntime behind the same call interface as :class:`~laanet_model.network.LAANet`.

The exported graph takes a float32 batch ``input`` (N, 3, S, S), already normalised by the recipe, at the recipe's
input size S (the backbone's static padding is computed for that size); the batch dimension is dynamic. Its
outputs are ``cls`` (N, 1) and ``hm`` (N, 1, S/4, S/4) logits. The recipe (``preprocessing_to_dict``), the
weights' name and sha256 and the input size are written into the model's metadata, so the file alone is enough
to build a :class:`~laanet_model.detector.Detector`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .network import LAANet
from .weights import (
    Preprocessing,
    Thresholds,
    preprocessing_from_dict,
    preprocessing_to_dict,
    resolve_weights_file,
)

ONNX_HEADS = ("cls", "hm")
ONNX_OPSET = 18
META_RECIPE = "laanet.preprocessing"
META_INPUT_SIZE = "laanet.input_size"
META_WEIGHTS = "laanet.weights"
META_SHA256 = "laanet.weights_sha256"
META_THRESHOLDS = "laanet.thresholds"


class OnnxExportError(RuntimeError):
    """The network cannot be exported (no ``cls`` or ``hm`` head, bad size) or the file cannot be written."""


class OnnxModelError(ValueError):
    """An ONNX file that is not a LAA-Net export (missing metadata, other inputs or outputs) or cannot be run."""


class _ClsHm(nn.Module):
    """The network with its two inference heads as a tuple, the form ``torch.onnx.export`` takes."""

    def __init__(self, model: LAANet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(x, heads=ONNX_HEADS)
        return out["cls"], out["hm"]


def export_onnx_bytes(model: LAANet, preprocessing: Preprocessing, *, weights_name: str = "",
                      weights_sha256: str = "", thresholds: Thresholds | None = None) -> bytes:
    """The ONNX file (as bytes) of ``model``'s ``cls`` and ``hm`` heads in float32 at the recipe's input size,
    with a dynamic batch dimension and the recipe (and verdict thresholds, when given) in its metadata."""
    import onnx

    missing = [h for h in ONNX_HEADS if h not in model.head_names]
    if missing:
        raise OnnxExportError(f"the model has no {missing} head(s) (heads: {model.head_names}); "
                              f"the ONNX export needs {ONNX_HEADS}")
    size = int(preprocessing.input_size)
    if size < 32 or size % 32:
        raise OnnxExportError(f"input size {size}: expected a positive multiple of 32")
    was_training = model.training
    param = next(model.parameters())
    wrapper = _ClsHm(model).to(device="cpu", dtype=torch.float32).eval()
    example = torch.zeros(2, 3, size, size, dtype=torch.float32)
    buf = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(wrapper, (example,), buf, input_names=["input"], output_names=list(ONNX_HEADS),
                              dynamic_axes={"input": {0: "batch"}, "cls": {0: "batch"}, "hm": {0: "batch"}},
                              opset_version=ONNX_OPSET, dynamo=False)
    finally:
        model.to(device=param.device, dtype=param.dtype).train(was_training)
    proto = onnx.load_from_string(buf.getvalue())
    meta = {META_RECIPE: json.dumps(preprocessing_to_dict(preprocessing), sort_keys=True),
            META_INPUT_SIZE: str(size), META_WEIGHTS: weights_name, META_SHA256: weights_sha256}
    if thresholds is not None:
        meta[META_THRESHOLDS] = json.dumps(dataclasses.asdict(thresholds))
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "laanet-model"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def write_onnx(data: bytes, path: str | os.PathLike[str]) -> Path:
    """Write an exported model atomically (a temporary file beside it, then a rename)."""
    from laanet_synth.atomic import write_bytes

    out = Path(path)
    try:
        return write_bytes(out, data)
    except OSError as exc:
        raise OnnxExportError(f"cannot write {out}: {exc}") from exc


def _session(source: str | os.PathLike[str] | bytes, what: str, providers: Sequence[str] = ("CPUExecutionProvider",),
             threads: int = 0) -> Any:
    """An onnxruntime session, or a clear :class:`OnnxModelError` when the source is not a readable model."""
    from laanet_synth.onnx_session import make_session

    try:
        return make_session(source, threads=threads, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise OnnxModelError(f"{what}: not a readable ONNX model ({exc})") from exc


def read_onnx_metadata(source: str | os.PathLike[str] | bytes) -> dict[str, str]:
    """The metadata of an ONNX file (or its bytes) as a plain dict."""
    what = "ONNX bytes" if isinstance(source, bytes) else str(source)
    return dict(_session(source, what).get_modelmeta().custom_metadata_map)


def preprocessing_from_onnx_metadata(meta: Mapping[str, str], what: str = "ONNX model") -> Preprocessing:
    """The recipe stored by :func:`export_onnx_bytes`."""
    if META_RECIPE not in meta:
        raise OnnxModelError(f"{what}: no '{META_RECIPE}' metadata; export it with `laanet export-onnx`")
    return preprocessing_from_dict(json.loads(meta[META_RECIPE]))


def default_onnx_device() -> torch.device:
    """CUDA when torch sees a GPU and onnxruntime has its CUDA provider, else the CPU."""
    import onnxruntime as ort

    cuda = torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers()
    return torch.device("cuda" if cuda else "cpu")


def _providers(device: torch.device) -> list[str]:
    import onnxruntime as ort

    if device.type == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise OnnxModelError("onnxruntime here has no CUDA provider; use device='cpu' or install onnxruntime-gpu")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device.type != "cpu":
        raise OnnxModelError(f"the onnxruntime backend runs on 'cpu' or 'cuda', not {device.type!r}")
    return ["CPUExecutionProvider"]


class OnnxNetwork:
    """An exported network run by onnxruntime, called like ``LAANet``: ``net(x, heads=...) -> {"cls", "hm"}``
    for a normalised float32 tensor ``x``; ``to(device, dtype)`` picks the execution provider (float32 only)."""

    def __init__(self, data: bytes, *, what: str = "ONNX model", threads: int = 0) -> None:
        self._data = data
        self._what = what
        self._threads = threads
        self.device = torch.device("cpu")
        self._session = self._make_session(self.device)
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        self.preprocessing = preprocessing_from_onnx_metadata(self.metadata, what)
        self.head_names: tuple[str, ...] = ONNX_HEADS
        names = [o.name for o in self._session.get_outputs()]
        if sorted(names) != sorted(ONNX_HEADS) or [i.name for i in self._session.get_inputs()] != ["input"]:
            raise OnnxModelError(f"{what}: expected input 'input' and outputs {ONNX_HEADS}, got "
                                 f"{[i.name for i in self._session.get_inputs()]} and {names}")
        self.training = False

    @property
    def sha256(self) -> str:
        """sha256 of the ONNX bytes (of the file, for :meth:`from_file`), from the bytes already in memory."""
        import hashlib

        return hashlib.sha256(self._data).hexdigest()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, threads: int = 0) -> OnnxNetwork:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise OnnxModelError(f"{p}: cannot read ({exc.strerror or exc})") from exc
        return cls(data, what=str(p), threads=threads)

    @classmethod
    def from_model(cls, model: LAANet, preprocessing: Preprocessing, *, weights_name: str = "",
                   weights_sha256: str = "", threads: int = 0) -> OnnxNetwork:
        """Export ``model`` in memory and load it (no file is written)."""
        data = export_onnx_bytes(model, preprocessing, weights_name=weights_name, weights_sha256=weights_sha256)
        return cls(data, what=weights_name or "exported model", threads=threads)

    @property
    def input_size(self) -> int:
        return int(self.metadata.get(META_INPUT_SIZE, self.preprocessing.input_size))

    @property
    def weights_sha256(self) -> str:
        return self.metadata.get(META_SHA256, "")

    @property
    def thresholds(self) -> Thresholds | None:
        """The verdict bands stored at export, if any."""
        raw = self.metadata.get(META_THRESHOLDS)
        return Thresholds(**json.loads(raw)) if raw else None

    def _make_session(self, device: torch.device) -> Any:
        return _session(self._data, self._what, _providers(device), self._threads)

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> OnnxNetwork:
        if dtype is not None and dtype != torch.float32:
            raise OnnxModelError(f"the onnxruntime backend runs in float32 only, not {dtype}")
        if device is not None and torch.device(device) != self.device:
            self.device = torch.device(device)
            self._session = self._make_session(self.device)
        return self

    def eval(self) -> OnnxNetwork:
        return self

    def __call__(self, x: torch.Tensor, heads: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        names = ONNX_HEADS if heads is None else tuple(heads)
        missing = [n for n in names if n not in ONNX_HEADS]
        if missing:
            raise ValueError(f"heads {missing} not in the ONNX model; it has {ONNX_HEADS}")
        s = self.input_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, s, s):
            raise ValueError(f"expected a (N, 3, {s}, {s}) batch, got {tuple(x.shape)}")
        arr = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        outs = dict(zip(ONNX_HEADS, self._session.run(list(ONNX_HEADS), {"input": arr}), strict=True))
        return {n: torch.from_numpy(outs[n]).to(x.device) for n in names}


def max_logit_gap(model: LAANet, net: OnnxNetwork, x: torch.Tensor) -> dict[str, float]:
    """Largest absolute difference of each head's logits between the torch float32 network and the ONNX one."""
    with torch.inference_mode():
        ref = model.to(device="cpu", dtype=torch.float32).eval()(x, heads=ONNX_HEADS)
    got = net.to("cpu")(x)
    return {h: float((ref[h] - got[h]).abs().max()) for h in ONNX_HEADS}


def export_weights_onnx(name_or_path: str | os.PathLike[str], out: str | os.PathLike[str], *,
                        weights_dir: str | os.PathLike[str] | None = None, check_batch: int = 2,
                        seed: int = 0) -> dict[str, Any]:
    """Export registered weights or a checkpoint file to ``out`` (atomically), then run the file on a seeded
    random batch of ``check_batch`` inputs against torch float32; returns a summary with the logit gaps."""
    from .checkpoints import file_sha256
    from .detector import Detector

    det = Detector.from_weights(name_or_path, device="cpu", weights_dir=weights_dir)
    spec = det.spec
    assert spec is not None  # from_weights always sets it for non-ONNX weights
    source = Path(name_or_path) if Path(name_or_path).is_file() else resolve_weights_file(spec, weights_dir)
    sha, name = spec.sha256 or file_sha256(source), spec.name
    data = export_onnx_bytes(det.model, det.preprocessing, weights_name=name, weights_sha256=sha,
                             thresholds=det.thresholds)
    path = write_onnx(data, out)
    net = OnnxNetwork.from_file(path)
    s = det.input_size
    x = torch.from_numpy(np.random.default_rng(seed).uniform(-1, 1, (check_batch, 3, s, s)).astype(np.float32))
    gaps = max_logit_gap(det.model, net, x)
    return {"out": str(path), "weights": name, "input_size": s, "bytes": len(data), "opset": ONNX_OPSET,
            "max_abs_diff": gaps}
