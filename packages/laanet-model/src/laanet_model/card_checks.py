"""Checks of a weights card against its safetensors file, made before any real network is built.

A card describes the architecture; a hostile or broken card could ask for pretrained weights from the
network, or for a network far larger than the file. So a checkpoint is loaded only after:

* every ``pretrained`` request in the card's config is switched off (:func:`without_pretrained`);
* the shapes the config implies, computed on PyTorch's ``meta`` device (no memory, no weights), are compared
  with the shapes declared in the file's safetensors header, which is read without loading any tensor;
* the parameter count the config implies is bounded by the bytes the file holds.

Before that, :func:`check_config_bounds` refuses any backbone that is not a local architecture name (a timm
``hf-hub:`` name, a path or a URL could reach the network even with pretrained weights off) and any input size,
width or depth outside what the backbone kind allows; :func:`check_recipe` refuses a face detector that is not
an installed backend and a crop size outside the same bounds; :func:`check_finite` refuses weights holding NaN
or infinity. Each gives one line naming the field.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from .backbones import TimmSpec
from .network import LAANet, LAANetConfig

__all__ = [
    "BOUNDS",
    "CardMismatch",
    "VariantBounds",
    "check_config_bounds",
    "check_finite",
    "check_local_backbone",
    "check_recipe",
    "TensorHeader",
    "without_pretrained",
    "read_safetensors_header",
    "expected_shapes",
    "check_config_fits_file",
    "shape_differences",
]

#: bytes per element of the dtypes a safetensors header may name
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8,
}


class CardMismatch(ValueError):
    """The card's architecture does not fit the weights file (or the file's header is unreadable)."""


@dataclasses.dataclass(frozen=True)
class VariantBounds:
    """What a card may ask of one backbone kind: the square input size in pixels, and for EfficientNets the
    width and depth multipliers (B0 is 1.0 / 1.0, B7 2.0 / 3.1)."""

    min_input: int = 32
    max_input: int = 1024
    min_width: float = 0.25
    max_width: float = 2.2
    min_depth: float = 0.25
    max_depth: float = 3.1


#: bounds per backbone kind, declared as data
BOUNDS: dict[str, VariantBounds] = {"efficientnet": VariantBounds(), "timm": VariantBounds()}

#: a local timm architecture name: letters, digits, ``_``, and an optional ``.tag``; no ``:`` or ``/``
_LOCAL_NAME = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?")


def check_local_backbone(model_name: Any) -> str:
    """``model_name`` if it is the name of an architecture timm builds locally; :class:`CardMismatch` for a
    ``hf-hub:`` / ``timm/`` name, a path, a URL or an unknown name (checked without building anything)."""
    if not isinstance(model_name, str) or not _LOCAL_NAME.fullmatch(model_name):
        raise CardMismatch(
            f"backbone {model_name!r} is not a local architecture name (hub names, paths and URLs are refused: "
            "weights load offline only); expected a timm architecture such as 'resnet18'"
        )
    import timm

    if not timm.is_model(model_name):
        raise CardMismatch(f"backbone {model_name!r} is not an architecture this timm ({timm.__version__}) knows")
    return model_name


def _check_range(what: str, value: Any, low: float, high: float, kind: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise CardMismatch(f"{what} {value!r} is outside what {kind} backbones allow ({low:g} to {high:g})")


def check_config_bounds(cfg: LAANetConfig) -> LAANetConfig:
    """``cfg`` if its backbone is local and its sizes are within :data:`BOUNDS`; :class:`CardMismatch` otherwise."""
    kind = getattr(cfg.backbone, "kind", None)
    if kind not in BOUNDS:
        raise CardMismatch(f"backbone kind {kind!r} is unknown; expected one of {sorted(BOUNDS)}")
    bounds = BOUNDS[kind]
    if isinstance(cfg.backbone, TimmSpec):
        check_local_backbone(cfg.backbone.model_name)
    else:
        _check_range("backbone width", cfg.backbone.width, bounds.min_width, bounds.max_width, kind)
        _check_range("backbone depth", cfg.backbone.depth, bounds.min_depth, bounds.max_depth, kind)
        if cfg.backbone.pad_image_size is not None:
            _check_range("pad_image_size", cfg.backbone.pad_image_size, bounds.min_input, bounds.max_input, kind)
    _check_range("input_size", cfg.input_size, bounds.min_input, bounds.max_input, kind)
    return cfg


def check_recipe(preprocessing: Any, kind: str = "efficientnet") -> Any:
    """``preprocessing`` (a :class:`laanet_model.weights.Preprocessing`) if its face detector is a known,
    installed backend and its crop size within :data:`BOUNDS`; :class:`CardMismatch` otherwise."""
    from laanet_synth.faces import FaceFinderError, check_face_finder

    try:
        check_face_finder(preprocessing.face_detector)
    except FaceFinderError as exc:
        raise CardMismatch(f"preprocessing.face_detector: {exc}") from exc
    bounds = BOUNDS.get(kind, VariantBounds())
    _check_range("crop input_size", preprocessing.crop.input_size, bounds.min_input, bounds.max_input, kind)
    return preprocessing


def check_finite(state_dict: Mapping[str, Any], what: str) -> None:
    """:class:`CardMismatch` naming the first tensors of ``state_dict`` that hold NaN or infinity."""
    bad = [k for k, v in state_dict.items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CardMismatch(f"{what}: {len(bad)} tensor{'s hold' if len(bad) != 1 else ' holds'} NaN or infinity "
                           f"(e.g. {bad[:3]}); the weights are broken")


@dataclasses.dataclass(frozen=True)
class TensorHeader:
    """One tensor as the safetensors header declares it."""

    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def without_pretrained(cfg: LAANetConfig) -> LAANetConfig:
    """``cfg`` with every request for pretrained backbone weights switched off (the checkpoint has the weights)."""
    backbone = cfg.backbone
    if isinstance(backbone, TimmSpec) and backbone.pretrained:
        backbone = dataclasses.replace(backbone, pretrained=False)
    return dataclasses.replace(cfg, backbone=backbone, pretrained=None)


def read_safetensors_header(path: str | os.PathLike[str]) -> dict[str, TensorHeader]:
    """Name -> dtype and shape of every tensor in a safetensors file, from its header only (no tensor is read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            out = {}
            for name in f.keys():  # noqa: SIM118 - safe_open is not a dict
                sl = f.get_slice(name)
                out[name] = TensorHeader(str(sl.get_dtype()), tuple(int(v) for v in sl.get_shape()))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CardMismatch(
            f"{Path(path).name} is not a readable safetensors file (truncated or corrupt?): its header cannot be "
            f"read ({exc}); expected weights written by save_weights"
        ) from exc
    return out


class _NoRandomFillOnMeta(torch.overrides.TorchFunctionMode):
    """Random weight initialisation (``normal_``, ``uniform_``) left out for ``meta`` tensors, which hold no values
    to fill: PyTorch runs those on ``meta`` through its Python reference code, whose first use imports
    ``torch._dynamo`` (seconds of start-up for a shape check). Shapes, and every other operation, are unchanged."""

    SKIPPED = frozenset({"normal_", "uniform_", "trunc_normal_"})

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        tensor = args[0] if args else kwargs.get("tensor")
        if getattr(func, "__name__", "") in self.SKIPPED and getattr(tensor, "is_meta", False):
            return tensor
        return func(*args, **kwargs)


def expected_shapes(cfg: LAANetConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every entry of the state dict ``cfg`` builds, computed on the ``meta`` device."""
    try:
        with torch.device("meta"), _NoRandomFillOnMeta():
            model = LAANet(without_pretrained(cfg))
    except Exception as exc:  # noqa: BLE001 - any failure to build the described network is a bad card
        raise CardMismatch(f"the card's architecture cannot be built: {type(exc).__name__}: {exc}") from exc
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _element_count(shapes: Mapping[str, tuple[int, ...]]) -> int:
    total = 0
    for shape in shapes.values():
        n = 1
        for s in shape:
            n *= s
        total += n
    return total


def check_config_fits_file(
    cfg: LAANetConfig,
    path: str | os.PathLike[str],
    *,
    rename: Callable[[dict[str, tuple[int, ...]]], Mapping[str, tuple[int, ...]]] | None = None,
    duplicated_prefixes: tuple[str, ...] = (),
) -> None:
    """Raise :class:`CardMismatch` unless the network ``cfg`` describes fits the safetensors file ``path``.

    ``rename`` maps the file's names to the network's (e.g. ``checkpoints.official_filter_fn``, which strips
    ``module.``, drops an ImageNet ``_fc`` head and fills duplicated entries); network entries under
    ``duplicated_prefixes`` are copies of others, so they do not count towards the bytes the file must hold.
    """
    p = Path(path)
    header = read_safetensors_header(p)
    file_bytes = p.stat().st_size
    stored = sum(h.numel * DTYPE_BYTES.get(h.dtype, 1) for h in header.values())
    if stored > file_bytes:
        raise CardMismatch(f"{p.name}: the header declares {stored:,} bytes of tensors but the file has {file_bytes:,}")
    want = expected_shapes(cfg)
    smallest = min((DTYPE_BYTES.get(h.dtype, 1) for h in header.values()), default=1)
    n_params = _element_count({k: v for k, v in want.items() if not k.startswith(duplicated_prefixes)})
    if n_params * smallest > file_bytes:
        raise CardMismatch(
            f"{p.name}: the card describes a network of {n_params:,} parameters, more than a file of "
            f"{file_bytes:,} bytes can hold; the card does not belong to this file"
        )
    shapes = {name: h.shape for name, h in header.items()}
    got = dict(rename(shapes)) if rename is not None else shapes
    problems = shape_differences(want, got, noun="tensors", theirs="card")
    if problems:
        raise CardMismatch("; ".join([f"{p.name} does not fit the architecture its card describes", *problems]))


def shape_differences(
    want: Mapping[str, tuple[int, ...]], got: Mapping[str, Any], *, noun: str = "keys", theirs: str = "model",
) -> list[str]:
    """What differs between the expected entries (name -> shape) and those of a file (name -> shape, or tensor),
    in words: missing and unexpected names and shape mismatches, a few examples each; empty when they agree."""
    got_shapes = {k: tuple(getattr(v, "shape", v)) for k, v in got.items()}
    missing = [k for k in want if k not in got_shapes]
    unexpected = [k for k in got_shapes if k not in want]
    wrong = [
        f"{k}: file {got_shapes[k]} vs {theirs} {tuple(want[k])}"
        for k in want if k in got_shapes and got_shapes[k] != tuple(want[k])
    ]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing {noun}, e.g. {missing[:3]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected {noun}, e.g. {unexpected[:3]}")
    if wrong:
        parts.append(f"{len(wrong)} shape mismatches, e.g. {wrong[:3]}")
    return parts
