"""The three MPFNet training stages (and the baseline's), each on one fold's training tensors.

- Stage 1, GFE: triplet loss on L2-normalised embeddings, Euclidean distance, margin 1.0, on
  class-balanced batches (P classes × K samples, so every anchor has positives and negatives), averaged
  over all valid triplets of the batch ("batch-all"; default) or over each anchor's hardest triplet
  ("batch-hard", Hermans et al. 2017 — on these 3-class maps it collapses all embeddings to one point,
  where every triplet costs exactly the margin; see docs/mer.md).
- Stage 2, AFE: cross-entropy classifier on a class-balanced set: every minority class is topped up to
  the majority count with motion-amplified copies of its own samples, φ ~ U(phi_range) per copy.
- Stage 3: episodic fine-tuning of the whole MPFNet (both encoders, and the cascade wiring) with N-way
  K-shot episodes from the fold's training subjects; prototypes = mean support embedding, cosine
  similarity × temperature, softmax, cross-entropy on the queries.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurotrio.core.errors import ConfigError

log = logging.getLogger(__name__)
Amplifier = Callable[[Tensor, Tensor, float], Tensor]   # (x (C,T,H,W), index, phi) -> amplified copy
Augment = Callable[[Tensor], Tensor]                     # raw batch (B,C,T,H,W) -> augmented batch


@dataclass(frozen=True)
class StageConfig:
    """Optimiser settings of one stage: Adam for ``epochs`` epochs, the learning rate cosine-annealed from
    ``lr`` to 0 over them when ``cosine`` (else constant). Classifier stages only: ``mixup`` is the
    Beta(α, α) parameter of mixup (0: off; Zhang et al. 2018), ``label_smoothing`` that of the CE."""

    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 5e-4
    batch_size: int = 32
    cosine: bool = True
    mixup: float = 0.0
    label_smoothing: float = 0.0


def batch_all_triplet_loss(emb: Tensor, labels: Tensor, margin: float = 1.0) -> Tensor:
    """Mean triplet loss over every valid (anchor, positive, negative) of the batch; embeddings (B, D).

    Embeddings are L2-normalised and compared by Euclidean distance; returns 0 if no triplet exists.
    """
    e = F.normalize(emb, dim=1)
    d = torch.cdist(e, e)                                          # (B, B), in [0, 2]
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    mask = (same & ~eye)[:, :, None] & (~same)[:, None, :]         # (anchor, positive, negative)
    if not mask.any():
        return emb.sum() * 0.0
    return F.relu(d[:, :, None] - d[:, None, :] + margin)[mask].mean()


def batch_hard_triplet_loss(emb: Tensor, labels: Tensor, margin: float = 1.0) -> Tensor:
    """Batch-hard triplet loss on L2-normalised embeddings (B, D) with Euclidean distances.

    Anchors without a positive or a negative in the batch are skipped; returns 0 if none remain.
    """
    e = F.normalize(emb, dim=1)
    d = torch.cdist(e, e)                                          # (B, B), in [0, 2]
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    pos, neg = same & ~eye, ~same
    valid = pos.any(1) & neg.any(1)
    if not valid.any():
        return emb.sum() * 0.0
    hardest_pos = torch.where(pos, d, torch.zeros_like(d)).max(1).values
    hardest_neg = torch.where(neg, d, torch.full_like(d, 1e9)).min(1).values
    return F.relu(hardest_pos - hardest_neg + margin)[valid].mean()


def amplify_flow(x: Tensor, phi: float) -> Tensor:
    """Motion amplification of a flow-like tensor (C, T, H, W) by φ, in place of video magnification.

    Each channel is scaled about its spatial median (the static face, ~zero motion in an encoded flow
    map): m + φ · (x − m), then clipped to the sample's own value range so encoded maps stay valid.
    """
    flat = x.flatten(-2)
    m = flat.median(dim=-1).values[..., None, None]
    lo, hi = x.amin(), x.amax()
    return (m + phi * (x - m)).clamp(lo, hi)


def balanced_with_amplification(x: Tensor, y: Tensor, phi_range: tuple[float, float], gen: torch.Generator,
                                amplifier: Amplifier | None = None) -> tuple[Tensor, Tensor]:
    """Top every class up to the majority count with amplified copies of its own samples.

    Args:
        x: (N, C, T, H, W) training inputs; y: (N,) labels.
        phi_range: (low, high) of the uniform amplification factor, within [1, 10].
        amplifier: ``f(x_i, i, phi)`` making one copy (default ``amplify_flow``; raw-frame datasets pass one
            that re-runs magnification on the frames).

    Returns:
        (x', y') with every class present in y equally often; the originals come first.
    """
    lo, hi = phi_range
    if not 1.0 <= lo <= hi <= 10.0:
        raise ConfigError(f"phi_range={phi_range} must satisfy 1 ≤ low ≤ high ≤ 10")
    amp = amplifier or (lambda xi, _i, phi: amplify_flow(xi, phi))
    counts = torch.bincount(y)
    target = int(counts.max())
    xs, ys = [x], [y]
    for c in torch.nonzero(counts).flatten().tolist():
        need = target - int(counts[c])
        if need <= 0:
            continue
        idx = torch.nonzero(y == c).flatten()
        pick = idx[torch.randint(len(idx), (need,), generator=gen)]
        phis = lo + (hi - lo) * torch.rand(need, generator=gen)
        xs.append(torch.stack([amp(x[i], i, float(p)) for i, p in zip(pick.tolist(), phis.tolist())]))
        ys.append(torch.full((need,), c, dtype=y.dtype))
    return torch.cat(xs), torch.cat(ys)


def _adam(params, cfg: StageConfig, steps_per_epoch: int):
    """Adam and its per-batch scheduler (cosine to 0 over all the stage's batches, or constant)."""
    opt = torch.optim.Adam([p for p in params if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = max(1, cfg.epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, (lambda i: 0.5 * (1.0 + math.cos(math.pi * min(i, total) / total))) if cfg.cosine else (lambda i: 1.0))
    return opt, sched


def _pk_batches(y: Tensor, batch_size: int, gen: torch.Generator) -> list[Tensor]:
    """An epoch of class-balanced batches: each batch draws batch_size // n_classes samples per class."""
    classes = torch.unique(y).tolist()
    per = max(2, batch_size // len(classes))
    n_batches = max(1, len(y) // (per * len(classes)))
    out = []
    for _ in range(n_batches):
        parts = []
        for c in classes:
            idx = torch.nonzero(y == c).flatten()
            parts.append(idx[torch.randint(len(idx), (per,), generator=gen)])
        out.append(torch.cat(parts))
    return out


def train_gfe(gfe: nn.Module, x: Tensor, y: Tensor, cfg: StageConfig, margin: float, gen: torch.Generator,
              device: torch.device, mining: str = "all", augment: Augment | None = None) -> list[float]:
    """Stage 1: triplet training of ``gfe`` (its ``forward_features``); returns the per-epoch loss.

    ``mining``: ``"all"`` (every valid triplet of a batch) or ``"hard"`` (batch-hard); ``augment`` maps
    each raw batch to an augmented one (``augment.augment_batch``).
    """
    if mining not in ("all", "hard"):
        raise ConfigError(f"triplet mining {mining!r}: choose 'all' or 'hard'")
    loss_fn = batch_all_triplet_loss if mining == "all" else batch_hard_triplet_loss
    gfe.to(device).train()
    opt, sched = _adam(gfe.parameters(), cfg, len(_pk_batches(y, cfg.batch_size, torch.Generator())))
    losses = []
    for _ in range(cfg.epochs):
        total = 0.0
        batches = _pk_batches(y, cfg.batch_size, gen)
        for idx in batches:
            xb = augment(x[idx]) if augment is not None else x[idx]
            loss = loss_fn(gfe.forward_features(xb.to(device)), y[idx].to(device), margin)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        losses.append(total / len(batches))
    return losses


def train_classifier(net: nn.Module, x: Tensor, y: Tensor, cfg: StageConfig, gen: torch.Generator,
                     device: torch.device, prefix: Callable[[Tensor], Tensor] | None = None,
                     extra_params: list[nn.Parameter] | None = None, augment: Augment | None = None) -> list[float]:
    """Stage 2 (and the baseline): cross-entropy training on shuffled mini-batches; per-epoch loss.

    ``prefix`` maps a raw batch to the network's input (the MPFNet-C cascade: x ↦ x ⊕ fuse(gfe maps));
    ``augment`` maps each raw batch to an augmented one first; with ``cfg.mixup`` > 0 every batch is
    mixed with a shuffled copy of itself (λ ~ Beta(α, α), targets mixed alike).
    """
    n_classes = int(y.max()) + 1
    net.to(device).train()
    opt, sched = _adam([*net.parameters(), *(extra_params or [])], cfg, math.ceil(len(y) / cfg.batch_size))
    losses = []
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(y), generator=gen)
        total, n = 0.0, 0
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            if len(idx) < 2:
                continue
            xb = (augment(x[idx]) if augment is not None else x[idx]).to(device)
            target = F.one_hot(y[idx], n_classes).float().to(device)
            if cfg.mixup > 0:
                lam = float(torch.distributions.Beta(cfg.mixup, cfg.mixup).sample())
                perm_b = torch.randperm(len(idx), generator=gen).to(device)
                xb = lam * xb + (1 - lam) * xb[perm_b]
                target = lam * target + (1 - lam) * target[perm_b]
            if prefix is not None:
                xb = prefix(xb)
            loss = F.cross_entropy(net(xb), target, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + float(loss.detach()), n + 1
        losses.append(total / max(n, 1))
    return losses


@dataclass(frozen=True)
class EpisodeConfig:
    """Stage 3: ``episodes`` episodes of n_way classes (0: all), k_shot support + n_query queries each."""

    episodes: int = 100
    n_way: int = 0
    k_shot: int = 5
    n_query: int = 5
    lr: float = 1e-4
    weight_decay: float = 5e-4


def sample_episode(y: Tensor, n_way: int, k_shot: int, n_query: int, gen: torch.Generator
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Indices and episode labels (support_idx, support_y, query_idx, query_y) for one episode.

    Classes with at least 2 samples are eligible. Each class's support and query are disjoint; a class
    with fewer than k_shot + n_query samples splits what it has (at least one of each).
    """
    counts = torch.bincount(y)
    eligible = torch.nonzero(counts >= 2).flatten()
    n = len(eligible) if n_way <= 0 else n_way
    if n < 2 or len(eligible) < n:
        raise ConfigError(f"an episode needs {max(n, 2)} classes with ≥ 2 training samples; "
                          f"this fold has {len(eligible)} (class counts {counts.tolist()})")
    classes = eligible[torch.randperm(len(eligible), generator=gen)[:n]]
    s_idx, s_y, q_idx, q_y = [], [], [], []
    for j, c in enumerate(classes.tolist()):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        k = min(k_shot, len(idx) - 1)
        q = min(n_query, len(idx) - k)
        s_idx.append(idx[:k])
        q_idx.append(idx[k:k + q])
        s_y.append(torch.full((k,), j))
        q_y.append(torch.full((q,), j))
    return torch.cat(s_idx), torch.cat(s_y), torch.cat(q_idx), torch.cat(q_y)


def train_episodic(model: nn.Module, x: Tensor, y: Tensor, cfg: EpisodeConfig, gen: torch.Generator,
                   device: torch.device, augment: Augment | None = None) -> list[float]:
    """Stage 3: episodic prototype fine-tuning of an ``MPFNet``; returns the per-episode loss.

    ``augment`` (optional) is applied to the support and the query batch of each episode.
    """
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    losses = []
    for _ in range(cfg.episodes):
        si, sy, qi, qy = sample_episode(y, cfg.n_way, cfg.k_shot, cfg.n_query, gen)
        n_way = int(sy.max()) + 1
        xs, xq = x[si], x[qi]
        if augment is not None:
            xs, xq = augment(xs), augment(xq)
        logits = model.episode_logits(xs.to(device), sy.to(device), xq.to(device), n_way)
        loss = F.cross_entropy(logits, qy.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses
