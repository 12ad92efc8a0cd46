"""Flow-aware batch augmentation for MPFNet's stages and the baseline (composite (u, v, strain) maps).

- Horizontal flip: a mirrored face moves the other way horizontally, so the flip reverses the u channel:
  each sample's u map is flipped along W and reflected about its own spatial median, the static face's
  level (the composite's maps are per-image min-max encodings, so zero motion sits near the median, the
  same rule ``stages.amplify_flow`` uses). v and strain are only mirrored.
- Shift: a random translation of up to ``shift`` pixels in H and W, edges replicated (faces are cropped
  and aligned, so small shifts model alignment error).
- Mixup (Zhang et al., ICLR 2018) is applied in ``stages.train_classifier`` (``StageConfig.mixup``).

Each function takes standardised (B, C, T, H, W) batches and a ``torch.Generator``, so runs are seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (off by default in every field).

    Attributes:
        flip: probability of a horizontal flip with u reversed (0: never).
        shift: largest translation in pixels (0: none).
        u_channel: index of the horizontal-flow channel (-1: no flow channel; the flip then only mirrors).
    """

    flip: float = 0.0
    shift: int = 0
    u_channel: int = 0

    @property
    def active(self) -> bool:
        return self.flip > 0 or self.shift > 0


def flow_flip(x: Tensor, u_channel: int = 0) -> Tensor:
    """Mirror (B, C, T, H, W) along W; channel ``u_channel`` is reflected about its per-sample median."""
    out = x.flip(-1)
    if u_channel >= 0:
        u = out[:, u_channel]
        med = u.flatten(1).median(dim=1).values.view(-1, *([1] * (u.dim() - 1)))
        out = out.clone()
        out[:, u_channel] = 2 * med - u
    return out


def random_shift(x: Tensor, shift: int, gen: torch.Generator) -> Tensor:
    """Translate each sample of (B, C, T, H, W) by integers in [-shift, shift] (H and W), edges replicated."""
    if shift <= 0:
        return x
    b, c, t, h, w = x.shape
    pad = F.pad(x.reshape(b, c * t, h, w), (shift, shift, shift, shift), mode="replicate")
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=gen).tolist()
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=gen).tolist()
    out = torch.stack([pad[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
    return out.reshape(b, c, t, h, w)


def augment_batch(x: Tensor, cfg: AugmentConfig, gen: torch.Generator) -> Tensor:
    """Apply the configured flip and shift to a batch (a new tensor; ``x`` is unchanged)."""
    if cfg.flip > 0:
        pick = torch.rand(len(x), generator=gen) < cfg.flip
        if pick.any():
            x = x.clone()
            x[pick] = flow_flip(x[pick], cfg.u_channel)
    return random_shift(x, cfg.shift, gen)
