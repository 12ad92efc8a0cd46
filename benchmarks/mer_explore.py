"""Wider exploration of one-encoder recipes for the study (session 5): views, networks, regularisers, losses.

Same training-side inner cross-validation as ``mer_study`` / ``mer_probe`` (each outer fold's test subject is
never used): for every recipe a classifier is trained on 4 of 5 subject groups and predicts the 5th; the
pooled validation predictions are scored by the classifier's head and by cosine prototypes (class means
of its training embeddings, as MPFNet classifies). The base recipe is recipe R (docs/mer.md): shallow
encoder with coordinate attention, plain class balancing, flip p 0.5, shifts ±2, dropout 0.3, 32-d
embedding, 15 epochs of Adam at 5e-3, cosine-annealed. A recipe is a JSON object of overrides:

- ``view``: ``center`` (``inputs.center_flow``), ``addmag`` (+ |(u, v)| about the medians),
  ``polar`` (magnitude, direction cosines, strain);
- ``net``: ``shallow`` (default), ``ststnet`` (the baseline), ``regions`` (upper half, lower half and the
  whole map through three shallow trunks), ``deep`` (three conv blocks, ``width``);
- regularisers: ``dropout``, ``ema`` (decay), ``swa`` (last N epochs averaged), ``cutout`` (square side),
  ``noise`` (Gaussian σ), ``scale`` ([lo, hi] flow gain), ``chdrop`` (channel dropout p), ``imix``
  (mixup with a partner of the same class, Beta(α, α)), ``grl`` (a subject classifier behind a gradient
  reversal layer of weight λ; Ganin & Lempitsky 2015), ``wd`` with ``adamw``;
- training: ``epochs``, ``bs``, ``cw`` (class-weighted CE instead of balancing, with ``balanced: false``),
  ``focal`` (γ), ``filters``, ``ensemble`` (N seeds averaged), ``tta`` (flip averaging), ``seed``.

    OMP_NUM_THREADS=1 python -m benchmarks.mer_explore --outer 0,20,40,60 '{}' '{"view": "center"}' ...

Prints one JSON line per recipe: head and prototype UF1 / UAR (mean over outer folds), per-outer head UF1.
Development data (``../shared/data/microexpression/megc2019_composite``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
BASE = {"balanced": True, "dropout": 0.3, "flip": 0.5, "shift": 2, "embed": 32}


def view(x: torch.Tensor, kind: str | None) -> torch.Tensor:
    """Another representation of (N, 3, 1, H, W) (u, v, strain) maps."""
    from neurotrio.microexpression.inputs import center_flow

    if not kind:
        return x
    c = center_flow(x)
    mag = (c[:, 0] ** 2 + c[:, 1] ** 2).sqrt()
    if kind == "center":
        return c
    if kind == "addmag":
        return torch.cat([x, mag[:, None]], 1)
    if kind == "polar":
        return torch.stack([mag, c[:, 0] / (mag + 1e-3), c[:, 1] / (mag + 1e-3), x[:, 2]], 1)
    raise SystemExit(f"unknown view {kind!r}")


class Regions(nn.Module):
    """Upper half, lower half (each resized to 28×28) and the whole map through three shallow trunks."""

    def __init__(self, c: int, n: int, embed: int, dropout: float, filters: tuple[int, ...]):
        from neurotrio.microexpression.shallow import ShallowCA, ShallowCAConfig

        super().__init__()
        self.trunks = nn.ModuleList(ShallowCA(ShallowCAConfig(in_channels=c, filters=filters)) for _ in range(3))
        self.drop, self.proj = nn.Dropout(dropout), nn.Linear(3 * self.trunks[0].embed_dim, embed)
        self.head = nn.Linear(embed, n)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x[:, :, 0, :14], size=(28, 28), mode="bilinear")[:, :, None]
        lo = F.interpolate(x[:, :, 0, 14:], size=(28, 28), mode="bilinear")[:, :, None]
        f = [t.forward_features(v) for t, v in zip(self.trunks, (up, lo, x))]
        return self.proj(self.drop(torch.cat(f, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


class Deep(nn.Module):
    """Three 3×3 conv blocks (w, 2w, 2w) with BN, two max-pools, a 3×3 adaptive pool, 32-d embedding."""

    def __init__(self, c: int, n: int, embed: int, dropout: float, w: int = 16):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
                               nn.AdaptiveAvgPool2d(3))
        self.drop, self.proj, self.head = nn.Dropout(dropout), nn.Linear(2 * w * 9, embed), nn.Linear(embed, n)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.drop(self.f(x.mean(2)).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


class _Reverse(torch.autograd.Function):
    """Gradient reversal: identity forward, −λ · gradient backward (Ganin & Lempitsky, ICML 2015)."""

    @staticmethod
    def forward(ctx, x, lam):  # noqa: ANN001, ANN205
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        return -ctx.lam * g, None


def build(r: dict, c: int) -> nn.Module:
    from neurotrio.microexpression.baselines import STSTNet
    from neurotrio.microexpression.shallow import ShallowCA, ShallowCAConfig

    filters = tuple(r.get("filters", (3, 5, 8)))
    if r.get("net") == "ststnet":
        return STSTNet(c, 3)
    if r.get("net") == "regions":
        return Regions(c, 3, r["embed"], r["dropout"], filters)
    if r.get("net") == "deep":
        return Deep(c, 3, r["embed"], r["dropout"], r.get("width", 16))
    return ShallowCA(ShallowCAConfig(in_channels=c, filters=filters, n_classes=3, dropout=r["dropout"],
                                     embed_dim=r["embed"]))


def _cutout(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    b, _, _, h, w = x.shape
    x = x.clone()
    ys, xs = torch.randint(0, h, (b,), generator=gen).tolist(), torch.randint(0, w, (b,), generator=gen).tolist()
    for i in range(b):
        y0, x0 = max(0, ys[i] - size // 2), max(0, xs[i] - size // 2)
        x[i, :, :, y0:y0 + size, x0:x0 + size] = 0.0
    return x


def _batch(x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, r: dict, gen: torch.Generator) -> torch.Tensor:
    """One training batch with the recipe's input-side augmentations."""
    from neurotrio.microexpression.augment import AugmentConfig, augment_batch

    acfg = AugmentConfig(flip=r.get("flip", 0.0), shift=r.get("shift", 0))
    xb = augment_batch(x[idx], acfg, gen) if acfg.active else x[idx]
    if r.get("imix"):                                         # a partner of the same class, mixed in
        part = idx.clone()
        for c in y[idx].unique():
            m = (y[idx] == c).nonzero().flatten()
            part[m] = idx[m[torch.randperm(len(m), generator=gen)]]
        lam = torch.distributions.Beta(r["imix"], r["imix"]).sample((len(idx), 1, 1, 1, 1))
        xb = lam * xb + (1 - lam) * (augment_batch(x[part], acfg, gen) if acfg.active else x[part])
    if r.get("scale"):
        lo, hi = r["scale"]
        xb = xb * (lo + (hi - lo) * torch.rand(len(idx), 1, 1, 1, 1, generator=gen))
    if r.get("noise"):
        xb = xb + r["noise"] * torch.randn(xb.shape, generator=gen)
    if r.get("cutout"):
        xb = _cutout(xb, r["cutout"], gen)
    if r.get("chdrop"):
        xb = xb * (torch.rand(len(idx), xb.shape[1], 1, 1, 1, generator=gen) > r["chdrop"]).float()
    return xb


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, subj: torch.Tensor, r: dict,
          gen: torch.Generator) -> nn.Module:
    """Train ``net`` with the recipe; returns the model to evaluate (the net, or its EMA / SWA average)."""
    epochs, bs = r.get("epochs", 15), r.get("bs", 64)
    adv = (nn.Sequential(nn.Linear(net.head.in_features, 64), nn.ReLU(), nn.Linear(64, int(subj.max()) + 1))
           if r.get("grl") else None)
    params = [*net.parameters(), *(adv.parameters() if adv is not None else [])]
    opt = (torch.optim.AdamW if r.get("adamw") else torch.optim.Adam)(params, lr=r.get("lr", 5e-3),
                                                                       weight_decay=r.get("wd", 0.0))
    total = epochs * math.ceil(len(y) / bs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, total) / total)))
    ema = copy.deepcopy(net) if r.get("ema") else None
    swa, n_swa = None, 0
    weight = None
    if r.get("cw"):
        inv = len(y) / torch.bincount(y).float()
        weight = inv / inv.mean()
    net.train()
    for ep in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(perm), bs):
            idx = perm[i:i + bs]
            if len(idx) < 2:
                continue
            xb = _batch(x, y, idx, r, gen)
            if adv is not None:
                f = net.forward_features(xb)
                logits = net.head(f)
                loss = F.cross_entropy(logits, y[idx]) + F.cross_entropy(adv(_Reverse.apply(f, r["grl"])), subj[idx])
            else:
                logits = net(xb)
                loss = F.cross_entropy(logits, y[idx], weight=weight)
            if r.get("focal"):
                p = F.softmax(logits, 1).gather(1, y[idx][:, None])[:, 0]
                loss = (-(1 - p) ** r["focal"] * p.clamp_min(1e-8).log()).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                with torch.no_grad():
                    for pe, pn in zip(ema.parameters(), net.parameters()):
                        pe.mul_(r["ema"]).add_(pn, alpha=1 - r["ema"])
        if r.get("swa") and ep >= epochs - r["swa"]:
            if swa is None:
                swa = copy.deepcopy(net)
            else:
                n_swa += 1
                with torch.no_grad():
                    for ps, pn in zip(swa.parameters(), net.parameters()):
                        ps.mul_(n_swa / (n_swa + 1)).add_(pn, alpha=1 / (n_swa + 1))
    out = ema or swa or net
    if out is not net:                                       # averaged weights: batch-norm statistics again
        for m in out.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
        out.train()
        with torch.no_grad():
            out(x)
    return out.eval()


