"""Training ULW-SleepNet: one model, subject-wise k-fold cross-validation, and the within-recording protocol.

Optimiser as in the reference: Adam with AMSGrad, learning rate 1e-3 under a cosine schedule with warm
restarts counted in batches (cycles of 10, 20, 40, ... batches: Keras ``CosineDecayRestarts(1e-3, 10,
t_mul=2)`` = torch ``CosineAnnealingWarmRestarts(T_0=10, T_mult=2)`` stepped every batch), cross-entropy,
batch 32, 50 epochs, seed 32. Unlike the reference, the epoch kept is the best on VALIDATION subjects
drawn from the training side, never on the test fold.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from neurotrio.core.batches import TensorBatches
from neurotrio.core.errors import ConfigError, InputError
from neurotrio.sleep.edf import DEFAULT_CHANNELS
from neurotrio.sleep.model import STAGES, SleepModel, ULWSleepNet, ULWSleepNetConfig, robust_stats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved as ``config.yaml`` beside its results).

    Attributes:
        model: network hyper-parameters (``n_chans`` is set from ``channels``).
        channels: input channel names.
        normalization: "fixed" (per-channel median / robust std of the training data, stored in the
            model), "recording" (each recording scaled by its own statistics) or "none" (raw uV, as
            the reference).
        epochs, batch_size, lr, amsgrad: optimisation (reference values).
        restart_batches, restart_mult: cosine warm-restart cycle length in batches and its growth factor.
        class_weights: weight the loss by inverse class frequency of the training set.
        select: validation metric whose best epoch is kept ("macro_f1", "kappa" or "accuracy").
        seed: seed of initialisation, shuffling and splits.
        device: "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
        compile: wrap the network in ``torch.compile`` for training.
        protocol: "kfold" (subject-wise) or "within-recording" (one night; development only).
        subset: Sleep-EDF subset for "kfold" ("sleep-edf-20", "sleep-edf-78", "all").
        n_folds: folds (default 20 for Sleep-EDF-20, 10 for Sleep-EDF-78).
        val_subjects: validation subjects per fold (fraction of the training side, or a count >= 1).
        trim_wake_min: minutes of wake kept around the sleep period (DeepSleepNet: 30).
        test_start, test_stop, val_fraction: within-recording split (see ``within_recording_split``).
    """

    model: ULWSleepNetConfig = ULWSleepNetConfig()
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    normalization: Literal["fixed", "recording", "none"] = "fixed"
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    amsgrad: bool = True
    restart_batches: int = 10
    restart_mult: int = 2
    class_weights: bool = False
    select: Literal["macro_f1", "kappa", "accuracy"] = "macro_f1"
    seed: int = 32
    device: str = "auto"
    compile: bool = False
    protocol: Literal["kfold", "within-recording"] = "kfold"
    subset: str = "sleep-edf-20"
    n_folds: int | None = None
    val_subjects: float = 0.1
    trim_wake_min: float | None = 30.0
    test_start: float = 0.7
    test_stop: float = 1.0
    val_fraction: float = 0.2

    def model_config(self) -> ULWSleepNetConfig:
        return dataclasses.replace(self.model, n_chans=len(self.channels))


def normalize_recording(x: np.ndarray) -> np.ndarray:
    """Scale one recording's epochs (n, C, n_times) by its own per-channel median and robust std."""
    center, scale = robust_stats(x)
    return ((x - center[None, :, None]) / scale[None, :, None]).astype(np.float32)


def class_weights_of(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency ("balanced") weights n / (n_present_classes * count); absent classes get 0."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return torch.tensor(w, dtype=torch.float32)


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray | torch.Tensor, device: torch.device | str = "cpu",
            batch_size: int = 512) -> np.ndarray:
    """Softmax probabilities (n, n_classes) of epochs (n, C, n_times), in eval mode (any float input)."""
    model.eval().to(device)
    x = torch.as_tensor(x, dtype=torch.float32)
    out = [torch.softmax(model(x[i:i + batch_size].to(device)), -1).cpu() for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, len(STAGES)), np.float32)


