"""Torch's own DistributedDataParallel, switched on by ``torchrun`` (WORLD_SIZE > 1) and nothing else."""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler


def init_distributed() -> tuple[int, int]:
    """Initialise the process group when launched by torchrun; returns (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return rank(), world_size()


def finish_distributed() -> None:
    """Tear the process group down after a successful command, once every rank has reached this point.

    A process that exits with the group still up can abort while gloo's threads shut down; and a rank that
    destroys its group while a peer is still finishing the last collective closes the connection under
    it (rank aborted with SIGABRT in about 1 of 10 two-process test runs). The barrier first lets every
    rank leave its last collective; all of our commands end with a collective (results gathered), so no
    rank waits long here.
    """
    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()


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
    """DistributedDataParallel around ``model`` under torchrun (itself otherwise).

    Batch-norm layers are first converted in place to sync their statistics over the global batch
    (``core.sync_batchnorm``), so that N ranks compute the single process's update.
    """
    if not is_distributed():
        return model
    from neurotrio.core.sync_batchnorm import convert_batchnorm

    convert_batchnorm(model, device)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


class ShardedBatchSampler(Sampler[list[int]]):
    """This rank's share ``batch[rank::world]`` of every batch the single-process ``batches`` yields.

    Every rank iterates the same ``batches`` (same generator, same draws), so the union of the ranks'
    k-th batches is exactly the single process's k-th batch. A batch with fewer items than ranks (a
    short last batch) is skipped by every rank alike, so that DDP's ranks always take the same steps.
    """

    def __init__(self, batches: BatchSampler, rank: int, world: int):
        self.batches, self.rank, self.world = batches, rank, world

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            if len(batch) >= self.world:
                yield batch[self.rank::self.world]

    def __len__(self) -> int:
        n, bs = len(self.batches.sampler), self.batches.batch_size
        full, tail = divmod(n, bs)
        return full + int(not self.batches.drop_last and tail >= self.world)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, generator: torch.Generator | None = None,
                drop_last: bool = False, num_workers: int = 0) -> DataLoader:
    """A DataLoader over ``dataset``; under torchrun each rank gets its share of every global batch.

    ``batch_size`` is the global batch, so N processes take the same optimisation steps as one: every
    rank draws the single process's shuffled order from ``generator`` (the same draws, so the generator
    stays in step with one process) and keeps items ``r, r + N, ...`` of each batch; DDP's gradient
    averaging then gives the single process's update (for equal shares, up to float summation order; batch
    norm syncs its statistics across ranks, see :func:`wrap_model`).
    """
    if not is_distributed():
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                          drop_last=drop_last, num_workers=num_workers)
    check_batch_size(batch_size)
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    batches = ShardedBatchSampler(BatchSampler(order, batch_size, drop_last), rank(), world_size())
    return DataLoader(dataset, batch_sampler=batches, generator=generator, num_workers=num_workers)


def check_batch_size(batch_size: int) -> None:
    """Refuse a global batch smaller than the number of ranks (some rank would get no items)."""
    from neurotrio.core.errors import ConfigError

    if batch_size < world_size():
        raise ConfigError(f"batch size {batch_size} is smaller than the {world_size()} torchrun processes: "
                          "each needs at least one item of every batch")


def share_of_batch(items: torch.Tensor) -> torch.Tensor:
    """This rank's share ``items[rank::world]`` of a global batch (all of it when not distributed)."""
    return items[rank()::world_size()] if is_distributed() else items


def gather_shares(local: torch.Tensor, total: int) -> torch.Tensor:
    """The whole batch from every rank's ``share_of_batch`` (inverse of it), with gradients flowing back.

    Each rank then holds all ``total`` items in their original order. The backward pass sums the
    ranks' gradients onto each share, so when every rank computes the same loss from the whole batch,
    DDP's average of the gradients is the single process's gradient.
    """
    if not is_distributed():
        return local
    world = world_size()
    per_rank = -(-total // world)
    if len(local) < per_rank:  # later ranks hold one item fewer: pad, then cut after interleaving
        local = torch.cat([local, local.new_zeros((per_rank - len(local), *local.shape[1:]))])
    parts = _AllGather.apply(local)  # (world, per_rank, ...)
    return parts.transpose(0, 1).reshape(per_rank * world, *local.shape[1:])[:total]


class _AllGather(torch.autograd.Function):
    """Every rank's tensor stacked ``(world, ...)``; backward: the ranks' gradients summed, own part kept.

    (torch.distributed.nn.functional.all_gather does this too but is deprecated; gloo lacks the
    reduce-scatter its replacement uses.)
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.stack(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[rank()]


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
