"""Which weights produced a result: the name a user gave, the file it resolves to and that file's sha256
(``Detector.from_weights`` records it as ``Detector.weights``, hashing the file once while loading)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WeightsIdentity:
    """``name``: the registered name, or the file name for a path; ``sha256`` of the file's bytes."""

    name: str
    path: Path
    sha256: str
