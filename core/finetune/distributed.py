"""Data-parallel training across processes, for `torchrun` or `accelerate launch`.

Both launchers set the standard environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT);
with WORLD_SIZE > 1 the recipe joins the process group (NCCL on GPUs, Gloo on CPUs), each rank
trains on its share of every step's batches, and the LoRA gradients are averaged before each
optimizer step: the same update as one process with a world-size-times larger batch. Only
LoRA parameters have gradients, so averaging them by hand is a few small all-reduces; DDP's
bucketing would add nothing here. Rank 0 alone writes checkpoints, metrics and the adapter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> World:
    """Join the process group when launched with several processes (idempotent)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)  # so "cuda" means this rank's GPU
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return World(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=local_rank)


def current() -> World:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return World()


def average_gradients(params, world: World) -> None:
    import torch.distributed as dist

    if world.size <= 1:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world.size


def sum_across(values: list[float], world: World) -> list[float]:
    if world.size <= 1:
        return values
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def barrier(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        dist.barrier()


def from_main(value: str, world: World) -> str:
    """Rank 0's ``value`` on every rank (the job id the command line's rank 0 recorded)."""
    if world.size <= 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
