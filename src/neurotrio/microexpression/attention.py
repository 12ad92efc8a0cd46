"""3-D Coordinate Attention: Hou, Zhou & Feng (CVPR 2021) extended from (H, W) to (T, H, W).

Hou et al. pool a feature map along each spatial axis separately, encode the concatenated strips with a
shared 1×1 conv + BN + h-swish, split them back and turn each into a sigmoid gate. In 3-D the map is
pooled three ways — over (H, W) giving a temporal strip of length T, over (T, W) giving a height strip,
over (T, H) giving a width strip — and the output is ``x · g_T · g_H · g_W`` (each gate broadcast along
the axes it was pooled over).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CoordAttention3d(nn.Module):
    """Coordinate attention over (T, H, W).

    Args:
        channels: C of the input (B, C, T, H, W); the output has the same shape.
        reduction: the shared encoder has ``max(min_mid, C // reduction)`` channels (Hou et al.: 32, 8).
        min_mid: lower bound of the encoder width.

    Example:
        >>> CoordAttention3d(16)(torch.randn(2, 16, 1, 7, 7)).shape
        torch.Size([2, 16, 1, 7, 7])
    """

    def __init__(self, channels: int, reduction: int = 32, min_mid: int = 8):
        super().__init__()
        mid = max(min_mid, channels // reduction)
        self.encode = nn.Sequential(nn.Conv1d(channels, mid, 1, bias=False), nn.BatchNorm1d(mid), nn.Hardswish())
        self.gate_t = nn.Conv1d(mid, channels, 1)
        self.gate_h = nn.Conv1d(mid, channels, 1)
        self.gate_w = nn.Conv1d(mid, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        _b, _c, t, h, w = x.shape
        strip_t = x.mean(dim=(3, 4))              # (B, C, T)
        strip_h = x.mean(dim=(2, 4))              # (B, C, H)
        strip_w = x.mean(dim=(2, 3))              # (B, C, W)
        y = self.encode(torch.cat([strip_t, strip_h, strip_w], dim=2))   # shared encoder over T+H+W
        y_t, y_h, y_w = torch.split(y, [t, h, w], dim=2)
        g_t = torch.sigmoid(self.gate_t(y_t))[:, :, :, None, None]
        g_h = torch.sigmoid(self.gate_h(y_h))[:, :, None, :, None]
        g_w = torch.sigmoid(self.gate_w(y_w))[:, :, None, None, :]
        return x * g_t * g_h * g_w
