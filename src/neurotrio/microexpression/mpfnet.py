"""MPFNet: two CA-I3D prior encoders (GFE, AFE) classified against class prototypes by cosine similarity.

Variants (``MPFNet(variant=...)``):

- ``P`` (parallel): score_c = cos(g(x), p^G_c) + γ · cos(a(x), p^A_c), γ = 0.7 by default.
- ``C`` (cascade): the GFE's first-block feature map (B, C_G, T', H', W') is reduced by a 1×1×1 conv to
  ``fuse_channels`` maps, resized (trilinear) to the input's (T, H, W) and concatenated to the input as
  extra channels; the AFE (``in_channels + fuse_channels`` inputs) encodes that, and the score is
  cos(a(x ⊕ f(g_maps(x))), p^A_c). Prototypes live on the AFE output only.
- ``GFE`` / ``AFE``: ablations scoring with one encoder only.

Prototypes p_c are the mean of L2-normalised embeddings of class c's support samples (at test time: all
training samples of the fold). Training logits are scores × ``temperature``.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.model import CAI3D, CAI3DConfig
from neurotrio.microexpression.shallow import ShallowCA, ShallowCAConfig

VARIANTS = ("P", "C", "GFE", "AFE")
Encoder = CAI3D | ShallowCA


def make_encoder(backbone: CAI3DConfig | ShallowCAConfig, n_classes: int = 0, extra_in: int = 0) -> Encoder:
    """A prior encoder of the config's kind (CA-I3D or the shallow CA trunk), with ``extra_in`` more inputs."""
    from dataclasses import replace

    cls = ShallowCA if isinstance(backbone, ShallowCAConfig) else CAI3D
    return cls(replace(backbone, in_channels=backbone.in_channels + extra_in, n_classes=n_classes))


def make_afe(backbone: CAI3DConfig | ShallowCAConfig, n_classes: int, cascade: bool, fuse_channels: int) -> Encoder:
    """The AFE encoder with a classification head (stage 2); cascade AFEs take the fused extra channels."""
    return make_encoder(backbone, n_classes, fuse_channels if cascade else 0)


class Fuse(nn.Module):
    """MPFNet-C wiring: GFE first-block maps → 1×1×1 conv + BN + ReLU → resize to input → concat with input.

    With ``gate`` the fused maps are multiplied by a learned scalar that starts at 0 (as SkipInit / ReZero
    start residual branches), so the cascade AFE begins as a plain AFE and takes in the GFE's maps only as
    far as training finds them useful; without it they enter at full strength from the first step.

    With ``drop`` > 0 the whole fused block of a training sample is zeroed with that probability (the
    others rescaled by 1 / (1 − drop), as in dropout), so the AFE cannot lean on the GFE's maps alone: the
    GFE was trained on the same samples and separates them better than it separates unseen subjects
    (the leak of stacking a model on in-sample features). Only while gradients are computed, so the
    no-gradient batch-norm re-estimation (``MPFNet.recalibrate_bn``) sees the maps every test sample gets.
    """

    def __init__(self, map_channels: int, fuse_channels: int, gate: bool = False, drop: float = 0.0):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv3d(map_channels, fuse_channels, 1, bias=False),
                                    nn.BatchNorm3d(fuse_channels), nn.ReLU(inplace=True))
        self.gate = nn.Parameter(torch.zeros(1)) if gate else None
        self.drop = float(drop)

    def forward(self, x: Tensor, gfe_maps: Tensor) -> Tensor:
        """x (B, C, T, H, W), gfe_maps (B, C_G, T', H', W') → (B, C + fuse_channels, T, H, W)."""
        f = F.interpolate(self.reduce(gfe_maps), size=x.shape[2:], mode="trilinear", align_corners=False)
        if self.gate is not None:
            f = self.gate * f
        if self.training and self.drop > 0 and torch.is_grad_enabled():   # not in the BN re-estimation pass
            keep = (torch.rand(len(f), 1, 1, 1, 1, device=f.device) >= self.drop).to(f.dtype)
            f = f * keep / (1 - self.drop)
        return torch.cat([x, f], dim=1)


def cosine_scores(emb: Tensor, protos: Tensor) -> Tensor:
    """Cosine similarity of embeddings (B, D) to prototypes (K, D) → (B, K)."""
    return F.normalize(emb, dim=1) @ F.normalize(protos, dim=1).T


def class_prototypes(emb: Tensor, labels: Tensor, n_classes: int) -> Tensor:
    """Mean L2-normalised embedding per class → (n_classes, D); an absent class gets a zero prototype."""
    e = F.normalize(emb, dim=1)
    onehot = F.one_hot(labels, n_classes).to(e.dtype)            # (B, K)
    counts = onehot.sum(0).clamp_min(1.0)
    return (onehot.T @ e) / counts[:, None]