def metrics_of(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    from neurotrio.core.metrics import classification_report

    return classification_report(y, proba.argmax(1), list(STAGES))


def train_model(x_train: np.ndarray, y_train: np.ndarray, cfg: TrainConfig, x_val: np.ndarray | None = None,
                y_val: np.ndarray | None = None, checkpoint: str | Path | None = None, resume: bool = False,
                progress: bool = True, desc: str = "train", data_parallel: bool = True,
                trained_on: str | None = None) -> tuple[SleepModel, Any]:
    """Train one ULW-SleepNet; with validation data the best validation epoch is kept.

    Args:
        x_train: float32 (n, C, n_times) epochs, microvolts (already per-recording normalised when
            ``cfg.normalization == "recording"``; see :func:`normalize_recording`).
        y_train: int64 (n,) stage codes 0..4.
        cfg: the run's config.
        x_val, y_val: validation epochs (never test data).
        checkpoint: training-state file for exact resume (written after every epoch).
        resume: continue from ``checkpoint`` when it exists.
        trained_on: a line describing the training data, stored in the model file (``sleep info`` shows it).

    Returns:
        (model ready for :func:`~neurotrio.sleep.model.save_model`, ``core.train.History``).
    """
    from neurotrio.core.seed import pick_device, seed_everything
    from neurotrio.core.train import classification_step, fit

    mcfg = cfg.model_config()
    if x_train.ndim != 3 or x_train.shape[1:] != (mcfg.n_chans, mcfg.n_times) or len(x_train) != len(y_train):
        raise InputError(None, f"training epochs must be (n, {mcfg.n_chans}, {mcfg.n_times}) with one label each, "
                               f"got {x_train.shape} and {len(y_train)} labels")
    if len(x_train) == 0:
        raise InputError(None, "no training epochs")
    gen = seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    if device.type == "cpu":  # reuse freed activation memory instead of page-faulting it in every step
        from neurotrio.core.threads import keep_freed_memory

        keep_freed_memory()
    net = ULWSleepNet(mcfg)
    if cfg.normalization == "fixed":
        center, scale = robust_stats(x_train)
        net.in_center.copy_(torch.from_numpy(center))
        net.in_scale.copy_(torch.from_numpy(scale))
    net.to(device)
    x_t = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)).to(device)
    y_t = torch.from_numpy(np.asarray(y_train, dtype=np.int64)).to(device)
    batches = TensorBatches(x_t, y_t, cfg.batch_size, gen, shard=data_parallel)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, amsgrad=cfg.amsgrad)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=cfg.restart_batches,
                                                                     T_mult=cfg.restart_mult)
    weight = class_weights_of(np.asarray(y_train), mcfg.n_classes).to(device) if cfg.class_weights else None
    base_step = classification_step(nn.CrossEntropyLoss(weight=weight))
    compiled: list[nn.Module] = []

    def step(wrapped: nn.Module, batch: Any, dev: torch.device) -> torch.Tensor:
        # ``wrapped`` is the DDP wrapper under torchrun (its forward syncs gradients); compile that
        if cfg.compile and not compiled:
            compiled.append(torch.compile(wrapped))
        return base_step(compiled[0] if compiled else wrapped, batch, dev)

    validate = select = None
    if x_val is not None and y_val is not None and len(y_val):
        def validate(model: nn.Module) -> dict[str, float]:
            # the fused inference form: the same function (logits within 1e-5), ~2x faster per epoch
            m = metrics_of(np.asarray(y_val), predict(model.fused(), x_val, device, batch_size=64))
            return {f"val_{k}": float(m[k]) for k in ("accuracy", "macro_f1", "kappa")}
        select = f"val_{cfg.select}"
    from neurotrio.core.config import to_dict

    history = fit(net, batches, optimizer, cfg.epochs, device, step=step, scheduler=scheduler,
                  scheduler_per_batch=True, validate=validate, select=select, checkpoint=checkpoint,
                  resume=resume, progress=progress, desc=desc, config=to_dict(cfg), data_parallel=data_parallel)
    net = net.cpu().eval()
    meta = {"train_config": to_dict(cfg), "best_epoch": history.best_epoch, "n_train_epochs": int(len(y_train)),
            "n_val_epochs": int(len(y_val)) if y_val is not None else 0,
            "trained_on": trained_on or f"{len(y_train)} epochs given to train_model (no description)"}
    return SleepModel(net, tuple(cfg.channels), cfg.normalization, meta), history


