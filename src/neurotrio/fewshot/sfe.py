"""Self-Feature Extractor (SFE): temporal-channel self-correlation over a U×V neighbourhood.

Modelled on RENet's self-correlational representation (SCR, Kang et al. ICCV 2021): the feature
vector at each position is L2-normalised, multiplied element-wise (Hadamard) with each of its U×V
neighbours (``F.unfold``), giving a ``(C, U, V)`` correlation volume per position; a 1×1 conv reduces
the channels, two ``(1, 3, 3)`` 3-D convs collapse the U×V neighbourhood (5×5 → 3×3 → 1×1), a 1×1 conv
restores the channels, and the result F1 is added to the input: ``F = F0 + F1``.

How time enters (``time_mode``):
    ``"fold"`` (default): ``(B, T, C, H, W)`` → ``(B, T·C, H, W)``; the correlation vector joins time and
    channel ("temporal-channel"), the convs mix across both, and the output is unfolded back.
    ``"step"``: each time step is correlated on its own with shared weights (``B·T`` maps of C channels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from neurotrio.core.errors import ConfigError


@dataclass(frozen=True)
class SFEConfig:
    """SFE hyper-parameters.

    Attributes:
        kernel: the U×V neighbourhood (odd sizes; 5×5 needs two 3×3 3-D convs to reach 1×1).
        reduction: channel reduction of the 1×1 conv "down" (mid channels = in / reduction, at least 4).
        time_mode: ``"fold"`` (T into channels) or ``"step"`` (per time step, shared weights).
    """

    kernel: tuple[int, int] = (5, 5)
    reduction: int = 4
    time_mode: Literal["fold", "step"] = "fold"


class SFE(nn.Module):
    """Self-correlation block with a residual connection.

    Args:
        channels: C of the feature map F0.
        time_steps: T of F0 (needed for ``time_mode="fold"``).
        cfg: SFE configuration.

    Shapes:
        ``(B, T, C, H, W)`` → ``(B, T, C, H, W)``.
    """

    def __init__(self, channels: int, time_steps: int, cfg: SFEConfig = SFEConfig()):
        super().__init__()
        u, v = cfg.kernel
        if u % 2 == 0 or v % 2 == 0 or u < 5 or v < 5 or u != v:
            raise ConfigError(f"SFE kernel must be odd, square and >= 5 (two 3×3 convs shrink it), got {cfg.kernel}")
        if cfg.time_mode not in ("fold", "step"):
            raise ConfigError(f"SFE time_mode must be 'fold' or 'step', got {cfg.time_mode!r}")
        self.cfg, self.time_steps = cfg, time_steps
        c = channels * time_steps if cfg.time_mode == "fold" else channels
        mid = max(4, c // cfg.reduction)
        self.down = nn.Sequential(nn.Conv2d(c, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU())
        self.conv3d = nn.Sequential(
            nn.Conv3d(mid, mid, (1, 3, 3), bias=False), nn.BatchNorm3d(mid), nn.ReLU(),
            nn.Conv3d(mid, mid, (1, 3, 3), bias=False), nn.BatchNorm3d(mid), nn.ReLU(),
        )
        # the two (1,3,3) convs shrink U×V from u×v to (u-4)×(v-4): 1×1 for 5×5; larger ones are averaged
        self.up = nn.Sequential(nn.Conv2d(mid, c, 1, bias=False), nn.BatchNorm2d(c))

    def self_correlation(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` → Hadamard correlation volume ``(N, C, H·W, U, V)``."""
        n, c, h, w = x.shape
        u, v = self.cfg.kernel
        x = F.normalize(x, p=2, dim=1)
        patches = F.unfold(x, (u, v), padding=(u // 2, v // 2)).view(n, c, u, v, h * w)
        corr = patches * x.view(n, c, 1, 1, h * w)
        return corr.permute(0, 1, 4, 2, 3)  # (N, C, HW, U, V)

    def forward(self, f0: Tensor) -> Tensor:
        b, t, c, h, w = f0.shape
        x = f0.reshape(b, t * c, h, w) if self.cfg.time_mode == "fold" else f0.reshape(b * t, c, h, w)
        n, cc = x.shape[:2]
        corr = self.self_correlation(x)  # (N, CC, HW, U, V)
        u, v = self.cfg.kernel
        z = self.down(corr.reshape(n, cc, h * w, u * v)).view(n, -1, h * w, u, v)
        z = self.conv3d(z).mean(dim=(3, 4))  # (N, mid, HW)
        f1 = self.up(z.view(n, -1, h, w, 1).squeeze(-1))
        return f0 + f1.reshape(b, t, c, h, w)
