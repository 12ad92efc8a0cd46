"""Shuffled mini-batches of in-memory tensors, sharded across ranks under torchrun."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from neurotrio.core import distributed


class TensorBatches:
    """Shuffled mini-batches of tensors that already sit on the training device (no DataLoader copies).

    Under torchrun every rank draws the same permutation from ``generator`` and takes its share
    ``batch[rank::world]`` of each global batch, so N ranks under DDP take the single process's steps
    (a last batch with fewer items than ranks is skipped by every rank).

    Args:
        x, y: tensors with the same first dimension, on the same device.
        batch_size: samples per global batch (the last batch may be smaller unless ``drop_last``).
        generator: CPU generator driving the shuffle (reproducible across devices).
        drop_last: drop a last batch smaller than ``batch_size``.
        shard: take this rank's share under torchrun; False when each rank trains its own job (a fold).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator,
                 drop_last: bool = False, shard: bool = True):
        self.x, self.y, self.batch_size, self.generator, self.drop_last = x, y, batch_size, generator, drop_last
        self.world = distributed.world_size() if shard else 1
        if self.world > 1:
            distributed.check_batch_size(batch_size)

    def __len__(self) -> int:
        full, tail = divmod(self.x.shape[0], self.batch_size)
        return full + int(not self.drop_last and tail >= self.world)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(self.x.shape[0], generator=self.generator).to(self.x.device)
        for i in range(0, order.numel(), self.batch_size):
            idx = order[i:i + self.batch_size]
            if (self.drop_last and len(idx) < self.batch_size) or len(idx) < self.world:
                continue
            if self.world > 1:
                idx = distributed.share_of_batch(idx)
            yield self.x[idx], self.y[idx]
