"""Run state on disk: atomic saves and the RNG states a bit-exact resume needs."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch


class ResumeError(RuntimeError):
    """A saved training state that cannot be resumed (corrupt, or from another recipe)."""


def capture_rng() -> dict[str, Any]:
    """Python, numpy (legacy global) and torch RNG states as plain data (loadable with ``weights_only``)."""
    py = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [str(kind), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss),
                  float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run state written by the engine (``weights_only=True``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ResumeError(f"{path}: cannot read the saved training state ({exc}); delete it to start afresh") from exc
