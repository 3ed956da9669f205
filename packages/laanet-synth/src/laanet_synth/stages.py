"""Wall-clock time per named stage of a pipeline (decode, detect, landmarks, crop, network)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageTimer:
    """Accumulates seconds per stage name; one timer per call, never shared between threads."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block and add it to ``name``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def milliseconds(self) -> dict[str, float]:
        """Each stage in milliseconds, rounded to 0.1 ms."""
        return {k: round(v * 1000.0, 1) for k, v in self.seconds.items()}
