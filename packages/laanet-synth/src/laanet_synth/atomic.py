"""Atomic file writes, the one implementation every package uses.

Each writer creates a temporary file beside the target, writes, flushes and fsyncs it, then ``os.replace``s
the target; on any failure (including ``KeyboardInterrupt``) the temporary file is removed and the target is
left as it was. Readers therefore see the old file or the new one, never a partial one. A new file gets the
permissions any other new file would get (``0o666`` less the umask); a replaced file keeps its own.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["current_umask", "write_atomic", "write_bytes", "write_text", "write_json", "write_npz", "write_torch"]


def current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Replace ``path`` atomically with what ``write(fh)`` writes to a binary file handle; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), _mode_for(path))  # mkstemp makes 0600; a result follows the umask
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    return write_atomic(path, lambda fh: fh.write(data))


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically replace ``path`` with UTF-8 ``text``."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any, indent: int = 1) -> Path:
    """Atomically replace ``path`` with ``obj`` as indented JSON (sorted keys, trailing newline)."""
    return write_text(path, json.dumps(obj, indent=indent, sort_keys=True, default=str) + "\n")


def write_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Atomically replace ``path`` with a compressed ``.npz`` of ``arrays``."""
    import numpy as np  # here, so that command lines importing this module start without numpy

    return write_atomic(path, lambda fh: np.savez_compressed(fh, **arrays))


def write_torch(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically replace ``path`` with ``torch.save(obj)``."""
    import torch

    return write_atomic(path, lambda fh: torch.save(obj, fh))
