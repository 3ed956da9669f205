"""LAA-Net inference: network, checkpoints, weights registry and the ``Detector`` (the one way from an image to a score)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checkpoints import CheckpointError, load_checkpoint
    from .detector import Detector
    from .network import LAANet
    from .variants import create_model
    from .weights import get_weights, list_weights

__all__ = [
    "LAANet",
    "create_model",
    "load_checkpoint",
    "Detector",
    "get_weights",
    "list_weights",
    "CheckpointError",
]

_LAZY = {
    "LAANet": "network",
    "create_model": "variants",
    "load_checkpoint": "checkpoints",
    "CheckpointError": "checkpoints",
    "Detector": "detector",
    "get_weights": "weights",
    "list_weights": "weights",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'laanet_model' has no attribute {name!r}")
