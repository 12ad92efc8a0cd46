"""Batch norm over the global batch of all ranks, for DistributedDataParallel on CPUs (gloo) as well.

Why by hand: torch's ``nn.SyncBatchNorm`` refuses CPU tensors ("expected input tensor to be on GPU"),
and without it every rank normalises over its own share of the batch. For the spiking networks that is
far from harmless: a rank's half-batch statistics move the membrane inputs, spikes flip, and two CPU
processes train a different model than one (relative gradient difference ~1.7 measured on FSL-SNN's
smoke model). On GPUs :func:`convert_batchnorm` uses torch's own ``SyncBatchNorm``.

Imports run one way: ``core.distributed`` uses this module; this module uses only ``torch.distributed``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


class _AllReduceSum(torch.autograd.Function):
    """Sum across ranks; backward: the ranks' gradients summed (each rank's input feeds every output)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def all_reduce(t: torch.Tensor) -> torch.Tensor:
    """Sum a tensor across ranks with gradients flowing back to every rank (only called inside a group)."""
    return _AllReduceSum.apply(t)


class CrossRankBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are the global batch's (two all-reduces, exact two-pass).

    Gradients flow through the all-reduces, so DDP's averaged gradient equals one process's gradient
    on the whole batch. Outside a process group, or in eval mode, it is plain batch norm.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {x.dim()}-D")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        n = all_reduce(count)
        mean = all_reduce(x.sum(dims)) / n
        centred = x - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / n  # biased, as batch norm normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                unbiased = var * (n / torch.clamp(n - 1, min=1))
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(unbiased.detach(), factor)
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every batch-norm layer of ``module`` (in place) by one that syncs statistics across ranks.

    CUDA: torch's ``nn.SyncBatchNorm``; CPU: :class:`CrossRankBatchNorm`. The layers keep their
    Parameter and buffer objects (an optimizer built before still works); state-dict keys stay the same.
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, CrossRankBatchNorm):
            new = CrossRankBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                     child.track_running_stats, device=device)
            # the same Parameter and buffer objects, so that an optimizer built before still updates them
            for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                setattr(new, key, getattr(child, key))
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_batchnorm(child, device)
    return module
