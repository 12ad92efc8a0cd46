"""CA-I3D: an Inception-v1-style inflated 3-D ConvNet with 3-D Coordinate Attention after each block.

Layout (Carreira & Zisserman's I3D, scaled down and configurable):
stem Unit3d(k×k×k, stride s) → [optional max-pool] → Inception blocks, each followed by
``CoordAttention3d``, with a (3, 3, 3) stride-2 max-pool after the blocks listed in ``pool_after`` →
global average pool → dropout → embedding (B, D) → optional linear head (B, n_classes).

An Inception block has four branches (I3D's "Mixed" block): 1×1×1; 1×1×1 → 3×3×3; 1×1×1 → 3×3×3 →
3×3×3 (the factorised 5×5×5, as Inception-v2/v3); 3×3×3 max-pool → 1×1×1. Widths split the block's output
channels as 1/4, 3/8, 1/4, 1/8 (rounded; the pool branch takes the remainder).

Temporal collapse: every conv and pool pads T so that any T ≥ 1 works. For T = 1 input (the composite's
flow maps, (3, 1, 28, 28)) a conv uses only the central temporal tap of its kernel — exactly what zero
padding would compute, without the wasted multiplications — so the network acts as its 2-D Inception
counterpart; for the (5, 10, 128, 128) tensors it is a full 3-D network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.utils import _triple

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.attention import CoordAttention3d


@dataclass(frozen=True)
class CAI3DConfig:
    """Width and depth of CA-I3D.

    Attributes:
        in_channels: input channels (3 for u, v, strain flow maps; 5 for flow + RGB differences).
        stem_channels: output channels of the stem convolution.
        stem_kernel: stem kernel size (cubic).
        stem_stride: stem stride in H and W (and T when T > 1); 1 for 28×28 maps, 2 for 128×128.
        stem_pool: add a (1, 3, 3) stride-(1, 2, 2) max-pool after the stem (I3D does; for 128×128 input).
        blocks: output channels of each Inception block (depth = its length).
        pool_after: indices of blocks followed by a (3, 3, 3) stride-2 max-pool.
        attention: put Coordinate Attention after each Inception block (False: plain I3D, for ablations).
        ca_reduction: channel reduction of the attention encoder.
        dropout: dropout before the embedding output.
        embed_dim: size of a linear projection of the pooled features (0: the last block's width).
        n_classes: size of the classification head (0: no head; ``forward`` returns embeddings).
    """

    in_channels: int = 3
    stem_channels: int = 16
    stem_kernel: int = 3
    stem_stride: int = 1
    stem_pool: bool = False
    blocks: tuple[int, ...] = (32, 48, 64)
    pool_after: tuple[int, ...] = (0, 1)
    attention: bool = True
    ca_reduction: int = 8
    dropout: float = 0.2
    embed_dim: int = 64
    n_classes: int = 0

    def __post_init__(self) -> None:
        if not self.blocks or min(self.blocks) < 8:
            raise ConfigError(f"CAI3DConfig.blocks={self.blocks}: need at least one block of width ≥ 8")
        bad = [i for i in self.pool_after if not 0 <= i < len(self.blocks)]
        if bad:
            raise ConfigError(f"CAI3DConfig.pool_after={self.pool_after} names blocks {bad}, but there are "
                              f"only {len(self.blocks)} blocks (0–{len(self.blocks) - 1})")
        if self.in_channels < 1 or self.stem_channels < 1 or self.stem_kernel < 1 or self.stem_stride < 1:
            raise ConfigError("CAI3DConfig: in_channels, stem_channels, stem_kernel and stem_stride must be ≥ 1")


class CollapsingConv3d(nn.Conv3d):
    """``nn.Conv3d`` with 'same' temporal padding that, for T = 1 input, keeps only the central temporal tap."""

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[2] == 1:   # T = 1: the central temporal tap as a 2-D conv (faster on CPU, same result)
            kt = self.kernel_size[0]
            y = F.conv2d(x[:, :, 0], self.weight[:, :, kt // 2], self.bias, self.stride[1:], self.padding[1:])
            return y[:, :, None]
        return super().forward(x)


class CollapsingMaxPool3d(nn.MaxPool3d):
    """``nn.MaxPool3d`` with 'same'-style padding; T = 1 input is pooled in 2-D (identical result, faster)."""

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[2] == 1:
            k, s, p = (_triple(v)[1:] for v in (self.kernel_size, self.stride, self.padding))
            return F.max_pool2d(x[:, :, 0], k, s, p)[:, :, None]
        return super().forward(x)


class Unit3d(nn.Sequential):
    """Conv3d (no bias) → BatchNorm3d → ReLU, padded so output size = ceil(input / stride)."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1):
        super().__init__(CollapsingConv3d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


def _pool(kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> nn.MaxPool3d:
    return CollapsingMaxPool3d(kernel, stride, padding=tuple(k // 2 for k in kernel))


class InceptionBlock3d(nn.Module):
    """I3D "Mixed" block: four parallel branches concatenated along channels; (B, Cin, T, H, W) → (B, Cout, T, H, W)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        c0, c1, c2 = cout // 4, (3 * cout) // 8, cout // 4
        c3 = cout - c0 - c1 - c2
        r1, r2 = max(4, c1 // 2), max(4, c2 // 2)
        self.b0 = Unit3d(cin, c0)
        self.b1 = nn.Sequential(Unit3d(cin, r1), Unit3d(r1, c1, 3))
        self.b2 = nn.Sequential(Unit3d(cin, r2), Unit3d(r2, c2, 3), Unit3d(c2, c2, 3))
        self.b3 = nn.Sequential(_pool((3, 3, 3), (1, 1, 1)), Unit3d(cin, c3))

    def forward(self, x: Tensor) -> Tensor:
        import torch

        return torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x)], dim=1)


class CAI3D(nn.Module):
    """CA-I3D backbone with an optional classification head.

    Input (B, in_channels, T, H, W) with any T ≥ 1 and H, W ≥ 1; ``forward_features`` → (B, embed_dim),
    ``forward_maps`` → the feature map after the first Inception block (used by the MPFNet-C cascade),
    ``forward`` → logits (B, n_classes) when ``n_classes`` > 0, else the embedding.

    Example:
        >>> net = CAI3D(CAI3DConfig(n_classes=3))
        >>> net(torch.randn(2, 3, 1, 28, 28)).shape
        torch.Size([2, 3])
    """

    def __init__(self, cfg: CAI3DConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or CAI3DConfig()
        stem = [Unit3d(cfg.in_channels, cfg.stem_channels, cfg.stem_kernel, cfg.stem_stride)]
        if cfg.stem_pool:
            stem.append(_pool((1, 3, 3), (1, 2, 2)))
        self.stem = nn.Sequential(*stem)
        layers, cin = [], cfg.stem_channels
        for i, cout in enumerate(cfg.blocks):
            stage = [InceptionBlock3d(cin, cout)]
            if cfg.attention:
                stage.append(CoordAttention3d(cout, cfg.ca_reduction))
            if i in cfg.pool_after:
                stage.append(_pool((3, 3, 3), (2, 2, 2)))
            layers.append(nn.Sequential(*stage))
            cin = cout
        self.blocks = nn.ModuleList(layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(cin, cfg.embed_dim) if cfg.embed_dim else nn.Identity()
        self.embed_dim = cfg.embed_dim or cin
        self.head = nn.Linear(self.embed_dim, cfg.n_classes) if cfg.n_classes else None

    @property
    def map_channels(self) -> int:
        """Channels of ``forward_maps``'s output."""
        return self.cfg.blocks[0]

    def forward_maps(self, x: Tensor) -> Tensor:
        """(B, C, T, H, W) → (B, blocks[0], T', H', W') after the stem and the first block (with attention)."""
        self._check(x)
        return self.blocks[0](self.stem(x))

    def forward_features(self, x: Tensor, maps: Tensor | None = None) -> Tensor:
        """(B, C, T, H, W) → (B, embed_dim) pooled embedding; ``maps`` skips the first block when given."""
        h = self.forward_maps(x) if maps is None else maps
        for block in self.blocks[1:]:
            h = block(h)
        return self.proj(self.dropout(h.mean(dim=(2, 3, 4))))

    def forward_head(self, feats: Tensor) -> Tensor:
        if self.head is None:
            raise ConfigError("this CAI3D has no head (n_classes=0); use forward_features")
        return self.head(feats)

    def forward(self, x: Tensor) -> Tensor:
        f = self.forward_features(x)
        return self.head(f) if self.head is not None else f

    def _check(self, x: Tensor) -> None:
        if x.dim() != 5 or x.shape[1] != self.cfg.in_channels:
            raise ConfigError(f"CAI3D expects (B, {self.cfg.in_channels}, T, H, W), got {tuple(x.shape)}")


#: A CA-I3D sized for the full (5, 10, 128, 128) tensors: stride-2 stem, I3D's stem pool, four blocks.
RAW_CONFIG = CAI3DConfig(in_channels=5, stem_channels=32, stem_kernel=5, stem_stride=2, stem_pool=True,
                         blocks=(64, 96, 128, 160), pool_after=(0, 1, 2))
