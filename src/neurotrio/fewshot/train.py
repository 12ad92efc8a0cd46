"""Training FSL-SNN: TET pre-training on the base classes, then episodic N-way K-shot fine-tuning.

Protocol:
    1. Pre-training: a linear head over all base (training) classes on the per-time-step pooled
       features, TET loss, SGD with cosine schedule. After each epoch, ``val_episodes`` episodes drawn
       from the validation classes (never test classes) score the model; the best epoch is kept.
    2. Fine-tuning: episodes of ``n_way`` × (``k_shot`` + ``n_query``) training-class images, loss
       ``w_tet·TET(CFC logits) + w_nce·InfoNCE(query, prototypes)``; validated every ``val_every``
       episodes on validation-class episodes, best kept.
    3. Evaluation (``evaluate.py``) on test-class episodes only.

Example:
    >>> cfg = TrainConfig(data=DataConfig(dataset="synthetic"))
    >>> result = run_training(cfg, "runs/smoke")      # writes model.safetensors, train.json, config.yaml
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from neurotrio.core import distributed
from neurotrio.core.checkpoint import save_weights
from neurotrio.core.errors import ConfigError
from neurotrio.core.io import atomic_dir
from neurotrio.core.results import write_results
from neurotrio.core.seed import pick_device, seed_everything
from neurotrio.core.train import fit
from neurotrio.fewshot.evaluate import (
    DataConfig,
    EvalConfig,
    FeatureSet,
    TensorSet,
    embed_all,
    episode_accuracy,
    episode_batches,
    load_splits,
)
from neurotrio.fewshot.fslsnn import EpisodeOutput, FewShotNet, FSLSNNConfig, build_model
from neurotrio.fewshot.losses import LossConfig, fewshot_loss, tet_loss
from neurotrio.fewshot.model import BackboneConfig
from neurotrio.fewshot.sfe import SFEConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainConfig:
    """Supervised TET pre-training over the base classes (``epochs=0`` skips it).

    ``grad_clip`` caps the gradients' global L2 norm per step (None: off). Without it, in a CPU-scale
    Omniglot run one step's surrogate gradient exploded (norm 4e10 at step 635 of 813, against a median
    of 1.2 over the first 150 steps and 10 at the first), the update stopped the network firing and it
    never recovered (loss 3.8 → 7.2 = chance); ``benchmarks/fewshot_pretrain_trace.py`` shows it.

    ``precision="bf16"`` runs each step's forward pass under ``torch.autocast`` with bfloat16 (weights,
    gradients and the optimizer stay float32; the loss is taken in float32; validation stays float32).
    Its speed and a validation-class accuracy check on this AVX-512 BF16 CPU: ``benchmarks/fewshot_speed.py``
    (BENCHMARKS.md, "fewshot-speed"). ``channels_last=True`` keeps the 2-D convolutions' weights in
    channels-last memory layout during pre-training (same arithmetic; with bf16 it was the fastest form on
    this CPU, same benchmark) and restores the default layout afterwards.
    """

    epochs: int = 8
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    grad_clip: float | None = 5.0
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False


@dataclass(frozen=True)
class FinetuneConfig:
    """Episodic fine-tuning with the few-shot losses (``episodes=0`` skips it).

    ``grad_clip`` caps the global gradient norm as in pre-training: without it fine-tuning destroyed the
    model (validation 55.5 → 25.7 %), with it the same start rose to 75.0 %. ``bn="train"`` (default)
    normalises by the episode batch as in pre-training; ``"frozen"`` keeps every batch-norm layer in eval
    mode (running statistics), which validated lower (71.5 %). Numbers: docs/fewshot.md, "Episodic
    fine-tuning".
    """

    episodes: int = 60
    n_way: int = 5
    k_shot: int = 1
    n_query: int = 15
    lr: float = 0.005
    momentum: float = 0.9
    weight_decay: float = 5e-4
    val_every: int = 30
    grad_clip: float | None = 5.0
    bn: Literal["train", "frozen"] = "train"


def recipe_model() -> FSLSNNConfig:
    """The CPU recipe's model: width 0.5, T = 2, stride 2 on layers 2 and 4, a step-mode SFE (reduction 16).

    With :func:`recipe_data`'s 20×20 inputs the SFE and CFC see a 5×5 map (the issue-9 minimum; the
    paper's strides (2, 4, 6, 8) leave 2×2 at 28×28). The SFE correlates each time step alone with shared
    weights and a 16× channel reduction, which keeps its dense real-valued convolutions small under the
    strict energy rule. Chosen on Omniglot validation classes (docs/fewshot.md, "Omniglot recipe"): with 8
    pre-training epochs and fine-tuning it reached 97.0 % 5-way 1-shot validation accuracy, against 96.9 %
    for the previous default (the paper's strides at 28×28, a 2×2 map, 12 epochs).
    """
    return FSLSNNConfig(backbone=BackboneConfig(width=0.5, time_steps=2, stride_layers=(2, 4)),
                        sfe=SFEConfig(time_mode="step", reduction=16))


def recipe_data() -> DataConfig:
    """The recipe's data settings: Omniglot at 20×20 (→ 5×5 maps with :func:`recipe_model`), no rotations."""
    return DataConfig(image_size=20)


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; saved as ``config.yaml`` beside the results.

    The defaults are the validated CPU recipe for Omniglot (``recipe_model``, the pre-training and
    fine-tuning defaults); ``benchmarks/fewshot_omniglot.py`` runs them unchanged. CUB and Omniglot-DVS
    have their own: ``recipes.dataset_recipe``.
    """

    model: FSLSNNConfig = field(default_factory=recipe_model)
    data: DataConfig = field(default_factory=recipe_data)
    loss: LossConfig = field(default_factory=LossConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    bn_recalibration_batches: int = 20
    seed: int = 0
    device: str = "auto"
    progress: bool = False


def resolve_model_config(cfg: TrainConfig, train: TensorSet) -> FSLSNNConfig:
    """Fill in what the data decides: input channels, T for event data, number of base classes."""
    bb = cfg.model.backbone
    if train.images.dim() == 5:  # event frames (N, T, C, H, W) keep their bins
        bb = replace(bb, time_steps=int(train.images.shape[1]), in_channels=int(train.images.shape[2]))
    else:
        bb = replace(bb, in_channels=int(train.images.shape[1]))
    return replace(cfg.model, backbone=bb, n_base_classes=train.n_classes)


@torch.no_grad()
def recalibrate_bn(model: FewShotNet, images: torch.Tensor, device: torch.device, batches: int,
                   batch_size: int, seed: int) -> None:
    """Re-estimate every batch-norm running mean/variance as the plain average over ``batches`` batches.

    The default exponential average (momentum 0.1) starts from mean 0, variance 1; after few updates
    the variance of a spiking layer (true value often ~0.01) is still overestimated, the eval-mode
    activations shrink and the deep layers stop firing. Recomputing the statistics on training images
    (never test images) before each evaluation removes that start-up bias; after long training it
    changes little.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or batches <= 0:
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was = model.training
    model.train()
    idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[: batches * batch_size]
    for i in range(0, len(idx), batch_size):  # under torchrun: each rank its share, BN synced across ranks
        model.embed(images[distributed.share_of_batch(idx[i:i + batch_size])].to(device))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    model.train(was)


def validation_score(model: FewShotNet, train: TensorSet, val: TensorSet, cfg: TrainConfig,
                     device: torch.device, seed: int) -> dict[str, float]:
    """Mean accuracy over ``cfg.eval.val_episodes`` validation-class episodes (fixed seed each time).

    Batch-norm statistics are first recalibrated on training images (``recalibrate_bn``).
    """
    recalibrate_bn(model, train.images, device, cfg.bn_recalibration_batches, cfg.pretrain.batch_size, cfg.seed)
    ft = cfg.finetune
    n_way = min(ft.n_way, val.n_classes)
    feats = embed_all(model, val.images, device, cfg.eval.batch_size)
    gen = torch.Generator().manual_seed(seed)
    accs = episode_accuracy(model, FeatureSet(feats, val.targets), n_way, ft.k_shot, ft.n_query,
                            cfg.eval.val_episodes, gen)
    return {"val_acc": float(accs.mean())}


def pretrain(model: FewShotNet, train: TensorSet, val: TensorSet, cfg: TrainConfig, device: torch.device,
             gen: torch.Generator, checkpoint: Path | None = None) -> list[dict[str, float]]:
    """Stage 1: TET classification over the base classes; the best validation epoch is restored."""
    pc = cfg.pretrain
    if pc.epochs <= 0:
        return []
    _, labels = train.targets.unique(return_inverse=True)  # base classes → 0..n_base-1
    loader = distributed.make_loader(torch.utils.data.TensorDataset(train.images, labels), pc.batch_size,
                                     shuffle=True, generator=gen, drop_last=True)
    if len(loader) == 0:
        raise ConfigError(f"pre-training batch_size {pc.batch_size} exceeds the {len(train.targets)} training images")
    opt = torch.optim.SGD(model.parameters(), lr=pc.lr, momentum=pc.momentum, weight_decay=pc.weight_decay,
                          nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=pc.epochs * len(loader))

    if pc.precision not in ("fp32", "bf16"):
        raise ConfigError(f"pretrain.precision must be 'fp32' or 'bf16', got {pc.precision!r}")

    def step(net: nn.Module, batch: Any, dev: torch.device) -> torch.Tensor:
        x, y = batch[0].to(dev), batch[1].to(dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=pc.precision == "bf16"):
            logits = net(x)
        return tet_loss(logits.float(), y, cfg.loss.tet_lambda, cfg.loss.tet_phi)

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)] if pc.channels_last else []
    for m in convs:  # in place (param.data), so the optimizer's parameters stay the model's
        m.to(memory_format=torch.channels_last)
    try:
        with frozen(getattr(model, "cfc", None)):  # unused here; DDP needs every trained parameter used
            hist = fit(model, loader, opt, pc.epochs, device, step=step, scheduler=sched, scheduler_per_batch=True,
                       validate=lambda m: validation_score(m, train, val, cfg, device, cfg.seed + 1),
                       select="val_acc", checkpoint=checkpoint, resume=checkpoint is not None,
                       progress=cfg.progress, desc="pretrain", max_grad_norm=pc.grad_clip)
    finally:
        for m in convs:
            m.to(memory_format=torch.contiguous_format)
    return hist.epochs


