"""Checks of a weights card against its safetensors file, made before any real network is built.

A card describes the architecture; a hostile or broken card could ask for pretrained weights from the
network, or for a network far larger than the file. So a checkpoint is loaded only after:

* every ``pretrained`` request in the card's config is switched off (:func:`without_pretrained`);
* the shapes the config implies, computed on PyTorch's ``meta`` device (no memory, no weights), are compared
  with the shapes declared in the file's safetensors header, which is read without loading any tensor;
* the parameter count the config implies is bounded by the bytes the file holds.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from .backbones import TimmSpec
from .network import LAANet, LAANetConfig

__all__ = [
    "CardMismatch",
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


def expected_shapes(cfg: LAANetConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every entry of the state dict ``cfg`` builds, computed on the ``meta`` device."""
    try:
        with torch.device("meta"):
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
