"""A run's checkpoint state on disk: the RNG states, ``state.pt`` (save, compatibility check, resume) and
the ``best.pt`` / ``last.pt`` weights, all written atomically (:mod:`laanet_synth.atomic`)."""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from laanet_synth.atomic import write_text, write_torch
from torch import nn

from .config import TrainConfig, config_to_dict


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


# --- the run on disk --------------------------------------------------------------------------------------
STATE_FORMAT = "laanet-train-state/1"
STATE_FILE = "state.pt"
BEST_FILE = "best.pt"
LAST_FILE = "last.pt"
#: config fields that may change between a save and its resume without changing the results
RESUME_FREE = {("train", "stop_after_steps"), ("train", "progress"), ("data", "num_workers"),
               ("train", "output_dir"), ("train", "num_threads"), ("train", "keep_epoch_weights")}


@dataclass
class RunProgress:
    """The bookkeeping of a run between steps: global step, running loss sums of the current epoch, the
    per-epoch metric rows, the best epoch so far and the wall time of earlier sessions."""

    global_step: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0
    t0: float = field(default_factory=time.time)


def save_run_state(out: Path, cfg: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
                   epoch: int, step: int, progress: RunProgress) -> None:
    """Write ``state.pt`` atomically: everything a bit-exact resume at (``epoch``, ``step``) needs (the
    learning rate is a pure function of them, so no scheduler state is kept)."""
    write_torch(out / STATE_FILE, {
        "format": STATE_FORMAT,
        "config": config_to_dict(cfg),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "step": step,
        "global_step": progress.global_step,
        "rng": capture_rng(),
        "sums": dict(progress.sums),
        "history": json.dumps(progress.history),
        "best": json.dumps(progress.best),
        "elapsed": progress.elapsed + (time.time() - progress.t0),
    })


def check_compatible(cfg: TrainConfig, saved: dict[str, Any], path: Path) -> None:
    """Raise :class:`ResumeError` when the saved state was written by a recipe that differs from ``cfg`` in
    anything but the :data:`RESUME_FREE` fields."""
    mine = config_to_dict(cfg)
    theirs = saved.get("config", {})
    diffs = []
    for section, fields in mine.items():
        if not isinstance(fields, dict):
            if theirs.get(section) != fields:
                diffs.append(section)
            continue
        for k, v in fields.items():
            if (section, k) in RESUME_FREE:
                continue
            if theirs.get(section, {}).get(k) != v:
                diffs.append(f"{section}.{k}")
    if diffs:
        raise ResumeError(
            f"{path} was written by a different recipe (differs in {', '.join(diffs)}); "
            "use another train.output_dir or delete the old run"
        )


def resume_run(out: Path, cfg: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
               steps_per_epoch: int) -> tuple[int, int, RunProgress]:
    """(epoch, step, progress) to continue from: without ``state.pt`` a fresh start at ``train.start_epoch`` (0,
    or the epoch a run continued from another's kept weights begins at), else the saved run with model,
    optimiser and RNG states restored."""
    path = out / STATE_FILE
    if not path.is_file():
        start = cfg.train.start_epoch
        return start, 0, RunProgress(global_step=start * steps_per_epoch)
    saved = load_state(path)
    if saved.get("format") != STATE_FORMAT:
        raise ResumeError(f"{path}: not a training state written by this engine")
    check_compatible(cfg, saved, path)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    restore_rng(saved["rng"])
    progress = RunProgress(
        global_step=int(saved["global_step"]), sums=dict(saved["sums"]), history=json.loads(saved["history"]),
        best=json.loads(saved["best"]), elapsed=float(saved["elapsed"]),
    )
    return int(saved["epoch"]), int(saved["step"]), progress


def save_model_weights(out: Path, name: str, model: nn.Module, info: dict[str, Any] | None = None) -> None:
    """The model's state dict as ``name`` (``best.pt`` / ``last.pt``) and ``info`` beside it as JSON."""
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_torch(out / name, sd)
    if info is not None:
        write_text(out / (Path(name).stem + ".json"), json.dumps(info, indent=2))