def one_class_warning(proba: np.ndarray, where: str) -> str | None:
    """A warning when every epoch of ``proba`` (n, n_classes) is staged as the same class, else None.

    A collapsed model (e.g. too few epochs, a bad learning rate, unscaled input) still gets an accuracy
    equal to that class's share, which can look plausible; the warning is also logged.
    """
    pred = np.asarray(proba).argmax(1)
    if len(pred) < 2 or len(np.unique(pred)) > 1:
        return None
    msg = (f"{where}: the model predicts {STAGES[int(pred[0])]} for every one of the {len(pred)} test epochs "
           "(a collapsed model: check the input scaling, the number of training epochs and the labels)")
    log.warning(msg)
    return msg


def stack(nights: Sequence[Any], normalization: str) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate nights' epochs (normalising each night first for "recording")."""
    if not nights:
        return np.zeros((0, 1, 1), np.float32), np.zeros(0, np.int64)
    xs = [normalize_recording(n.x) if normalization == "recording" else n.x for n in nights]
    return np.concatenate(xs), np.concatenate([n.y for n in nights])


def check_channels(nights: Sequence[Any], cfg: TrainConfig) -> None:
    for n in nights:
        if tuple(n.channels) != tuple(cfg.channels):
            raise ConfigError(f"night {n.record} was prepared with channels {n.channels}, the config asks for "
                              f"{cfg.channels}")


def _subjects(ids: Sequence[Any]) -> str:
    ids = sorted(ids)
    return " ".join(map(str, ids[:12])) + (f" ... ({len(ids)})" if len(ids) > 12 else "")


def _report(name: str, pooled: dict[str, Any], rows: list[list[Any]], headers: list[str], note: str) -> str:
    from neurotrio.core.results import markdown_table

    f1 = pooled["per_class_f1"]
    return (f"# {name}\n\n{note}\n\n"
            f"Pooled over {pooled['n']} test epochs: accuracy {pooled['accuracy']:.3f}, macro-F1 "
            f"{pooled['macro_f1']:.3f}, kappa {pooled['kappa']:.3f}; per-class F1 "
            + ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} n/a" for k, v in f1.items())
            + "\n\n" + markdown_table(headers, rows))


