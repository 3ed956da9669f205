"""Splitting work over processes, nodes or scheduler tasks: a deterministic partition of work items by key
(``--shard i/n``), and the ``torchrun`` environment (rank, world size, a ``torch.distributed`` barrier).

Shard ``i`` of ``n`` holds the items whose key hashes (sha256) to ``i`` modulo ``n``, so every process agrees on
the partition without talking to the others, and it does not depend on the order the items are listed in.
Under ``torchrun`` the rank and world size come from the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)
and pick the shard.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from operator import attrgetter
from typing import TypeVar

T = TypeVar("T")

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

    def select(self, items: Sequence[T], key: Callable[[T], str] = attrgetter("key")) -> list[T]:
        """The items of this shard, in their listed order (``key(item)`` names an item; default ``item.key``)."""
        return [it for it in items if self.holds(key(it))]


def parse_shard(text: str) -> Shard:
    """``"i/n"`` -> :class:`Shard` (``0 <= i < n``)."""
    m = _SHARD.match(text)
    if m is None:
        raise ShardError(f"--shard {text!r}: expected i/n, e.g. 0/4 for the first of four shards")
    return Shard(int(m.group(1)), int(m.group(2)))


DEFAULT_BARRIER_TIMEOUT = timedelta(hours=24)


@dataclass(frozen=True)
class TorchrunEnv:
    """What ``torchrun`` tells each process: its global rank, the world size and its rank on this node."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world_size)

    @property
    def is_writer(self) -> bool:
        """Rank 0 writes the records."""
        return self.rank == 0


def torchrun_env(env: Mapping[str, str] | None = None) -> TorchrunEnv | None:
    """The torchrun rank and world size from ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``, or ``None`` when the
    process was not started by torchrun (or by a launcher that sets the same variables)."""
    env = os.environ if env is None else env
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    try:
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
        local = int(env.get("LOCAL_RANK", rank))
    except ValueError as exc:
        raise ShardError(f"RANK={env.get('RANK')!r}, WORLD_SIZE={env.get('WORLD_SIZE')!r}: not integers") from exc
    if world < 1 or not 0 <= rank < world:
        raise ShardError(f"RANK={rank}, WORLD_SIZE={world}: expected 0 <= RANK < WORLD_SIZE")
    return TorchrunEnv(rank, world, local)


def multi_process_run(shard_arg: str | None, env: Mapping[str, str] | None = None) -> TorchrunEnv | None:
    """The torchrun environment of a run with more than one process, or ``None``. ``--shard`` (``shard_arg``)
    and torchrun exclude each other: under torchrun the rank picks the shard."""
    ctx = torchrun_env(env)
    if ctx is None or ctx.world_size == 1:
        return None
    if shard_arg:
        raise ShardError(f"--shard {shard_arg} under torchrun (WORLD_SIZE={ctx.world_size}): the rank picks the "
                         "shard there; leave --shard out")
    return ctx


def rank_device(ctx: TorchrunEnv, requested: str | None) -> str:
    """The device a rank scores on: what was asked for, else its own GPU (``cuda:LOCAL_RANK``) when there
    are GPUs, else the CPU."""
    if requested:
        return requested
    import torch

    if torch.cuda.is_available():
        return f"cuda:{ctx.local_rank % torch.cuda.device_count()}"
    return "cpu"


@contextmanager
def process_group(ctx: TorchrunEnv, device: str, timeout: timedelta = DEFAULT_BARRIER_TIMEOUT) -> Iterator[None]:
    """A ``torch.distributed`` process group for the ranks of this run (nccl when ``device`` is CUDA, else
    gloo), destroyed on exit. The long default timeout lets the slowest shard finish before the barrier."""
    import torch
    import torch.distributed as dist

    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(torch.device(device))
    dist.init_process_group(backend="nccl" if cuda else "gloo", rank=ctx.rank, world_size=ctx.world_size,
                            timeout=timeout)
    try:
        yield
    finally:
        dist.destroy_process_group()


def barrier(device: str) -> None:
    """Wait until every rank of the process group reaches this point."""
    import torch
    import torch.distributed as dist

    dev = torch.device(device)
    if dev.type == "cuda":
        dist.barrier(device_ids=[dev.index if dev.index is not None else torch.cuda.current_device()])
    else:
        dist.barrier()
