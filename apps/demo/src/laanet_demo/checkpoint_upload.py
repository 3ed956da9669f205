"""Checkpoints a user uploads in the Model tab: which files make one, and loading them with plain messages."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from laanet_demo.limits import InputRejected

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")


def pick_checkpoint_files(paths: Sequence[Path]) -> tuple[Path, list[Path]]:
    """The weights file and the JSON card(s) among uploaded files; InputRejected when they do not fit."""
    if not paths:
        raise InputRejected("No checkpoint file was given; please upload one first.")
    weights = [p for p in paths if p.suffix.lower() in CHECKPOINT_SUFFIXES]
    cards = [p for p in paths if p.suffix.lower() == ".json"]
    others = [p for p in paths if p not in weights and p not in cards]
    if others or len(weights) != 1 or len(cards) > 1:
        names = ", ".join(p.name for p in paths)
        raise InputRejected(
            "Upload one checkpoint: an official LAA-Net .pth file, or a .safetensors file together with its "
            f".json card (both at once). Got: {names}."
        )
    if weights[0].suffix.lower() == ".safetensors" and not cards:
        raise InputRejected(
            f"'{weights[0].name}' needs its JSON card: select the .safetensors file and the .json "
            "file written beside it, and upload both at once."
        )
    return weights[0], cards


def load_checkpoint_detector(path: str) -> Any:
    """Build a Detector from a local checkpoint file; wrong kinds of file become InputRejected."""
    import pickle

    from laanet_model.checkpoints import CheckpointError
    from laanet_model.detector import Detector

    name = Path(path).name
    try:
        return Detector.from_weights(path)
    except CheckpointError as err:
        detail = str(err).replace(str(Path(path).parent) + os.sep, "")
        raise InputRejected(f"'{name}' is not a LAA-Net checkpoint this demo can load: {detail}") from err
    except (ValueError, RuntimeError, KeyError, OSError, EOFError, pickle.UnpicklingError) as err:
        raise InputRejected(
            f"'{name}' is not a LAA-Net checkpoint this demo can load (expected a .safetensors file with its "
            f"JSON card, or an official LAA-Net .pth; reading it failed with {type(err).__name__})."
        ) from err
