"""Atomic file writes: write a temporary file beside the target, fsync, then ``os.replace``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def _write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    _write(Path(path), lambda fh: fh.write(data))


def write_text(path: Path, text: str) -> None:
    """Atomically replace ``path`` with UTF-8 ``text``."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    """Atomically replace ``path`` with ``obj`` as indented JSON."""
    write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Atomically replace ``path`` with a compressed ``.npz`` of ``arrays``."""
    _write(Path(path), lambda fh: np.savez_compressed(fh, **arrays))
