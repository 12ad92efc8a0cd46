"""The Omniglot recipe's pieces: rotated training classes, frozen batch norm in episodes, 7×7 maps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neurotrio.core.errors import ConfigError
from neurotrio.fewshot.evaluate import DataConfig, TensorSet, load_splits, rotate_classes, train_rotations
from neurotrio.fewshot.fslsnn import FSLSNNConfig, build_model
from neurotrio.fewshot.model import BackboneConfig, feature_shape
from neurotrio.fewshot.train import EpisodeForward, TrainConfig


def test_rotations_make_new_training_classes_only():
    img = torch.zeros(1, 1, 4, 4)
    img[0, 0, 0, 3] = 1.0  # top-right pixel
    ts = TensorSet(img.repeat(2, 1, 1, 1), torch.tensor([0, 2]), ["a", "b", "c"])
    rot = rotate_classes(ts, (0, 90, 180, 270))
    assert rot.targets.tolist() == [0, 2, 3, 5, 6, 8, 9, 11] and rot.n_classes == 8
    assert rot.images[2, 0, 0, 0] == 1.0  # 90° counter-clockwise: top-right → top-left
    assert rot.images[4, 0, 3, 0] == 1.0 and rot.images[6, 0, 3, 3] == 1.0
    assert rot.class_names[3:6] == ["a/rot90", "b/rot90", "c/rot90"]
    s = load_splits(DataConfig(dataset="synthetic", synthetic_classes=30, rotations=(0, 180)))
    assert s["train"].n_classes == 36 and s["val"].n_classes == 6 and s["test"].n_classes == 6
    assert train_rotations(DataConfig(dataset="omniglot")) == (0,)
    with pytest.raises(ConfigError, match="rotations"):
        train_rotations(DataConfig(rotations=(0, 45)))


def test_default_is_the_best_validated_recipe_with_a_5x5_map():
    """Width 0.5, T = 2, 20×20 inputs, strides on layers 2 and 4 → the SFE/CFC see 5×5 (issue 9's minimum);
    step-mode SFE with reduction 16; 8 pre-training epochs; clipped fine-tuning (docs/fewshot.md)."""
    cfg = TrainConfig()
    bb, size = cfg.model.backbone, cfg.data.image_size
    assert (bb.width, bb.time_steps, bb.stride_layers, size) == (0.5, 2, (2, 4), 20)
    assert feature_shape(bb, (size, size))[1:] == (5, 5)
    assert (cfg.model.sfe.time_mode, cfg.model.sfe.reduction) == ("step", 16)
    assert cfg.pretrain.epochs == 8 and cfg.finetune.grad_clip == 5.0 and cfg.data.rotations == (0,)
    assert BackboneConfig().stride_layers == (2, 4, 6, 8)  # the paper's VGGSNNwoAP stays available


@pytest.mark.parametrize("freeze", [True, False])
def test_frozen_batch_norm_in_episodes(freeze):
    torch.manual_seed(0)
    model = build_model(FSLSNNConfig(backbone=BackboneConfig(width=0.125, time_steps=2, stride_layers=(2, 4))))
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    before = [m.running_mean.clone() for m in bns]
    wrapped = EpisodeForward(model, freeze_bn=freeze).train()
    out = wrapped(torch.rand(5, 1, 28, 28), torch.arange(5), torch.rand(10, 1, 28, 28), 5)
    out.logits.sum().backward()
    same = all(torch.equal(b, m.running_mean) for b, m in zip(before, bns))
    assert same is freeze
    assert all(p.grad is not None for p in model.backbone.parameters())  # frozen statistics, trained weights
