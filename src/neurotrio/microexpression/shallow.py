"""A shallow prior encoder for single-frame flow maps: an STSTNet-like 2-D trunk with Coordinate Attention.

MPFNet's paper builds its GFE and AFE on CA-I3D, an I3D sized for (10, 128, 128) tensors. On the MEGC2019
composite's 28×28 single-frame (u, v, strain) maps the deeper CA-I3D fits the training subjects but not
unseen ones (docs/mer.md, "Tuning"), while the 1.7K-parameter STSTNet-like baseline generalises. This
encoder keeps the baseline's trunk and adds the paper's attention:

input (B, C, T, H, W) → mean over T → resize to ``size``×``size`` (bilinear, only if needed) → parallel
3×3 conv streams (``filters``; conv → ReLU → BN → 3×3 max-pool stride 3, 'same' padding: 28 → 10) →
concat → Coordinate Attention (Hou et al., CVPR 2021, the 3-D module with T = 1) → 2×2 average pool
(10 → 5) → flatten (sum(filters)·25) → dropout → optional linear embedding → optional linear head.

It offers CA-I3D's interface (``forward_maps``, ``forward_features(x, maps)``, ``map_channels``,
``forward``), so MPFNet's stages and both variants use it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.attention import CoordAttention3d


@dataclass(frozen=True)
class ShallowCAConfig:
    """Width of the shallow encoder.

    Attributes:
        in_channels: input channels (3 for u, v, strain maps).
        filters: filters of each parallel 3×3 conv stream (STSTNet: 3, 5, 8).
        size: side the input is resized to (28: the composite's maps; the trunk's pools assume ≈ 28).
        attention: Coordinate Attention on the concatenated streams (False: the plain trunk, for ablations).
        ca_reduction: channel reduction of the attention encoder (width max(8, C // r)).
        dropout: dropout on the flattened features.
        embed_dim: linear projection of the flattened features (0: the flattened features themselves).
        n_classes: classification head size (0: no head).
        cosine_head: the head scores cosine similarities of the embedding to learned class vectors ×
            ``head_scale`` (a normalised-softmax head), so stage 2 trains the same geometry the
            prototypes use (cosine to class means); False: a plain linear head.
        head_scale: the cosine head's logit scale.
    """

    in_channels: int = 3
    filters: tuple[int, ...] = (3, 5, 8)
    size: int = 28
    attention: bool = True
    ca_reduction: int = 4
    dropout: float = 0.0
    embed_dim: int = 0
    n_classes: int = 0
    cosine_head: bool = False
    head_scale: float = 10.0

    def __post_init__(self) -> None:
        if not self.filters or min(self.filters) < 1 or self.in_channels < 1 or self.size < 6:
            raise ConfigError(f"ShallowCAConfig: filters={self.filters}, in_channels={self.in_channels} and "
                              f"size={self.size} must be positive (size ≥ 6)")


class CosineHead(nn.Module):
    """Logits = scale · cos(embedding, w_c) for learned class vectors w_c; (B, D) → (B, n_classes)."""

    def __init__(self, dim: int, n_classes: int, scale: float = 10.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_classes, dim) * dim ** -0.5)
        self.scale = float(scale)

    def forward(self, f: Tensor) -> Tensor:
        return self.scale * F.normalize(f, dim=1) @ F.normalize(self.weight, dim=1).T


class ShallowCA(nn.Module):
    """STSTNet-like trunk with Coordinate Attention; (B, C, T, H, W) → embedding (B, D) or logits.

    Example:
        >>> net = ShallowCA(ShallowCAConfig(n_classes=3))
        >>> net(torch.randn(2, 3, 1, 28, 28)).shape
        torch.Size([2, 3])
    """

    def __init__(self, cfg: ShallowCAConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ShallowCAConfig()
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cfg.in_channels, f, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(f),
                          nn.MaxPool2d(3, 3, padding=1))
            for f in cfg.filters)
        c = sum(cfg.filters)
        self.attention = CoordAttention3d(c, cfg.ca_reduction) if cfg.attention else nn.Identity()
        side = (cfg.size + 2 - 3) // 3 + 1                 # after the stride-3 pool
        flat = c * (side // 2) ** 2
        self.dropout = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(flat, cfg.embed_dim) if cfg.embed_dim else nn.Identity()
        self.embed_dim = cfg.embed_dim or flat
        if not cfg.n_classes:
            self.head = None
        elif cfg.cosine_head:
            self.head = CosineHead(self.embed_dim, cfg.n_classes, cfg.head_scale)
        else:
            self.head = nn.Linear(self.embed_dim, cfg.n_classes)

    @property
    def map_channels(self) -> int:
        """Channels of ``forward_maps``'s output."""
        return sum(self.cfg.filters)

    def forward_maps(self, x: Tensor) -> Tensor:
        """(B, C, T, H, W) → (B, sum(filters), 1, s, s) attended stream maps (s = 10 for 28×28 input)."""
        if x.dim() != 5 or x.shape[1] != self.cfg.in_channels:
            raise ConfigError(f"ShallowCA expects (B, {self.cfg.in_channels}, T, H, W), got {tuple(x.shape)}")
        h = x.mean(dim=2)
        if h.shape[-2:] != (self.cfg.size, self.cfg.size):
            h = F.interpolate(h, size=(self.cfg.size, self.cfg.size), mode="bilinear", align_corners=False)
        h = torch.cat([s(h) for s in self.streams], dim=1)[:, :, None]
        return self.attention(h)

    def forward_features(self, x: Tensor, maps: Tensor | None = None) -> Tensor:
        """(B, C, T, H, W) → (B, embed_dim); ``maps`` (from ``forward_maps``) skips the trunk when given."""
        h = self.forward_maps(x) if maps is None else maps
        h = F.avg_pool2d(h[:, :, 0], 2).flatten(1)
        return self.proj(self.dropout(h))

    def forward(self, x: Tensor) -> Tensor:
        f = self.forward_features(x)
        return self.head(f) if self.head is not None else f
