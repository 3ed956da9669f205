"""Sharded evaluation: scoring one shard of the items (partitioned by key, see :mod:`laanet_synth.shards`) into
the shared cache.

A shard only fills the cache; a run over all items then finds every item cached and writes the records, so
merging shards is running the same command again without ``--shard``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from laanet_synth.shards import Shard

from .cache import EvalCache
from .datasets.base import MediaItem
from .pipeline import EvalSettings, RunStats, evaluate_items
from .scorer import FaceScorer


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
