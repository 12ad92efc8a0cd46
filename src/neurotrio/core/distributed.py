"""Torch's own DistributedDataParallel, switched on by ``torchrun`` (WORLD_SIZE > 1) and nothing else."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def init_distributed() -> tuple[int, int]:
    """Initialise the process group when launched by torchrun; returns (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return rank(), world_size()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Only rank 0 writes files and prints."""
    return rank() == 0


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    if not is_distributed():
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, generator: torch.Generator | None = None,
                drop_last: bool = False, num_workers: int = 0) -> DataLoader:
    """A DataLoader over ``dataset``; under torchrun each rank gets a shard and ``batch_size // world``.

    ``batch_size`` is the global batch, so N processes take the same optimisation steps as one: with
    ``shuffle=False`` rank r's k-th batch holds items ``r, r + N, ...`` of the single process's k-th batch,
    and DDP's gradient averaging gives the same update (models without batch norm: exactly, up to float
    summation order). With shuffling, ranks draw a different (still seeded) order than one process.
    """
    if is_distributed():
        world = world_size()
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} is not divisible by the {world} processes")
        sampler = DistributedSampler(dataset, shuffle=shuffle, drop_last=drop_last,
                                     seed=int(generator.initial_seed()) if generator else 0)
        return DataLoader(dataset, batch_size=batch_size // world, sampler=sampler, drop_last=drop_last,
                          num_workers=num_workers)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      drop_last=drop_last, num_workers=num_workers)


def shard(items: list, by_rank: bool = True) -> list:
    """The share of independent jobs (folds, subjects) this rank runs: items r, r + N, ... of the list."""
    return items[rank()::world_size()] if by_rank else items


def gather_objects(obj: object) -> list:
    """Every rank's ``obj`` on every rank, in rank order (a one-item list when not distributed)."""
    if not is_distributed():
        return [obj]
    out: list = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum a tensor across ranks (identity when not distributed)."""
    if is_distributed():
        t = t.clone()
        dist.all_reduce(t)
    return t
