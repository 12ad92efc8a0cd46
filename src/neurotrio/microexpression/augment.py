"""Flow-aware batch augmentation for MPFNet's stages and the baseline (composite (u, v, strain) maps).

- Horizontal flip: a mirrored face moves the other way horizontally, so the flip reverses the u channel:
  each sample's u map is flipped along W and reflected about its own spatial median, the static face's
  level (the composite's maps are per-image min-max encodings, so zero motion sits near the median, the
  same rule ``stages.amplify_flow`` uses). v and strain are only mirrored.
- Shift: a random translation of up to ``shift`` pixels in H and W, edges replicated (faces are cropped
  and aligned, so small shifts model alignment error).
- Rotation: a random in-plane rotation of up to ``rotate`` degrees about the map's centre (bilinear,
  borders replicated); the (u, v) vectors turn with the face, so both are rotated about their per-sample
  medians by the same angle (image axes: x right, y down). Strain is a scalar and is only resampled.
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
        rotate: largest rotation in degrees (0: none).
        u_channel: index of the horizontal-flow channel (-1: no flow channel; the flip then only mirrors,
            the rotation only resamples); v is the next channel.
    """

    flip: float = 0.0
    shift: int = 0
    rotate: float = 0.0
    u_channel: int = 0

    @property
    def active(self) -> bool:
        return self.flip > 0 or self.shift > 0 or self.rotate > 0


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


def random_rotation(x: Tensor, degrees: float, gen: torch.Generator, u_channel: int = 0) -> Tensor:
    """Rotate each sample of (B, C, T, H, W) by an angle in [-degrees, degrees], flow vectors turned too.

    Spatially, output pixel p samples the input at R⁻¹p (``affine_grid``, normalised coordinates, square
    maps assumed as in the composite); channels ``u_channel`` and ``u_channel + 1`` are then combined as
    (u', v') = R (u − median_u, v − median_v) + medians.
    """
    if degrees <= 0:
        return x
    b, c, t, h, w = x.shape
    ang = (torch.rand(b, generator=gen) * 2 - 1) * torch.pi * degrees / 180
    cos, sin = ang.cos(), ang.sin()
    inv = torch.stack([torch.stack([cos, sin, torch.zeros(b)], 1),
                       torch.stack([-sin, cos, torch.zeros(b)], 1)], 1).to(x.dtype)      # R⁻¹ (B, 2, 3)
    grid = F.affine_grid(inv, [b, c * t, h, w], align_corners=False)
    out = F.grid_sample(x.reshape(b, c * t, h, w), grid, mode="bilinear", padding_mode="border",
                        align_corners=False).reshape(b, c, t, h, w)
    if 0 <= u_channel and u_channel + 1 < c:
        u, v = out[:, u_channel], out[:, u_channel + 1]
        mu = u.flatten(1).median(1).values.view(b, 1, 1, 1)
        mv = v.flatten(1).median(1).values.view(b, 1, 1, 1)
        cs, sn = cos.view(b, 1, 1, 1).to(x.dtype), sin.view(b, 1, 1, 1).to(x.dtype)
        out = out.clone()
        out[:, u_channel] = cs * (u - mu) - sn * (v - mv) + mu
        out[:, u_channel + 1] = sn * (u - mu) + cs * (v - mv) + mv
    return out


def augment_batch(x: Tensor, cfg: AugmentConfig, gen: torch.Generator) -> Tensor:
    """Apply the configured flip, rotation and shift to a batch (a new tensor; ``x`` is unchanged)."""
    if cfg.flip > 0:
        pick = torch.rand(len(x), generator=gen) < cfg.flip
        if pick.any():
            x = x.clone()
            x[pick] = flow_flip(x[pick], cfg.u_channel)
    x = random_rotation(x, cfg.rotate, gen, cfg.u_channel)
    return random_shift(x, cfg.shift, gen)
