"""Leave-one-subject-out training and evaluation of MPFNet (P, C, GFE, AFE) and the STSTNet-like baseline.

Per fold, on the fold's training subjects only: stage 1 GFE (triplet), stage 2 AFE (balanced classifier;
the cascade AFE of MPFNet-C is a separate stage-2 network fed by the frozen GFE), stage 3 episodic
fine-tuning of each requested variant, then prototypes from ALL the fold's training samples and
prediction of the held-out subject. Results are last-episode (or, with validation subjects, picked on
validation subjects from the training side) — never selected on the test subject.

Example:
    >>> cfg = LosoConfig(dataset="composite", data="../shared/data/microexpression/megc2019_composite",
    ...                  variants=("P", "ststnet"), max_folds=2)
    >>> report = run_loso(cfg, out_dir="runs/smoke")
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.augment import AugmentConfig, augment_batch
from neurotrio.microexpression.inputs import (
    _amplifier_factory,
    _load,
    _standardized,
    center_flow,
    input_stats,
    standardize,
)
from neurotrio.microexpression.model import CAI3DConfig
from neurotrio.microexpression.mpfnet import VARIANTS, Fuse, MPFNet, make_afe, make_encoder
from neurotrio.microexpression.report import metrics_of as _metrics
from neurotrio.microexpression.report import results_markdown, summarize
from neurotrio.microexpression.shallow import ShallowCAConfig
from neurotrio.microexpression.stages import (
    EpisodeConfig,
    StageConfig,
    balanced_with_amplification,
    train_classifier,
    train_episodic,
    train_gfe,
)

log = logging.getLogger(__name__)
ALL_VARIANTS = (*VARIANTS, "ststnet")


#: The CA-I3D validated first for the composite's 28×28 maps (10.1K parameters; docs/mer.md), used with
#: ``encoder="cai3d"``.
SMALL_BACKBONE = CAI3DConfig(stem_channels=8, stem_stride=2, blocks=(16, 32), pool_after=(0,), embed_dim=32)

#: The default prior encoder (``encoder="shallow"``): the STSTNet-like trunk (3, 5, 8 filters) with
#: coordinate attention, dropout 0.3 and a 32-d embedding — chosen by the training-side study (docs/mer.md).
SHALLOW_ENCODER = ShallowCAConfig(filters=(3, 5, 8), dropout=0.3, embed_dim=32)


@dataclass(frozen=True)
class MPFNetConfig:
    """MPFNet model and training settings (shared by every fold).

    The defaults are the settings chosen by the training-side validation study (docs/mer.md, "Tuning"):
    the shallow encoder, inputs centred on their per-sample medians, flow-aware flip and shifts, plain
    class-balancing (φ = 1), 15 + 15 epochs and 100 stage-3 episodes of 10 shots and 10 queries.

    Attributes:
        encoder: ``cai3d`` (the paper's CA-I3D, configured by ``backbone``) or ``shallow`` (the
            STSTNet-like trunk with coordinate attention of ``shallow.py``, configured by ``shallow``).
        backbone: CA-I3D width/depth of both encoders (``in_channels`` is set from the data); the default
            is ``SMALL_BACKBONE``; ``model.RAW_CONFIG`` suits the full (5, 10, 128, 128) tensors.
        shallow: width of the shallow encoder (``in_channels`` is set from the data).
        augment: flow-aware training augmentation of every stage and of the baseline (``augment.py``).
        center: subtract each sample's per-channel spatial median before standardising
            (``inputs.center_flow``: zero motion = 0 in every min-max-encoded map); MPFNet only, the
            STSTNet-like baseline gets the inputs as Liong et al. use them.
        gamma: weight of the AFE similarity in MPFNet-P.
        temperature: scale of cosine logits in stage 3.
        fuse_channels: extra input channels the MPFNet-C cascade derives from the GFE maps.
        fuse_gate: those channels enter through a learned gate that starts at 0 (``mpfnet.Fuse``).
        fuse_dropout: probability of dropping the fused channels of a training sample (``mpfnet.Fuse``).
        margin: triplet margin (L2 distance between normalised embeddings).
        triplet_mining: ``all`` (mean over every valid triplet of a batch) or ``hard`` (batch-hard).
        phi_range: amplification factor range of the stage-2 balancing copies, within [1, 10].
        gfe: stage 1 (``epochs``); afe: stage 2 (``epochs``); meta: stage 3 (``episodes``).
        baseline: training of the STSTNet-like baseline (epochs).
    """

    encoder: str = "shallow"
    backbone: CAI3DConfig = SMALL_BACKBONE
    shallow: ShallowCAConfig = SHALLOW_ENCODER
    augment: AugmentConfig = AugmentConfig(flip=0.5, shift=2)
    center: bool = True
    gamma: float = 0.7
    temperature: float = 10.0
    fuse_channels: int = 3
    fuse_gate: bool = False
    fuse_dropout: float = 0.0
    margin: float = 1.0
    triplet_mining: str = "all"
    phi_range: tuple[float, float] = (1.0, 1.0)
    gfe: StageConfig = StageConfig(epochs=15, lr=5e-3, weight_decay=0.0, batch_size=64)
    afe: StageConfig = StageConfig(epochs=15, lr=5e-3, weight_decay=0.0, batch_size=64)
    meta: EpisodeConfig = EpisodeConfig(episodes=100, lr=1e-3, k_shot=10, n_query=10)
    baseline: StageConfig = StageConfig(epochs=15, lr=5e-3, weight_decay=0.0, batch_size=64)

    def __post_init__(self) -> None:
        if self.encoder not in ("cai3d", "shallow"):
            raise ConfigError(f"model.encoder={self.encoder!r}: choose 'cai3d' (CA-I3D, model.backbone) or "
                              "'shallow' (the STSTNet-like trunk with coordinate attention, model.shallow)")
        bad = [f"model.{k}.epochs={getattr(self, k).epochs} (needs ≥ 1)" for k in ("gfe", "afe", "baseline")
               if getattr(self, k).epochs < 1]
        bad += [f"model.{k}.batch_size={getattr(self, k).batch_size} (needs ≥ 1)" for k in ("gfe", "afe", "baseline")
                if getattr(self, k).batch_size < 1]
        bad += [f"model.{k}.lr={getattr(self, k).lr} (needs > 0)" for k in ("gfe", "afe", "baseline", "meta")
                if not getattr(self, k).lr > 0]
        bad += [f"model.{k}.mixup={getattr(self, k).mixup} (needs ≥ 0; 0: off)" for k in ("afe", "baseline")
                if getattr(self, k).mixup < 0]
        if self.meta.episodes < 0:
            bad.append(f"model.meta.episodes={self.meta.episodes} (needs ≥ 0)")
        bad += [f"model.meta.{k}={getattr(self.meta, k)} (needs ≥ 1)" for k in ("k_shot", "n_query")
                if getattr(self.meta, k) < 1]
        if self.fuse_channels < 1:
            bad.append(f"model.fuse_channels={self.fuse_channels} (needs ≥ 1)")
        if len(self.phi_range) != 2:
            bad.append(f"model.phi_range={list(self.phi_range)} (needs [low, high])")
        if not 0.0 <= self.augment.flip <= 1.0 or self.augment.shift < 0 or self.augment.rotate < 0:
            bad.append(f"model.augment flip={self.augment.flip}, shift={self.augment.shift}, rotate="
                       f"{self.augment.rotate} (flip a probability in [0, 1]; shift, rotate ≥ 0)")
        if not 0.0 <= self.fuse_dropout < 1.0:
            bad.append(f"model.fuse_dropout={self.fuse_dropout} (a probability, 0 ≤ p < 1)")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            bad.append(f"model.temperature={self.temperature} (needs a finite value > 0)")
        if not math.isfinite(self.gamma):
            bad.append(f"model.gamma={self.gamma} (needs a finite value)")
        if bad:
            raise ConfigError("bad MPFNet setting: " + "; ".join(bad))

    @property
    def encoder_config(self) -> CAI3DConfig | ShallowCAConfig:
        """The config of both prior encoders: ``backbone`` (CA-I3D) or ``shallow``, as ``encoder`` says."""
        return self.shallow if self.encoder == "shallow" else self.backbone


@dataclass(frozen=True)
class LosoConfig:
    """One LOSO run.

    Attributes:
        dataset: composite, casme2, samm or smic.
        data: the dataset folder; sheet: its coding sheet (CASME II / SAMM; default: found in ``data``).
        variants: any of P, C, GFE, AFE, ststnet, trained in the same run on the same folds.
        max_folds: run only the first N folds (0: all) — for smoke runs.
        folds: run exactly these fold indices (overrides max_folds; to spread folds over processes).
        n_val_subjects: validation subjects per fold, drawn from the training side; stage 3 then keeps
            the checkpoint with the best validation UF1 (checked ``val_checks`` times).
        seed, device: ``auto`` picks CUDA when present.
        cache_dir: prepared-tensor cache for raw-frame datasets; workers: processes preparing it.
        fold_workers: processes the folds are spread over (round robin, ``fold_share``), one thread each;
            results do not depend on it (each fold is seeded by its index).
        baseline_augment: train the STSTNet-like baseline with ``model.augment`` too (off: the plain
            baseline of Liong et al.).
    """

    dataset: str = "composite"
    data: str = ""
    sheet: str = ""
    variants: tuple[str, ...] = ("P", "C", "ststnet")
    max_folds: int = 0
    folds: tuple[int, ...] = ()
    n_val_subjects: int = 0
    val_checks: int = 5
    seed: int = 0
    device: str = "auto"
    cache_dir: str = ".mer_cache"
    workers: int = 2
    fold_workers: int = 1
    baseline_augment: bool = False
    model: MPFNetConfig = field(default_factory=MPFNetConfig)

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in ALL_VARIANTS]
        if bad or not self.variants:
            raise ConfigError(f"unknown variant(s) {bad or '(none)'}; choose from {', '.join(ALL_VARIANTS)}")
        if self.max_folds < 0 or self.fold_workers < 1:
            raise ConfigError(f"max_folds={self.max_folds}, fold_workers={self.fold_workers}: max_folds needs ≥ 0 "
                              "(0: all folds) and fold_workers ≥ 1")


def _for_input_channels(cfg: LosoConfig, in_channels: int) -> MPFNetConfig:
    return replace(cfg.model, backbone=replace(cfg.model.backbone, in_channels=in_channels, n_classes=0),
                   shallow=replace(cfg.model.shallow, in_channels=in_channels, n_classes=0))


def _augmenter(mcfg: MPFNetConfig, gen: torch.Generator):
    """The batch augmentation of ``mcfg.augment`` (None when it is off)."""
    if not mcfg.augment.active:
        return None
    return lambda xb: augment_batch(xb, mcfg.augment, gen)


@torch.no_grad()
def _predict(net: torch.nn.Module, x: torch.Tensor, device: torch.device, bs: int = 128) -> torch.Tensor:
    net.eval()
    return torch.cat([torch.softmax(net(x[i:i + bs].to(device)), 1).cpu() for i in range(0, len(x), bs)])


def train_priors(x: torch.Tensor, y: torch.Tensor, n_classes: int, mcfg: MPFNetConfig, variants: tuple[str, ...],
                 gen: torch.Generator, device: torch.device, amplifier=None) -> dict[str, Any]:
    """Stages 1 and 2 on one training set: the GFE, the AFE and (for C) the cascade AFE + fuse.

    Returns a dict with keys ``gfe``, ``afe``, ``afe_c``, ``fuse`` (those the variants need) and ``losses``.
    """
    need_g = any(v in ("P", "C", "GFE") for v in variants)
    need_a = any(v in ("P", "AFE") for v in variants)
    out: dict[str, Any] = {"losses": {}}
    enc, aug = mcfg.encoder_config, _augmenter(mcfg, gen)
    if need_g:
        gfe = make_encoder(enc)
        out["losses"]["gfe"] = train_gfe(gfe, x, y, mcfg.gfe, mcfg.margin, gen, device, mcfg.triplet_mining, aug)
        out["gfe"] = gfe
    if need_a or "C" in variants:
        xb, yb = balanced_with_amplification(x, y, mcfg.phi_range, gen, amplifier)
    if need_a:
        afe = make_afe(enc, n_classes, cascade=False, fuse_channels=0)
        out["losses"]["afe"] = train_classifier(afe, xb, yb, mcfg.afe, gen, device, augment=aug)
        out["afe"] = afe
    if "C" in variants:
        gfe = out["gfe"].eval()
        for p in gfe.parameters():
            p.requires_grad_(False)
        fuse = Fuse(gfe.map_channels, mcfg.fuse_channels, mcfg.fuse_gate, mcfg.fuse_dropout).to(device)
        afe_c = make_afe(enc, n_classes, cascade=True, fuse_channels=mcfg.fuse_channels)

        def prefix(xb_: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                maps = gfe.forward_maps(xb_)
            return fuse.train()(xb_, maps)

        out["losses"]["afe_c"] = train_classifier(afe_c, xb, yb, mcfg.afe, gen, device, prefix=prefix,
                                                  extra_params=list(fuse.parameters()), augment=aug)
        for p in gfe.parameters():
            p.requires_grad_(True)
        out["afe_c"], out["fuse"] = afe_c, fuse
    return out


def build_variant(variant: str, priors: dict[str, Any], mcfg: MPFNetConfig) -> MPFNet:
    """A fresh MPFNet of ``variant`` over deep copies of the fold's priors."""
    afe = priors.get("afe_c") if variant == "C" else priors.get("afe")
    return MPFNet(variant, copy.deepcopy(priors.get("gfe")), copy.deepcopy(afe),
                  copy.deepcopy(priors.get("fuse")), gamma=mcfg.gamma, temperature=mcfg.temperature)