def _balanced_indices(y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The rows ``stages.balanced_with_amplification`` (φ = 1) builds, as indices, drawing the same numbers."""
    counts = torch.bincount(y)
    out = [torch.arange(len(y))]
    for c in torch.nonzero(counts).flatten().tolist():
        need = int(counts.max()) - int(counts[c])
        if need > 0:
            idx = torch.nonzero(y == c).flatten()
            out.append(idx[torch.randint(len(idx), (need,), generator=gen)])
            torch.rand(need, generator=gen)                  # the φ draws, so the generator stays in step
    return torch.cat(out)


def run_recipe(x0, y, subjects, outer, r: dict, k: int, seed: int) -> list[float]:
    """Head UF1, UAR and prototype UF1, UAR of the pooled inner-validation predictions of one outer fold."""
    import numpy as np

    from benchmarks.mer_study import inner_folds
    from neurotrio.core.seed import seed_everything
    from neurotrio.microexpression.augment import flow_flip
    from neurotrio.microexpression.inputs import input_stats, standardize
    from neurotrio.microexpression.mpfnet import class_prototypes, cosine_scores
    from neurotrio.microexpression.report import metrics_of
    from neurotrio.microexpression.stages import balanced_with_amplification

    x = view(x0, r.get("view"))
    ys, ph, pp = [], [], []
    for j, (tr, va) in enumerate(inner_folds(subjects, outer.train, k, seed + outer.index)):
        tr_t, va_t = torch.as_tensor(tr), torch.as_tensor(va)
        mean, std = input_stats(x[tr_t])
        xs = standardize(x, mean, std)
        xtr, ytr, xva = xs[tr_t], y[tr_t], xs[va_t]
        ids = {s: i for i, s in enumerate(sorted({subjects[i] for i in tr}))}
        subj = torch.tensor([ids[subjects[i]] for i in tr])
        head, proto = 0, 0
        for m in range(int(r.get("ensemble", 1))):
            gen = seed_everything(1000 * outer.index + 10 * j + m + 100 * r.get("seed", 0), deterministic=False)
            if r.get("balanced", True):
                twin = torch.Generator().set_state(gen.get_state())
                rows = _balanced_indices(ytr, twin)
                xb, yb = balanced_with_amplification(xtr, ytr, (1.0, 1.0), gen)
                sb = subj[rows]
            else:
                xb, yb, sb = xtr, ytr, subj
            net = train(build(r, x.shape[1]), xb, yb, sb, r, gen)
            with torch.no_grad():
                head = head + torch.softmax(net(xva), 1)
                if r.get("tta"):
                    head = head + torch.softmax(net(flow_flip(xva)), 1)
                protos = class_prototypes(net.forward_features(xtr), ytr, 3)
                proto = proto + torch.softmax(10 * cosine_scores(net.forward_features(xva), protos), 1)
        ys.append(y[va_t].numpy())
        ph.append(head.argmax(1).numpy())
        pp.append(proto.argmax(1).numpy())
    yy = np.concatenate(ys)
    mh, mp = metrics_of(yy, np.concatenate(ph), 3), metrics_of(yy, np.concatenate(pp), 3)
    return [mh["uf1"], mh["uar"], mp["uf1"], mp["uar"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NEUROTRIO_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--outer", default="0,20,40,60")
    ap.add_argument("--inner", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7, help="seed of the inner subject grouping")
    ap.add_argument("recipes", nargs="+", help="JSON objects of overrides of the base recipe")
    args = ap.parse_args(argv)

    import numpy as np

    from neurotrio.microexpression.inputs import _load
    from neurotrio.microexpression.loso import loso_splits
    from neurotrio.microexpression.train import LosoConfig

    torch.set_num_threads(1)
    data = Path(args.data) / "microexpression" / "megc2019_composite"
    if not data.is_dir():
        print(f"skip: composite data not found at {data}", file=sys.stderr)
        return 0
    samples, x, y, _ = _load(LosoConfig(dataset="composite", data=str(data), workers=1))
    subjects = [s.subject for s in samples]
    outers = loso_splits(subjects, 0, 0, [int(f) for f in args.outer.split(",")])
    for text in args.recipes:
        r = {**BASE, **json.loads(text)}
        t0 = time.perf_counter()
        rows = [run_recipe(x, y, subjects, o, r, args.inner, args.seed) for o in outers]
        m = np.mean(rows, 0)
        print(json.dumps({"recipe": json.loads(text), "head": [round(m[0], 3), round(m[1], 3)],
                          "proto": [round(m[2], 3), round(m[3], 3)], "head_per_outer": [round(r_[0], 3) for r_ in rows],
                          "s": round(time.perf_counter() - t0, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
