"""A small, explicit training loop shared by the systems.

``fit`` trains for a fixed number of epochs with a progress bar, optional per-epoch validation (the
best-validation weights are restored at the end when ``select`` is given; never pass test data here),
atomic checkpoints every epoch and exact resume. Systems with their own step (episodic few-shot,
triplet loss) pass ``step``; the default is supervised cross-entropy on ``(x, y)`` batches.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neurotrio.core import distributed
from neurotrio.core.checkpoint import load_training_state, save_training_state, set_rng_state

log = logging.getLogger(__name__)

Step = Callable[[nn.Module, Any, torch.device], torch.Tensor]


def classification_step(loss_fn: nn.Module | None = None) -> Step:
    """The default step: ``loss_fn(model(x), y)`` on an ``(x, y)`` batch.

    Under torchrun (DDP, each rank its share of the global batch) a class-weighted cross-entropy is
    normalised by the global batch's weight sum, so that DDP's gradient average equals one process's
    weighted mean; a plain mean needs no correction for equal shares.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    weight = getattr(loss_fn, "weight", None) if isinstance(loss_fn, nn.CrossEntropyLoss) else None

    def step(model: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
        x, y = batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)
        if weight is None or not distributed.is_distributed():
            return loss_fn(model(x), y)
        total = distributed.all_reduce_sum(weight[y].sum().detach())
        summed = nn.functional.cross_entropy(model(x), y, weight=weight, reduction="sum",
                                             label_smoothing=loss_fn.label_smoothing)
        return summed * distributed.world_size() / total

    return step


@dataclass
class History:
    """Per-epoch records: ``{"epoch", "train_loss", **validation metrics}``."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None


def fit(
    model: nn.Module,
    train_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device,
    step: Step | None = None,
    scheduler: Any = None,
    scheduler_per_batch: bool = False,
    validate: Callable[[nn.Module], dict[str, float]] | None = None,
    select: str | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    desc: str = "train",
    config: dict[str, Any] | None = None,
    data_parallel: bool = True,
    max_grad_norm: float | None = None,
) -> History:
    """Train ``model`` in place and return its history.

    Args:
        validate: called after each epoch with the (unwrapped) model; returns metrics (with ``progress``,
            printed as one line per epoch on rank 0).
        select: a key of ``validate``'s metrics; the epoch maximising it is restored at the end.
        checkpoint: path of the training-state file written atomically after every epoch.
        resume: continue from ``checkpoint`` if it exists (model, optimizer, scheduler, RNG, epoch).
        data_parallel: under torchrun, wrap in DistributedDataParallel (ranks share one training). Pass
            False when each rank trains its own job (folds spread across ranks); each then checkpoints.
        max_grad_norm: clip the gradients' global L2 norm to this before each step (None: no clipping).
    """
    from tqdm.auto import tqdm

    step = step or classification_step()
    model.to(device)
    net = distributed.wrap_model(model, device) if data_parallel else model
    history, start, best, best_state = History(), 0, float("-inf"), None
    loader_gen = getattr(train_loader, "generator", None)  # the shuffling stream must resume too
    if resume and checkpoint and Path(checkpoint).exists():
        state = load_training_state(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        if loader_gen is not None and state.get("loader_rng") is not None:
            loader_gen.set_state(state["loader_rng"])
        start, history.epochs = int(state["epoch"]), list(state["history"])
        history.best_epoch = state.get("best_epoch")
        best = float(state.get("best_value", float("-inf")))
        best_state = state.get("best_model")
        log.info("resumed %s at epoch %d", checkpoint, start)
    show = progress and distributed.is_main()
    for epoch in range(start, epochs):
        net.train()
        sampler = getattr(train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        total, count = 0.0, 0
        bar = tqdm(train_loader, desc=f"{desc} {epoch + 1}/{epochs}", leave=False, disable=not show)
        for batch in bar:
            optimizer.zero_grad(set_to_none=True)
            loss = step(net, batch, device)
            loss.backward()
            if max_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            if scheduler is not None and scheduler_per_batch:
                scheduler.step()
            total += float(loss.detach())
            count += 1
            bar.set_postfix(loss=f"{total / count:.4f}")
        if scheduler is not None and not scheduler_per_batch:
            scheduler.step()
        sums = torch.tensor([total, count], dtype=torch.float64)
        sums = distributed.all_reduce_sum(sums) if data_parallel else sums
        record = {"epoch": epoch + 1, "train_loss": float(sums[0] / max(float(sums[1]), 1.0))}
        if validate is not None:
            model.eval()
            record.update(validate(model))
            if select is not None and record[select] > best:
                best, history.best_epoch = float(record[select]), epoch + 1
                best_state = copy.deepcopy(model.state_dict())
        history.epochs.append(record)
        if show and validate is not None:  # one line per epoch, kept above the progress bar
            tqdm.write(f"{desc} epoch {epoch + 1}/{epochs}: " + " ".join(
                f"{k} {v:.4f}" for k, v in record.items() if k != "epoch")
                + (f" (best so far: epoch {history.best_epoch})" if select is not None else ""))
        if checkpoint and (distributed.is_main() or not data_parallel):
            save_training_state(
                checkpoint, model=model.state_dict(), optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict() if scheduler is not None else None, epoch=epoch + 1,
                history=history.epochs, best_epoch=history.best_epoch, best_value=best, best_model=best_state,
                config=config or {}, loader_rng=loader_gen.get_state() if loader_gen is not None else None,
            )
    if select is not None and best_state is not None:
        model.load_state_dict(best_state)
    return history


@torch.no_grad()
def predict_proba(model: nn.Module, loader: Iterable, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities and labels over an ``(x, y)`` loader, in loader order."""
    model.eval().to(device)
    probs, labels = [], []
    for batch in loader:
        probs.append(torch.softmax(model(batch[0].to(device)), dim=-1).cpu())
        labels.append(batch[1])
    return torch.cat(probs), torch.cat(labels)
