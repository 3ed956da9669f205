"""Sharded evaluation: a deterministic partition of the items by key, and scoring one shard into the shared cache.

Shard ``i`` of ``n`` holds the items whose key hashes (sha256) to ``i`` modulo ``n``, so every process, node or
scheduler task agrees on the partition without talking to the others, and the partition does not depend on the
order the items are listed in. A shard only fills the cache; a run over all items then finds every item cached
and writes the records, so merging shards is running the same command again without ``--shard``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .cache import EvalCache
from .datasets.base import MediaItem
from .pipeline import EvalSettings, RunStats, evaluate_items
from .scorer import FaceScorer

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A malformed shard (``--shard i/n`` with ``0 <= i < n``)."""


def shard_of(key: str, count: int) -> int:
    """The shard (``0 .. count-1``) that holds the item with this key."""
    if count < 1:
        raise ShardError(f"a shard count must be >= 1, got {count}")
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:16], 16) % count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ShardError(f"shard {self.index}/{self.count}: expected 0 <= i < n (shards are numbered from 0)")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index

    def select(self, items: Sequence[MediaItem]) -> list[MediaItem]:
        """The items of this shard, in their listed order."""
        return [it for it in items if self.holds(it.key)]


def parse_shard(text: str) -> Shard:
    """``"i/n"`` -> :class:`Shard` (``0 <= i < n``)."""
    m = _SHARD.match(text)
    if m is None:
        raise ShardError(f"--shard {text!r}: expected i/n, e.g. 0/4 for the first of four shards")
    return Shard(int(m.group(1)), int(m.group(2)))


@dataclass
class ShardStats:
    """What one shard run did: its item count, and the pipeline counts summed over its settings."""

    shard: Shard
    n_items: int
    n_total: int
    stats: RunStats

    def summary(self) -> str:
        s = self.stats
        return (f"shard {self.shard}: {self.n_items} of {self.n_total} items; {s.computed} computed, "
                f"{s.cached} from cache, {s.failed} unreadable")


def score_shard(items: Sequence[MediaItem], shard: Shard, scorer: FaceScorer, settings: Sequence[EvalSettings],
                cache: EvalCache, progress: bool = True, desc: str = "evaluating") -> ShardStats:
    """Score this shard's items under each of ``settings`` (one per perturbation in a robustness run) into
    ``cache``, resuming from what is cached there; writes no records."""
    mine = shard.select(items)
    total = RunStats()
    for s in settings:
        label = desc if s.perturbation is None else f"{desc} {s.perturbation.name}{s.perturbation.level}"
        _, stats = evaluate_items(mine, scorer, s, cache, progress=progress, desc=f"{label} [{shard}]")
        total.computed += stats.computed
        total.cached += stats.cached
        total.failed += stats.failed
        total.computed_keys += stats.computed_keys
    return ShardStats(shard, len(mine), len(items), total)
