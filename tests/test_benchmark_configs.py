"""The benchmarks' settings, the GPU-scale ones included, build models that run: a config error would
otherwise surface only on the (rarely lent) GPU machine. Each is one forward pass on 2 random inputs."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch


@pytest.mark.parametrize("name", ["fewshot_omniglot", "fewshot_cub", "fewshot_dvs"])
@pytest.mark.parametrize("full", [False, True])
def test_fewshot_benchmark_configs_build_and_run(name, full, tmp_path):
    import importlib

    from neurotrio.fewshot.fslsnn import build_model

    cfg = importlib.import_module(f"benchmarks.{name}").config(full, str(tmp_path))
    bb = cfg.model.backbone
    events = cfg.data.dataset == "omniglot-dvs"
    channels = 2 if events else (3 if cfg.data.dataset == "cub" else 1)
    bb = replace(bb, in_channels=channels)
    net = build_model(replace(cfg.model, backbone=bb, n_base_classes=7)).eval()
    size = cfg.data.image_size
    x = torch.rand(2, bb.time_steps, channels, size, size) if events else torch.rand(2, channels, size, size)
    with torch.no_grad():
        logits = net(x)
        out = net.episode(x[:1], torch.tensor([0]), x[1:], 1)
    assert logits.shape == (2, bb.time_steps, 7) and torch.isfinite(logits).all()
    assert out.logits.shape[0] == 1 and cfg.pretrain.grad_clip is not None


@pytest.mark.parametrize("large", [False, True])
def test_mer_benchmark_configs_build_and_run(large):
    from benchmarks.mer_loso import configs

    from neurotrio.microexpression.model import CAI3D

    backbone = replace(configs(large).backbone, in_channels=3, n_classes=3)
    net = CAI3D(backbone).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 1, 28, 28))  # the composite's flow maps: 3 channels, T = 1
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def test_mer_explore_balancing_indices_match_the_library_copies():
    """The study's subject labels of balancing copies line up with the rows the library builds."""
    from benchmarks.mer_explore import _balanced_indices

    from neurotrio.microexpression.stages import balanced_with_amplification

    x = torch.rand(9, 3, 1, 5, 5)
    y = torch.tensor([0, 0, 0, 0, 0, 1, 1, 2, 2])
    gen = torch.Generator().manual_seed(3)
    twin = torch.Generator().set_state(gen.get_state())
    rows = _balanced_indices(y, twin)
    xb, yb = balanced_with_amplification(x, y, (1.0, 1.0), gen)
    assert torch.equal(yb, y[rows]) and torch.allclose(xb, x[rows], atol=1e-6)
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=twin))   # generators in step
