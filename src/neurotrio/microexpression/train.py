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
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.augment import augment_batch
from neurotrio.microexpression.config import (  # noqa: F401  (also re-exported from here)
    ALL_VARIANTS,
    SHALLOW_ENCODER,
    SMALL_BACKBONE,
    LosoConfig,
    MPFNetConfig,
)
from neurotrio.microexpression.inputs import (
    _amplifier_factory,
    _load,
    _standardized,
    center_flow,
    input_stats,
    standardize,
)
from neurotrio.microexpression.mpfnet import VARIANTS, Fuse, MPFNet, make_afe, make_encoder
from neurotrio.microexpression.report import metrics_of as _metrics
from neurotrio.microexpression.report import results_markdown, summarize
from neurotrio.microexpression.stages import (
    balanced_with_amplification,
    train_classifier,
    train_episodic,
    train_gfe,
)

log = logging.getLogger(__name__)


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