def cross_validate(nights: Sequence[Any], cfg: TrainConfig, out_dir: str | Path, resume: bool = False,
                   progress: bool = True) -> dict[str, Any] | None:
    """Subject-wise k-fold cross-validation on prepared Sleep-EDF nights.

    Each fold trains on its training subjects, keeps the best epoch on its validation subjects (drawn
    from the training side), and is tested once on its test subjects. Writes into ``out_dir``:
    ``fold{i}.safetensors`` and ``fold{i}.json`` per fold (a finished fold is skipped on ``resume``),
    ``kfold.json`` / ``kfold.md`` (per-fold and pooled metrics, config, provenance), ``config.yaml`` and
    ``confusion.png``.

    Args:
        nights: :class:`~neurotrio.sleep.sleepedf.PreparedEpochs`, one per night.
        cfg: config (``n_folds`` None: 20 for Sleep-EDF-20, 10 for Sleep-EDF-78).

    Under torchrun the folds are spread across the ranks (each trains its own, without DDP); rank 0 then
    pools every fold's saved test predictions and writes the summary.

    Returns:
        ``{"folds": [...], "pooled": {...}}``; None on ranks other than 0.
    """
    import json

    from neurotrio.core import distributed
    from neurotrio.core.io import write_json
    from neurotrio.core.plots import plot_confusion
    from neurotrio.core.results import write_results
    from neurotrio.sleep.model import save_model
    from neurotrio.sleep.protocols import default_n_folds, subject_kfold

    check_channels(nights, cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    subjects = [n.subject for n in nights]
    k = cfg.n_folds or default_n_folds(cfg.subset, len(set(subjects)))
    cfg = dataclasses.replace(cfg, protocol="kfold", n_folds=k)  # the saved config states what ran
    val = int(cfg.val_subjects) if cfg.val_subjects >= 1 else cfg.val_subjects
    folds = subject_kfold(subjects, k, val, cfg.seed)
    mine = {f.index for f in distributed.shard(folds)}  # under torchrun, folds are spread across ranks
    for fold in folds:
        done = out / f"fold{fold.index}.json"
        if fold.index not in mine or (resume and done.exists()):
            continue
        part = {s: [n for n in nights if n.subject in getattr(fold, s)] for s in ("train", "val", "test")}
        x_tr, y_tr = stack(part["train"], cfg.normalization)
        x_va, y_va = stack(part["val"], cfg.normalization)
        trained_on = (f"{cfg.subset} ({cfg.normalization} normalization), {k}-fold subject-wise cross-validation, "
                      f"fold {fold.index + 1}/{k}: trained on {len(y_tr)} epochs of {len(part['train'])} nights "
                      f"(subjects {_subjects(fold.train)}), best epoch by validation {cfg.select} on subjects "
                      f"{_subjects(fold.val)}; test subjects {_subjects(fold.test)}")
        model, history = train_model(x_tr, y_tr, cfg, x_va, y_va, checkpoint=out / f"fold{fold.index}.state.pt",
                                     resume=resume, progress=progress, desc=f"fold {fold.index + 1}/{k}",
                                     data_parallel=False, trained_on=trained_on)
        proba = predict(model.net.fused(), stack(part["test"], cfg.normalization)[0], batch_size=64)
        save_model(model, out / f"fold{fold.index}.safetensors", fold=dataclasses.asdict(fold))
        write_json(done, {"fold": dataclasses.asdict(fold), "best_epoch": history.best_epoch,
                          "history": history.epochs, "test_records": [n.record for n in part["test"]],
                          "test_proba": proba.round(5).tolist()})
        (out / f"fold{fold.index}.state.pt").unlink(missing_ok=True)
    distributed.barrier()
    if not distributed.is_main():
        return None
    y_all, p_all, per_fold, warnings = [], [], [], []
    for fold in folds:  # every fold's test predictions, from the files the ranks wrote
        rec = json.loads((out / f"fold{fold.index}.json").read_text())
        y_te = np.concatenate([n.y for n in nights if n.subject in fold.test])
        proba = np.asarray(rec["test_proba"], np.float32)
        m = metrics_of(y_te, proba)
        per_fold.append({"fold": fold.index, "test_subjects": list(fold.test), "val_subjects": list(fold.val),
                         "best_epoch": rec.get("best_epoch"), **{k_: m[k_] for k_ in ("n", "accuracy", "macro_f1", "kappa")}})
        y_all.append(y_te)
        p_all.append(proba.argmax(1))
        if (warning := one_class_warning(proba, f"fold {fold.index + 1}/{k}")) is not None:
            warnings.append(warning)
        log.info("fold %d: acc %.3f mf1 %.3f kappa %.3f", fold.index, m["accuracy"], m["macro_f1"], m["kappa"])
    from neurotrio.core.metrics import classification_report

    pooled = classification_report(np.concatenate(y_all), np.concatenate(p_all), list(STAGES))
    plot_confusion(np.asarray(pooled["confusion_matrix"]), STAGES, out / "confusion.png",
                   title=f"ULW-SleepNet, {cfg.subset}, {k}-fold subject-wise (pooled)")
    rows = [[f["fold"], " ".join(map(str, f["test_subjects"])), f["n"], f["accuracy"], f["macro_f1"], f["kappa"]]
            for f in per_fold]
    md = _report(f"ULW-SleepNet: {cfg.subset}, {k}-fold subject-wise cross-validation", pooled, rows,
                 ["fold", "test subjects", "epochs", "accuracy", "macro-F1", "kappa"],
                 f"{len(nights)} nights of {len(set(subjects))} subjects; validation subjects from the training "
                 "side; best epoch by validation " + cfg.select + ".")
    md += "".join(f"\n\n**Warning:** {w}" for w in warnings)
    result = {"protocol": "kfold", "subset": cfg.subset, "n_folds": k, "folds": per_fold, "pooled": pooled,
              "warnings": warnings}
    write_results(out, "kfold", result, config=cfg, seed=cfg.seed, markdown=md)
    return result


def run_within_recording(night: Any, cfg: TrainConfig, out_dir: str | Path,
                         progress: bool = True) -> dict[str, Any] | None:
    """The within-recording development protocol on ONE night (never a Sleep-EDF-20/78 result).

    Trains on the early part of the night, keeps the best epoch on the validation block just before the
    test span, and tests on the later span ``[test_start, test_stop)`` (see
    :func:`~neurotrio.sleep.protocols.within_recording_split`). Writes ``within-recording.json/.md``,
    ``config.yaml``, ``confusion.png`` and ``model.safetensors`` into ``out_dir``.
    """
    from neurotrio.core.plots import plot_confusion
    from neurotrio.core.results import write_results
    from neurotrio.sleep.model import save_model
    from neurotrio.sleep.protocols import within_recording_split

    check_channels([night], cfg)
    cfg = dataclasses.replace(cfg, protocol="within-recording")  # the saved config states what ran
    split = within_recording_split(len(night.y), cfg.test_start, cfg.test_stop, cfg.val_fraction)
    x = normalize_recording(night.x) if cfg.normalization == "recording" else night.x
    trained_on = (f"within-recording protocol (development only) on {night.record}: trained on its epochs "
                  f"{split.train[0]}-{split.train[-1]} ({len(split.train)} epochs), validated on "
                  f"{split.val[0]}-{split.val[-1]}; test span {split.test[0]}-{split.test[-1]} of the same night")
    model, history = train_model(x[split.train], night.y[split.train], cfg, x[split.val], night.y[split.val],
                                 progress=progress, desc="within-recording", trained_on=trained_on)
    proba = predict(model.net.fused(), x[split.test], batch_size=64)  # the same function, faster
    m = metrics_of(night.y[split.test], proba)
    warning = one_class_warning(proba, f"within-recording ({night.record})")
    from neurotrio.core import distributed

    if not distributed.is_main():  # under torchrun the ranks trained one model together (DDP)
        return None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_model(model, out / "model.safetensors", protocol="within-recording", record=night.record)
    plot_confusion(np.asarray(m["confusion_matrix"]), STAGES, out / "confusion.png",
                   title=f"within-recording, {night.record} (development)")
    spans = {k: [float(night.onset_s[v[0]]), float(night.onset_s[v[-1]] + cfg.model.epoch_s)]
             for k, v in (("train", split.train), ("val", split.val), ("test", split.test))}
    rows = [[k, len(getattr(split, k)), f"{spans[k][0]:.0f}-{spans[k][1]:.0f}"] for k in ("train", "val", "test")]
    md = _report(f"ULW-SleepNet: within-recording protocol on {night.record} (development data)", m, rows,
                 ["part", "epochs", "span (s from recording start)"],
                 "Train on early blocks of one night, validate on the block before the test span, test on a "
                 "later block of the SAME night. This measures within-night generalisation only and is not a "
                 "Sleep-EDF-20/78 result.")
    md += f"\n\n**Warning:** {warning}" if warning else ""
    result = {"protocol": "within-recording", "record": night.record, "best_epoch": history.best_epoch,
              "parts_epochs": {k: len(getattr(split, k)) for k in ("train", "val", "test")},
              "parts_span_s": spans, "test": m, "history": history.epochs,
              "warnings": [warning] if warning else []}
    write_results(out, "within-recording", result, config=cfg, seed=cfg.seed, markdown=md)
    return result
