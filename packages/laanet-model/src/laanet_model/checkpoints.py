"""Reading and writing LAA-Net weights.

* our format: ``<name>.safetensors`` plus a JSON card ``<name>.json`` beside it holding the variant name
  and the architecture config, so the network is rebuilt without code;
* official ``.pth`` files (``{'epoch', 'state_dict', 'optimizer'}`` or a bare state_dict, optional
  ``module.`` prefix), always read with ``torch.load(weights_only=True)``;
* names from the weights registry (:mod:`laanet_model.weights`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from laanet_synth.atomic import write_bytes, write_json

from .card_checks import (
    CardMismatch,
    check_config_bounds,
    check_config_fits_file,
    check_finite,
    shape_differences,
    without_pretrained,
)
from .network import LAANet, config_from_dict, config_to_dict
from .variants import resolve_config

__all__ = [
    "CheckpointError",
    "load_checkpoint",
    "load_state_dict_checked",
    "official_filter_fn",
    "save_weights",
    "read_card",
    "card_path_for",
    "file_sha256",
    "OFFICIAL_VARIANT",
]

OFFICIAL_VARIANT = "laanet_efficientnet_b4"
CARD_FORMAT = 1
_INCEPTION = "inception_block."
_DECONV4_0 = "deconv_4.0."


class CheckpointError(Exception):
    """A weights file is missing, unreadable, or does not fit the expected architecture."""


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def card_path_for(path: str | os.PathLike[str]) -> Path:
    """``foo.safetensors`` -> ``foo.json``."""
    return Path(path).with_suffix(".json")


def read_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON card of a safetensors file (``path`` may be the card or the weights file)."""
    p = Path(path)
    card = p if p.suffix == ".json" else card_path_for(p)
    if not card.is_file():
        raise CheckpointError(
            f"no card {card} beside {p.name}: expected a JSON card with 'variant' and 'config' "
            "(written by save_weights)"
        )
    try:
        data = json.loads(card.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"card {card} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or ("config" not in data and "variant" not in data):
        raise CheckpointError(f"card {card} must be a JSON object with 'variant' and/or 'config'")
    return data


def official_filter_fn(state_dict: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Turn an official LAA-Net checkpoint (or its ``state_dict``) into this network's state dict.

    Unwraps ``{'state_dict': ...}``, strips a leading ``module.``, drops an ImageNet ``_fc`` head, and
    fills whichever of ``inception_block.*`` / ``deconv_4.0.*`` is absent from the other (they are the
    same tensors in the official network).
    """
    sd: Mapping[str, Any] = state_dict
    if "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if not isinstance(k, str):
            continue
        if k.startswith("module."):
            k = k[len("module.") :]
        if k.startswith("_fc."):
            continue
        out[k] = v
    has_inc = any(k.startswith(_INCEPTION) for k in out)
    has_d40 = any(k.startswith(_DECONV4_0) for k in out)
    if has_d40 and not has_inc:
        for k in [k for k in out if k.startswith(_DECONV4_0)]:
            out[_INCEPTION + k[len(_DECONV4_0) :]] = out[k]
    elif has_inc and not has_d40:
        for k in [k for k in out if k.startswith(_INCEPTION)]:
            out[_DECONV4_0 + k[len(_INCEPTION) :]] = out[k]
    return out


def load_state_dict_checked(model: LAANet, state_dict: Mapping[str, Any], *, what: str) -> None:
    """Strictly load ``state_dict`` into ``model``; any mismatch raises :class:`CheckpointError`."""
    own = model.state_dict()
    bad_types = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad_types:
        raise CheckpointError(
            f"{what}: entries {bad_types[:5]} are not tensors; expected a state_dict of tensors"
        )
    problems = shape_differences({k: tuple(v.shape) for k, v in own.items()}, state_dict)
    if problems:
        arch = getattr(model.config.backbone, "kind", "?")
        head = f"{what} does not fit the expected architecture ({arch} backbone, {len(own)} entries)"
        raise CheckpointError("; ".join([head, *problems]))
    with torch.no_grad():
        model.load_state_dict(dict(state_dict), strict=True)


def _check_sha(path: Path, sha256: str | None, known: str | None = None) -> str | None:
    """Check ``path`` against ``sha256`` (when given); ``known`` is the file's hash if it was already
    computed. Returns the file's hash when it is known, so a second check does not read the file again."""
    if not sha256:
        return known
    got = known or file_sha256(path)
    if got.lower() != sha256.lower():
        raise CheckpointError(
            f"sha256 mismatch for {path}: expected {sha256}, got {got} (wrong or corrupt file)"
        )
    return got


def _finish(model: LAANet, dtype: torch.dtype | None, map_location: Any) -> LAANet:
    if dtype is not None:
        model = model.to(dtype=dtype)
    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        model = model.to(torch.device(map_location))
    return model.eval()


def _load_safetensors(path: Path, *, map_location: Any, dtype: torch.dtype | None,
                      file_hash: str | None = None) -> LAANet:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    card = read_card(path)
    if isinstance(card.get("sha256"), str):
        _check_sha(path, card["sha256"], known=file_hash)
    try:
        cfg = config_from_dict(card["config"]) if "config" in card else resolve_config(card["variant"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"card of {path} has an invalid architecture config: {exc}") from exc
    # the card is checked against the file's header before any real network exists: never pretrained
    # weights (the file has them), declared shapes equal to the card's, parameters bounded by the file size
    cfg = without_pretrained(cfg)
    try:
        check_config_bounds(cfg)  # a local backbone of a sane size, before anything is built
        check_config_fits_file(cfg, path, rename=official_filter_fn, duplicated_prefixes=(_INCEPTION,))
    except CardMismatch as exc:
        raise CheckpointError(f"card of {path.name}: {exc}") from exc
    try:
        sd = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors file (truncated or corrupt?): {exc}; "
            "expected weights written by save_weights"
        ) from exc
    try:
        check_finite(sd, path.name)
    except CardMismatch as exc:
        raise CheckpointError(str(exc)) from exc
    model = LAANet(cfg)
    load_state_dict_checked(model, official_filter_fn(sd), what=str(path))
    return _finish(model, dtype, map_location)


#: how a file written by ``torch.save`` begins: a zip archive, or (the legacy format) a pickle
TORCH_FILE_MAGIC = (b"PK\x03\x04", b"\x80")


def _check_torch_file(path: Path) -> None:
    """:class:`CheckpointError` in one line when ``path`` cannot be a ``torch.save`` file (text, an image...)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror})") from exc
    if head.startswith(TORCH_FILE_MAGIC):
        return
    looks = "empty" if not head else ("a text file" if all(32 <= b < 127 or b in b"\t\r\n" for b in head)
                                      else f"a file starting with bytes {head[:8].hex(' ')}")
    raise CheckpointError(
        f"{path} is {looks}, not a torch checkpoint; expected a .pth written by torch.save (the official "
        "release) or a .safetensors file with its .json card"
    )


def _load_torch(path: Path, *, variant: str, map_location: Any, dtype: torch.dtype | None) -> LAANet:
    import pickle
    import zipfile

    _check_torch_file(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError,
            IndexError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{path} is not a readable torch checkpoint (truncated, corrupt or not a .pth?): {exc}; expected a "
            "torch.save'd dict {'epoch', 'state_dict', 'optimizer'} or a bare state_dict"
        ) from exc
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path} holds a {type(obj).__name__}; expected a dict {{'epoch', 'state_dict', 'optimizer'}} "
            "or a bare state_dict"
        )
    try:
        cfg = check_config_bounds(without_pretrained(resolve_config(variant)))
    except (KeyError, CardMismatch) as exc:
        raise CheckpointError(str(exc)) from exc
    state_dict = official_filter_fn(obj)
    try:
        check_finite(state_dict, path.name)
    except CardMismatch as exc:
        raise CheckpointError(str(exc)) from exc
    model = LAANet(cfg)
    load_state_dict_checked(model, state_dict, what=f"{path} (read as {variant})")
    return _finish(model, dtype, map_location)


def load_checkpoint(
    path_or_weight_name: str | os.PathLike[str],
    *,
    map_location: Any = "cpu",
    dtype: torch.dtype | None = None,
    variant: str | None = None,
    sha256: str | None = None,
) -> LAANet:
    """Load LAA-Net weights into a freshly built network, in eval mode.

    Accepts a ``.safetensors`` file with its JSON card, an official ``.pth`` (read as ``variant``, by
    default the official B4), or a name from the weights registry. ``dtype`` casts the model (e.g.
    ``torch.float64`` for the official path); ``sha256`` checks the file first.
    """
    p = Path(path_or_weight_name)
    if not p.exists():
        from .weights import WEIGHTS, get_weights, resolve_weights_file

        name = str(path_or_weight_name)
        if name in WEIGHTS:
            spec = get_weights(name)
            p = resolve_weights_file(spec)
            sha256 = sha256 or spec.sha256
            variant = variant or spec.variant
        else:
            raise CheckpointError(
                f"{name!r} is neither an existing file nor a registered weights name; expected a "
                f".safetensors (+ .json card) or .pth path, or one of {sorted(WEIGHTS)}"
            )
    if p.is_dir():
        raise CheckpointError(f"{p} is a directory; expected a .safetensors or .pth file")
    file_hash = _check_sha(p, sha256)
    if p.suffix == ".safetensors":
        return _load_safetensors(p, map_location=map_location, dtype=dtype, file_hash=file_hash)
    return _load_torch(p, variant=variant or OFFICIAL_VARIANT, map_location=map_location, dtype=dtype)


def save_weights(model: LAANet, path: str | os.PathLike[str], card: Mapping[str, Any] | None = None) -> Path:
    """Write ``model`` as ``<path>.safetensors`` and its card ``<path>.json``, both atomically.

    The card gets the architecture ``config``, the ``sha256`` of the weights file and ``format``; other
    entries of ``card`` (variant, metrics, preprocessing, ...) are kept as given. The duplicate
    ``inception_block.*`` entries are not stored (they equal ``deconv_4.0.*``). Returns the weights path.
    """
    from safetensors.torch import save

    p = Path(path)
    if p.suffix != ".safetensors":
        p = p.with_name(p.name + ".safetensors")
    p.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        k: v.detach().to("cpu").contiguous().clone()
        for k, v in model.state_dict().items()
        if not k.startswith(_INCEPTION)
    }
    write_bytes(p, save(tensors, metadata={"format": "laanet"}))
    full = dict(card or {})
    full.setdefault("variant", None)
    full["config"] = config_to_dict(model.config)
    full["sha256"] = file_sha256(p)
    full["format"] = CARD_FORMAT
    write_json(card_path_for(p), full, indent=2)
    return p
