"""Parameter and FLOP counting.

Conv and matmul FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (2 per multiply-accumulate).
Papers often also count bias additions (1 per output element) and batch-norm scale and shift (2 per
element); ``count_flops`` adds those by hooks when asked, so the counting rule is explicit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; batch-norm running statistics are buffers and never counted."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass(frozen=True)
class FlopCount:
    """FLOPs for one forward pass of the example input."""

    matmul_conv: int
    bias: int
    norm: int

    @property
    def total(self) -> int:
        return self.matmul_conv + self.bias + self.norm

    @property
    def macs(self) -> int:
        return self.matmul_conv // 2


_BIASED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@torch.no_grad()
def count_flops(model: nn.Module, example: torch.Tensor) -> FlopCount:
    """Count FLOPs of ``model(example)`` (divide by the batch size yourself for per-sample counts).

    Example:
        >>> count_flops(nn.Linear(3, 2), torch.zeros(1, 3)).total   # 12 matmul + 2 bias
        14
    """
    extra = {"bias": 0, "norm": 0}

    def hook(mod: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        if isinstance(mod, _BIASED) and getattr(mod, "bias", None) is not None:
            extra["bias"] += out.numel()
        elif isinstance(mod, _NORMS):
            extra["norm"] += 2 * out.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _BIASED + _NORMS)]
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return FlopCount(int(counter.get_total_flops()), extra["bias"], extra["norm"])
