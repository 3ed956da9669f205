"""Which weights produced a result: the name a user gave, the file it resolves to and that file's sha256."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .checkpoints import file_sha256
from .weights import WEIGHTS, resolve_weights_file


@dataclass(frozen=True)
class WeightsIdentity:
    """``name``: the registered name, or the file name for a path; ``sha256`` of the file's bytes."""

    name: str
    path: Path
    sha256: str


def identify_weights(name_or_path: str | os.PathLike[str],
                     weights_dir: str | os.PathLike[str] | None = None) -> WeightsIdentity:
    """The file behind a registered weights name or a checkpoint path, and its sha256.

    Raises ``CheckpointError`` (registered weights not installed) or ``KeyError`` (unknown name, no such file).
    """
    path = Path(name_or_path)
    if path.is_file():
        return WeightsIdentity(path.name, path, file_sha256(path))
    name = str(name_or_path)
    resolved = resolve_weights_file(WEIGHTS[name], weights_dir)
    return WeightsIdentity(name, resolved, file_sha256(resolved))