class EpisodeForward(nn.Module):
    """``net.episode`` as a module's forward, so that DistributedDataParallel can wrap episodic training.

    Under torchrun each rank embeds its share of the episode's images (support and queries: every
    image once across the ranks, so synced batch norm sees the single process's batch), the shares are
    gathered, and every rank scores the whole episode; see ``core.distributed.gather_shares``.
    """

    def __init__(self, net: FewShotNet, freeze_bn: bool = False):
        super().__init__()
        self.net = net
        self.freeze_bn = freeze_bn

    def forward(self, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor,
                n_way: int) -> EpisodeOutput:
        if self.freeze_bn and self.training:  # eval-mode BN: running statistics, no update from the episode
            for m in self.net.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        images = torch.cat([support, query])
        feats = distributed.gather_shares(self.net.embed(distributed.share_of_batch(images)), len(images))
        return self.net.episode_from_features(feats[: len(support)], support_labels, feats[len(support):], n_way)


@contextmanager
def frozen(module: nn.Module | None) -> Iterator[None]:
    """Turn off ``requires_grad`` of ``module``'s parameters for the duration of the block."""
    params = [p for p in module.parameters() if p.requires_grad] if module is not None else []
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def finetune(model: FewShotNet, train: TensorSet, val: TensorSet, cfg: TrainConfig, device: torch.device,
             gen: torch.Generator, checkpoint: Path | None = None) -> list[dict[str, float]]:
    """Stage 2: episodic fine-tuning with TET on the episode logits plus InfoNCE; best validation kept."""
    ft = cfg.finetune
    if ft.episodes <= 0:
        return []
    chunks = max(1, ft.episodes // max(1, ft.val_every))
    per_chunk = ft.episodes // chunks
    episodes = episode_batches(train, ft.n_way, ft.k_shot, ft.n_query, per_chunk, gen)
    params = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.SGD(params, lr=ft.lr, momentum=ft.momentum, weight_decay=ft.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=chunks * per_chunk)

    def step(net: nn.Module, batch: Any, dev: torch.device) -> torch.Tensor:
        s, sy, q, qy = (b.to(dev) for b in batch)
        out = net(s, sy, q, ft.n_way)
        return fewshot_loss(out.logits, out.query_emb, out.proto_emb, qy, cfg.loss)

    with frozen(model.head):  # the pre-training head takes no part in episodes
        if ft.bn not in ("train", "frozen"):
            raise ConfigError(f"finetune.bn must be 'train' or 'frozen', got {ft.bn!r}")
        hist = fit(EpisodeForward(model, freeze_bn=ft.bn == "frozen"), episodes, opt, chunks, device, step=step, scheduler=sched,
                   scheduler_per_batch=True, select="val_acc",
                   validate=lambda m: validation_score(m.net, train, val, cfg, device, cfg.seed + 1),
                   checkpoint=checkpoint, resume=checkpoint is not None, progress=cfg.progress, desc="finetune",
                   max_grad_norm=ft.grad_clip)
    return hist.epochs


def check_episode_classes(cfg: TrainConfig, train: TensorSet, val: TensorSet) -> None:
    """Refuse splits the episodes cannot use, before pre-training rather than after it.

    Fine-tuning needs ``finetune.n_way`` training classes, validation ``min(n_way, validation classes)``
    ≥ 2 validation classes (a 1-way episode always scores 100 %), each with ``k_shot + n_query`` images
    (``EpisodeSampler``'s rule, which would otherwise stop the run only when it gets there).

    Raises:
        ConfigError: naming the settings to change.
    """
    ft = cfg.finetune
    need = ft.k_shot + ft.n_query

    def filled(split: TensorSet) -> int:
        return int((torch.bincount(split.targets) >= need).sum())

    if ft.episodes > 0 and filled(train) < ft.n_way:
        raise ConfigError(f"fine-tuning episodes need finetune.n_way={ft.n_way} training classes with at least "
                          f"{need} images (finetune.k_shot + finetune.n_query); this training split has "
                          f"{filled(train)} ({train.n_classes} in all): lower them, or use more classes")
    if cfg.pretrain.epochs > 0 or ft.episodes > 0:
        ways = min(ft.n_way, val.n_classes)
        if ways < 2 or filled(val) < ways:
            raise ConfigError(f"validation episodes need at least 2 validation classes with at least {need} images "
                              f"(finetune.k_shot + finetune.n_query); this validation split has {filled(val)} "
                              f"({val.n_classes} in all, data.val_fraction={cfg.data.val_fraction}): raise "
                              "data.val_fraction, lower finetune.n_query, or use more classes")


def train_model(cfg: TrainConfig, train: TensorSet, val: TensorSet) -> tuple[FewShotNet, dict[str, Any]]:
    """Build the model for ``cfg`` and run both stages; returns the model and a history record.

    Fine-tuning is kept only if one of its validation scores beats the pre-trained model's (scored on
    the same validation episodes just before fine-tuning); otherwise the pre-trained weights are
    restored. ``record["kept"]`` says which (``"finetuned"`` or ``"pretrained"``).
    """
    check_episode_classes(cfg, train, val)
    gen = seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    model_cfg = resolve_model_config(cfg, train)
    model = build_model(model_cfg).to(device)
    if distributed.is_distributed():  # BN synced across ranks from the start: recalibration shares batches too
        from neurotrio.core.sync_batchnorm import convert_batchnorm

        convert_batchnorm(model, device)
    t0 = time.perf_counter()
    hist_pre = pretrain(model, train, val, cfg, device, gen)
    t1 = time.perf_counter()
    kept, start_val = ("finetuned" if cfg.finetune.episodes > 0 else "pretrained"), None
    if cfg.finetune.episodes > 0:
        start_val = validation_score(model, train, val, cfg, device, cfg.seed + 1)["val_acc"]
        start_state = copy.deepcopy(model.state_dict())
    hist_ft = finetune(model, train, val, cfg, device, gen)
    if hist_ft and max(e["val_acc"] for e in hist_ft) <= start_val:
        model.load_state_dict(start_state)
        kept = "pretrained"
    t2 = time.perf_counter()
    record = {"model_config": model_cfg, "pretrain_history": hist_pre, "finetune_history": hist_ft,
              "finetune_start_val_acc": start_val, "kept": kept,
              "pretrain_s": t1 - t0, "finetune_s": t2 - t1, "device": str(device),
              "n_train_images": len(train.targets), "n_train_classes": train.n_classes,
              "n_val_classes": val.n_classes}
    return model, record


def run_training(cfg: TrainConfig, out_dir: str | Path) -> dict[str, Any]:
    """Load the data, train, and write ``model.safetensors``, ``train.json``, ``train.png`` and ``config.yaml``.

    ``train.png`` (``figures.plot_training_curves``) shows loss and validation accuracy per epoch of both
    stages with the kept model starred; ``record["kept_epoch"]`` names it.

    Under torchrun (``WORLD_SIZE`` > 1, after ``core.distributed.init_distributed``) the ranks train one
    model with DistributedDataParallel: each takes its share of every pre-training batch and of every
    episode's queries; only rank 0 writes ``out_dir``.

    Args:
        cfg: the full configuration.
        out_dir: output folder; written atomically (a failure leaves nothing behind).

    Returns:
        The metrics record (histories, wall times, validation accuracy).
    """
    from neurotrio.core.config import to_dict
    from neurotrio.fewshot.figures import kept_point, plot_training_curves

    splits = load_splits(cfg.data, need=("train", "val"), seed=cfg.seed, progress=cfg.progress and distributed.is_main())
    model, record = train_model(cfg, splits["train"], splits["val"])
    record["model_config"] = to_dict(record["model_config"])
    record["world_size"] = distributed.world_size()
    kept = kept_point(record)
    record["kept_epoch"] = {"stage": kept[0], "epoch": kept[1]} if kept else None
    for stage in ("pretrain", "finetune"):  # the per-epoch history (live lines come from fit when progress is on)
        for e in record[f"{stage}_history"]:
            log.info("%s epoch %d: train_loss %.4f val_acc %.4f", stage, e["epoch"], e["train_loss"], e["val_acc"])
    if distributed.is_main():
        ft = cfg.finetune
        per_check = ft.episodes // max(1, ft.episodes // max(1, ft.val_every)) if ft.episodes > 0 else 1
        with atomic_dir(out_dir) as tmp:
            meta = {"model_config": record["model_config"], "data": to_dict(cfg.data)}
            save_weights(model, tmp / "model.safetensors", metadata=meta)
            write_results(tmp, "train", record, config=cfg, seed=cfg.seed)
            plot_training_curves(record, tmp / "train.png", per_check,
                                 title=f"{cfg.model.method} on {cfg.data.dataset}: kept {record['kept']} model")
    distributed.barrier()
    return record