class MPFNet(nn.Module):
    """Prototype classifier over the GFE and/or AFE encoders.

    Args:
        variant: ``P``, ``C``, ``GFE`` or ``AFE``.
        gfe: the stage-1 encoder (unused by ``AFE``).
        afe: the stage-2 encoder (its classification head is ignored here; unused by ``GFE``).
        fuse: the cascade wiring (``C`` only).
        gamma: weight of the AFE similarity in ``P``.
        temperature: logit scale for the cross-entropy of episodic training.
    """

    def __init__(self, variant: str, gfe: Encoder | None, afe: Encoder | None, fuse: Fuse | None = None,
                 gamma: float = 0.7, temperature: float = 10.0):
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"unknown MPFNet variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        need_g, need_a = variant in ("P", "C", "GFE"), variant in ("P", "C", "AFE")
        if (need_g and gfe is None) or (need_a and afe is None) or (variant == "C" and fuse is None):
            raise ConfigError(f"MPFNet-{variant} needs " + ", ".join(
                n for n, ok in (("gfe", need_g), ("afe", need_a), ("fuse", variant == "C")) if ok))
        self.variant, self.gamma, self.temperature = variant, float(gamma), float(temperature)
        self.gfe = gfe if need_g else None
        self.afe = afe if need_a else None
        self.fuse = fuse if variant == "C" else None
        self.register_buffer("protos_g", torch.zeros(0))
        self.register_buffer("protos_a", torch.zeros(0))

    def embed(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """(B, C, T, H, W) → (GFE embedding or None, AFE embedding or None)."""
        if self.variant == "C":
            maps = self.gfe.forward_maps(x)
            return None, self.afe.forward_features(self.fuse(x, maps))
        g = self.gfe.forward_features(x) if self.gfe is not None else None
        a = self.afe.forward_features(x) if self.afe is not None else None
        return g, a

    def scores(self, x: Tensor, protos_g: Tensor | None = None, protos_a: Tensor | None = None) -> Tensor:
        """Similarity of x to each class → (B, K); stored prototypes are used when none are given."""
        pg = self.protos_g if protos_g is None else protos_g
        pa = self.protos_a if protos_a is None else protos_a
        g, a = self.embed(x)
        if self.variant == "P":
            return cosine_scores(g, pg) + self.gamma * cosine_scores(a, pa)
        if self.variant == "GFE":
            return cosine_scores(g, pg)
        return cosine_scores(a, pa)

    def episode_logits(self, support: Tensor, support_y: Tensor, query: Tensor, n_way: int) -> Tensor:
        """Prototypes from the support set, then logits (B_query, n_way) for the query set."""
        g, a = self.embed(support)
        pg = class_prototypes(g, support_y, n_way) if g is not None else None
        pa = class_prototypes(a, support_y, n_way) if a is not None else None
        return self.temperature * self.scores(query, pg, pa)

    @torch.no_grad()
    def recalibrate_bn(self, x: Tensor, batch_size: int = 128) -> None:
        """Re-estimate every batch-norm's running statistics on ``x`` (one pass, no gradient).

        After a short training the running averages still carry their initial values or early-training
        statistics; averaging exactly over the training samples makes eval-mode features match them.
        """
        bns = [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None                     # cumulative average over the pass
        self.train()
        dev = next(self.parameters()).device
        for i in range(0, len(x), batch_size):
            if len(x[i:i + batch_size]) > 1:
                self.embed(x[i:i + batch_size].to(dev))
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        self.eval()

    @torch.no_grad()
    def set_prototypes(self, x: Tensor, y: Tensor, n_classes: int, batch_size: int = 128,
                       recalibrate: bool = True) -> None:
        """Store prototypes from all of (x, y) (a fold's training samples), computed in eval mode.

        With ``recalibrate`` the batch-norm statistics are first re-estimated on x (``recalibrate_bn``).
        """
        if recalibrate:
            self.recalibrate_bn(x, batch_size)
        self.eval()
        dev = next(self.parameters()).device
        gs, as_ = [], []
        for i in range(0, len(x), batch_size):
            g, a = self.embed(x[i:i + batch_size].to(dev))
            gs.append(g)
            as_.append(a)
        yd = y.to(dev)
        self.protos_g = class_prototypes(torch.cat(gs), yd, n_classes) if gs[0] is not None else torch.zeros(0, device=dev)
        self.protos_a = class_prototypes(torch.cat(as_), yd, n_classes) if as_[0] is not None else torch.zeros(0, device=dev)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, K) against the stored prototypes (softmax of these gives class probabilities)."""
        if self.protos_g.numel() == 0 and self.protos_a.numel() == 0:
            raise ConfigError("MPFNet has no prototypes: call set_prototypes(train_x, train_y, n_classes) first")
        return self.temperature * self.scores(x)

    def copy(self) -> MPFNet:
        return copy.deepcopy(self)
