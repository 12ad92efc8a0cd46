"""``PretrainConfig.precision``: bf16 autocast in pre-training steps only; validation and the weights stay fp32."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from neurotrio.core.errors import ConfigError
from neurotrio.core.seed import seed_everything
from neurotrio.fewshot.evaluate import DataConfig, EvalConfig, load_splits
from neurotrio.fewshot.fslsnn import FSLSNNConfig, build_model
from neurotrio.fewshot.model import BackboneConfig
from neurotrio.fewshot.train import (
    FinetuneConfig,
    PretrainConfig,
    TrainConfig,
    pretrain,
    resolve_model_config,
)


def tiny_config(precision: str) -> TrainConfig:
    return TrainConfig(
        model=FSLSNNConfig(backbone=BackboneConfig(width=0.125, time_steps=2)),
        data=DataConfig(dataset="synthetic", synthetic_classes=10, image_size=16),
        pretrain=PretrainConfig(epochs=1, batch_size=16, precision=precision),
        finetune=FinetuneConfig(episodes=0, n_way=2, k_shot=1, n_query=2),
        eval=EvalConfig(val_episodes=2, n_query=2), bn_recalibration_batches=1, device="cpu")


def conv_dtypes_in_pretraining(precision: str) -> tuple[set[torch.dtype], set[torch.dtype], list[dict]]:
    """Output dtypes of the first conv in training-mode and eval-mode calls, and the history."""
    cfg = tiny_config(precision)
    splits = load_splits(cfg.data, need=("train", "val"))
    gen = seed_everything(0)
    model = build_model(resolve_model_config(cfg, splits["train"]))
    seen: dict[bool, set[torch.dtype]] = {True: set(), False: set()}
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_hook(lambda m, i, o: seen[torch.is_grad_enabled()].add(o.dtype))
    hist = pretrain(model, splits["train"], splits["val"], cfg, torch.device("cpu"), gen)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    return seen[True], seen[False], hist


def test_bf16_pretraining_autocasts_the_steps_not_validation():
    train_dtypes, eval_dtypes, hist = conv_dtypes_in_pretraining("bf16")
    assert train_dtypes == {torch.bfloat16}  # the steps' forward ran under autocast
    assert eval_dtypes == {torch.float32}    # validation (no grad) did not
    assert len(hist) == 1 and torch.isfinite(torch.tensor(hist[0]["train_loss"]))


def test_fp32_pretraining_is_the_default_and_stays_fp32():
    assert PretrainConfig().precision == "fp32"
    train_dtypes, _, _ = conv_dtypes_in_pretraining("fp32")
    assert train_dtypes == {torch.float32}


def test_unknown_precision_is_one_config_error():
    cfg = tiny_config("fp16")
    splits = load_splits(cfg.data, need=("train", "val"))
    model = build_model(resolve_model_config(cfg, splits["train"]))
    with pytest.raises(ConfigError, match="pretrain.precision must be 'fp32' or 'bf16', got 'fp16'"):
        pretrain(model, splits["train"], splits["val"], cfg, torch.device("cpu"), torch.Generator())


def test_channels_last_pretraining_trains_the_model_and_restores_the_layout():
    cfg = tiny_config("bf16")
    cfg = replace(cfg, pretrain=replace(cfg.pretrain, channels_last=True))
    splits = load_splits(cfg.data, need=("train", "val"))
    gen = seed_everything(0)
    model = build_model(resolve_model_config(cfg, splits["train"]))
    conv = [m for m in model.modules() if isinstance(m, nn.Conv2d)][1]  # in_channels > 1: layouts differ
    before = conv.weight.detach().clone()
    layouts = set()
    conv.register_forward_hook(lambda m, i, o: layouts.add(
        (torch.is_grad_enabled(), m.weight.is_contiguous(memory_format=torch.channels_last))))
    hist = pretrain(model, splits["train"], splits["val"], cfg, torch.device("cpu"), gen)
    assert (True, True) in layouts and (True, False) not in layouts  # every training step channels-last
    assert conv.weight.is_contiguous() and not conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(conv.weight.detach(), before)  # the optimizer updated the model's own weights
    assert torch.isfinite(torch.tensor(hist[0]["train_loss"]))
