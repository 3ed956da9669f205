"""Running under ``torchrun``: the rank and world size come from the environment and pick the shard; every rank
scores its shard on its own device; after a ``torch.distributed`` barrier (gloo on CPU, nccl on CUDA) rank 0
writes the records from the shared cache."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from .sharding import Shard, ShardError

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