def finetune(net: MPFNet, x: torch.Tensor, y: torch.Tensor, n_classes: int, mcfg: MPFNetConfig, gen: torch.Generator,
             device: torch.device, val: tuple[torch.Tensor, torch.Tensor] | None = None, checks: int = 5) -> dict:
    """Stage 3, then prototypes from all of (x, y). With ``val``, keeps the best-validation-UF1 checkpoint."""
    aug = _augmenter(mcfg, gen)
    if val is None or len(val[1]) == 0:
        losses = train_episodic(net, x, y, mcfg.meta, gen, device, aug)
        net.set_prototypes(x, y, n_classes)
        return {"episodes": len(losses), "final_loss": float(np.mean(losses[-10:])) if losses else None,
                "losses": losses}
    chunk = max(1, mcfg.meta.episodes // max(1, checks))
    best, best_state, done, history = -1.0, None, 0, []
    while done < mcfg.meta.episodes:
        n = min(chunk, mcfg.meta.episodes - done)
        train_episodic(net, x, y, replace(mcfg.meta, episodes=n), gen, device, aug)
        done += n
        net.set_prototypes(x, y, n_classes)
        score = _metrics(val[1].numpy(), _predict(net, val[0], device).argmax(1).numpy(), n_classes)["uf1"]
        history.append({"episodes": done, "val_uf1": score})
        if score > best:
            best, best_state = score, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    return {"episodes": done, "val_history": history, "picked_val_uf1": best}


def run_fold(x: torch.Tensor, y: torch.Tensor, fold: Any, n_classes: int, cfg: LosoConfig, device: torch.device,
             amplifier_for=None) -> dict[str, Any]:
    """Train every requested variant on ``fold.train`` and predict ``fold.test``: {variant: probs (n_test, K)}."""
    from neurotrio.core.seed import seed_everything
    from neurotrio.microexpression.baselines import STSTNet

    gen = seed_everything(cfg.seed * 1000 + fold.index, deterministic=False)
    tr, te = torch.as_tensor(fold.train), torch.as_tensor(fold.test)
    mcfg = _for_input_channels(cfg, x.shape[1])
    out: dict[str, Any] = {"probs": {}, "info": {}}
    mpf = [v for v in cfg.variants if v in VARIANTS]
    if mpf:
        xm = center_flow(x) if mcfg.center else x
        mean, std = input_stats(xm[tr])              # statistics of the training subjects only
        xm = standardize(xm, mean, std)
        xtr, ytr, xte = xm[tr], y[tr], xm[te]
        val = (xm[torch.as_tensor(fold.val)], y[torch.as_tensor(fold.val)]) if fold.val else None
        amplifier = _standardized(amplifier_for(fold.train), mean, std, mcfg.center) if amplifier_for else None
        priors = train_priors(xtr, ytr, n_classes, mcfg, tuple(mpf), gen, device, amplifier)
        out["info"]["prior_losses"] = {k: v[-1] for k, v in priors["losses"].items()}
        for v in mpf:
            net = build_variant(v, priors, mcfg).to(device)
            info = finetune(net, xtr, ytr, n_classes, mcfg, gen, device, val, cfg.val_checks)
            info.pop("losses", None)
            out["info"][v] = info
            out["probs"][v] = _predict(net, xte, device)
    if "ststnet" in cfg.variants:
        gen = seed_everything(cfg.seed * 1000 + fold.index + 500_000, deterministic=False)  # same for any variants
        mean, std = input_stats(x[tr])
        xb = standardize(x, mean, std)
        net = STSTNet(x.shape[1], n_classes)
        train_classifier(net, xb[tr], y[tr], cfg.model.baseline, gen, device,
                         augment=_augmenter(cfg.model, gen) if cfg.baseline_augment else None)
        out["probs"]["ststnet"] = _predict(net, xb[te], device)
    return out


def _run_folds(cfg: LosoConfig, fold_indices: list[int] | None, progress: bool) -> tuple[list[dict], dict]:
    """Run the given folds (None: those ``cfg`` selects) in this process: (test-sample records, fold infos)."""
    from tqdm.auto import tqdm

    from neurotrio.core.seed import pick_device
    from neurotrio.microexpression.loso import loso_splits

    device = pick_device(cfg.device)
    samples, x, y, names = _load(cfg)
    subjects = [s.subject for s in samples]
    n_subj = len(set(subjects))
    if fold_indices is None:
        fold_indices = list(cfg.folds) or (list(range(min(cfg.max_folds, n_subj))) if cfg.max_folds else None)
    folds = loso_splits(subjects, cfg.n_val_subjects, cfg.seed, fold_indices)
    factory = _amplifier_factory(samples, cfg)
    records, infos = [], {}
    for fold in tqdm(folds, desc="LOSO folds", disable=not progress):
        c0 = time.process_time()
        res = run_fold(x, y, fold, len(names), cfg, device, factory)
        infos[fold.test_subject] = res["info"]
        infos[fold.test_subject]["_cpu_s"] = time.process_time() - c0    # this process's CPU seconds
        for j, i in enumerate(fold.test):
            rec = {"fold": fold.index, "subject": fold.test_subject, "database": samples[i].database,
                   "sample": samples[i].name, "label": int(y[i])}
            rec.update({f"pred_{v}": int(p[j].argmax()) for v, p in res["probs"].items()})
            records.append(rec)
    return records, infos


def _fold_worker(cfg: LosoConfig, fold_indices: list[int]) -> tuple[list[dict], dict]:
    torch.set_num_threads(1)
    return _run_folds(cfg, fold_indices, progress=False)


def _spread_folds(cfg: LosoConfig, keep: list[int], samples: list, progress: bool) -> tuple[list[dict], dict] | None:
    """Run the folds ``keep`` in one process, over ``fold_workers`` processes, or over the torchrun ranks.

    Under torchrun rank r runs folds ``keep[r::N]`` and rank 0 receives every rank's records; the other
    ranks get None. A raw-frame cache is filled first (each rank its share of the samples, then a barrier).
    """
    from neurotrio.core import distributed
    from neurotrio.microexpression.datasets import load_inputs
    from neurotrio.microexpression.loso import fold_share

    frames = samples[0].kind != "flow"
    if distributed.is_distributed():
        if frames:
            if share := distributed.shard(samples):
                load_inputs(share, cache_dir=cfg.cache_dir, workers=cfg.workers)
            distributed.barrier()
        mine = distributed.shard(keep)
        parts = distributed.gather_objects(_run_folds(cfg, mine, progress) if mine else ([], {}))
        if not distributed.is_main():
            return None
    elif cfg.fold_workers > 1 and len(keep) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        if frames:
            _load(cfg)                                  # prepare the cache once, before the workers read it
        n = min(cfg.fold_workers, len(keep))
        shares = [[keep[j] for j in fold_share(len(keep), w, n)] for w in range(n)]
        with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as pool:
            parts = list(pool.map(_fold_worker, [cfg] * n, shares))
    else:
        return _run_folds(cfg, keep, progress)
    records = sorted((r for p in parts for r in p[0]), key=lambda r: r["fold"])
    return records, {k: v for p in parts for k, v in p[1].items()}


def run_loso(cfg: LosoConfig, out_dir: str | Path, progress: bool = True,
             figures: bool = True) -> dict[str, Any] | None:
    """Run LOSO for every variant in ``cfg`` and write results into ``out_dir`` (atomically).

    With ``cfg.fold_workers`` > 1 the folds are spread round robin over that many processes (one
    thread each). Under ``torchrun`` (after ``core.distributed.init_distributed()``) the folds are spread
    over the ranks instead (rank r runs folds r, r + N, …; no DDP inside a fold), rank 0 gathers them and
    alone writes and shows progress; ``fold_workers`` > 1 is then refused (use one or the other). Every
    fold is seeded by its index, so the results are the same as in one process in every case.

    Writes ``results.json`` (metrics per variant: pooled, per sub-database, per fold; config; provenance),
    ``results.md`` (tables and pooled confusion matrices), ``predictions.csv`` (one row per test sample:
    true class and every variant's predicted class, by name), ``config.yaml`` and, with ``figures``,
    ``confusion_<variant>.png`` (pooled and per database) and ``fold_uf1.png`` (``figures.py``).

    Returns:
        The metrics dict (also in results.json under ``metrics``); None on torchrun ranks other than 0.

    Raises:
        ConfigError: no dataset folder, or ``fold_workers`` > 1 under torchrun.
    """
    from neurotrio.core import distributed
    from neurotrio.core.io import atomic_dir, atomic_write_text
    from neurotrio.core.results import write_results
    from neurotrio.core.seed import pick_device
    from neurotrio.microexpression.datasets import class_names, load_dataset

    device = pick_device(cfg.device)
    names = class_names(cfg.dataset)
    if not cfg.data:
        raise ConfigError("no dataset folder: pass --data DIR (or set data= in the config)")
    world = distributed.world_size()
    if world > 1 and cfg.fold_workers > 1:
        raise ConfigError(f"fold_workers={cfg.fold_workers} cannot be combined with torchrun ({world} processes): "
                          "the ranks already spread the folds; set fold_workers=1 or run without torchrun")
    samples = load_dataset(cfg.dataset, cfg.data, cfg.sheet or None)
    n_subj = len({s.subject for s in samples})
    keep = list(cfg.folds) or list(range(min(cfg.max_folds, n_subj) if cfg.max_folds else n_subj))
    t0 = time.perf_counter()
    if not distributed.is_main():                       # torchrun rank > 0: run its folds, write nothing
        return _spread_folds(cfg, keep, samples, progress=False)
    with atomic_dir(out_dir) as tmp:
        records, infos = _spread_folds(cfg, keep, samples, progress)
        wall = time.perf_counter() - t0
        metrics = summarize(records, cfg.variants, names)
        metrics["_run"] = {"wall_s": wall, "folds": len(keep), "subjects": n_subj, "samples_tested": len(records),
                           "device": str(device), "world_size": world,
                           "fold_workers": 1 if world > 1 else max(1, min(cfg.fold_workers, len(keep))),
                           "classes": list(names)}
        cpu = {k: i.pop("_cpu_s", 0.0) for k, i in infos.items()}
        metrics["_run"].update(fold_info=infos, fold_cpu_s=cpu, cpu_s=sum(cpu.values()))
        write_results(tmp, "results", metrics, cfg, seed=cfg.seed, markdown=results_markdown(metrics, cfg))
        named = [{c: (names[r[c]] if c == "label" or c.startswith("pred_") else r[c]) for c in r} for r in records]
        cols = list(named[0])
        atomic_write_text(tmp / "predictions.csv", "\n".join(
            [",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in named]) + "\n")
        if figures:
            from neurotrio.microexpression.figures import confusion_figures, fold_strip_plot

            confusion_figures(records, cfg.variants, names, tmp)
            fold_strip_plot(metrics, records, cfg.variants, tmp)
    return metrics
