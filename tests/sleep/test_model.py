"""ULW-SleepNet: parameter and FLOP counts from SYSTEMS.md §1, shapes, Keras semantics, the fused form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neurotrio.core.errors import ConfigError
from neurotrio.core.flops import count_flops, count_params
from neurotrio.sleep.model import (
    SleepModel,
    ULWSleepNet,
    ULWSleepNetConfig,
    build_model,
    load_model,
    model_summary,
    save_model,
)


def randomize_bn(net: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial batch-norm statistics, so that folding them is actually tested."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 2 - 1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return net


@pytest.mark.parametrize(("n_chans", "expected"), [(1, 7193), (2, 9241), (3, 11289), (4, 13337), (10, 25625)])
def test_trainable_parameters_match_the_reference(n_chans: int, expected: int) -> None:
    net = ULWSleepNet(ULWSleepNetConfig(n_chans=n_chans))
    assert count_params(net) == expected


def test_paper_parameter_count_13337_and_untrained_bn_statistics() -> None:
    net = ULWSleepNet()
    assert count_params(net) == 13337
    running = sum(b.numel() for n, b in net.named_buffers() if "running" in n)
    assert running == 224  # batch-norm statistics: not trainable, not counted


def test_flops_at_four_channels_match_the_paper_counting_rule() -> None:
    net = ULWSleepNet().eval()
    flops = count_flops(net.set_dense_product(False), torch.zeros(1, 4, 3000))  # the literal computation
    assert abs(flops.macs - 3.498e6) / 3.498e6 < 0.01
    assert abs(flops.total - 7.88e6) / 7.88e6 < 0.01
    assert net.set_dense_product(True).flops() == flops  # the helper counts the same, whatever the mode


def test_lengths_follow_keras_same_padding_and_pooling() -> None:
    net = ULWSleepNet(ULWSleepNetConfig(n_chans=2)).eval()
    lengths = []
    for block in net.blocks:
        block.register_forward_hook(lambda _m, _i, out: lengths.append(out.shape[-1]))
    assert net(torch.randn(3, 2, 3000)).shape == (3, 5)
    assert lengths == [750, 188, 47]


def test_separable_conv_is_depthwise_without_bias_then_pointwise_with_bias() -> None:
    conv = ULWSleepNet().blocks[1].conv1
    assert conv.depthwise.groups == 8 and conv.depthwise.bias is None
    assert conv.pointwise.kernel_size == (1,) and conv.pointwise.bias is not None


def test_channels_share_one_extractor() -> None:
    """Swapping two channels only permutes their feature blocks: the extractor is shared."""
    net = ULWSleepNet(ULWSleepNetConfig(n_chans=2)).eval()
    x = torch.randn(2, 2, 3000)
    f = net.forward_features(x)
    g = net.forward_features(x.flip(1))
    torch.testing.assert_close(f[:, :32], g[:, 32:])


@pytest.mark.parametrize(("n_chans", "epoch_s"), [(1, 30.0), (4, 30.0), (2, 29.99)])
def test_fused_model_equals_the_training_form(n_chans: int, epoch_s: float) -> None:
    """Also an odd epoch length (2999 samples), where the even/odd first-layer shortcut does not apply."""
    torch.manual_seed(1)
    cfg = ULWSleepNetConfig(n_chans=n_chans, epoch_s=epoch_s)
    net = randomize_bn(ULWSleepNet(cfg)).eval()
    net.in_center.fill_(3.0)
    net.in_scale.fill_(20.0)
    x = torch.randn(7, n_chans, cfg.n_times) * 30
    with torch.no_grad():
        assert (net.fused()(x) - net(x)).abs().max() < 1e-5


def test_dropout_is_active_only_in_training() -> None:
    torch.manual_seed(0)
    net = ULWSleepNet()
    x = torch.randn(4, 4, 3000)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


def test_wrong_input_shape_is_refused_with_the_expected_shape() -> None:
    with pytest.raises(ConfigError, match=r"\(batch, 4, 3000\)"):
        ULWSleepNet()(torch.zeros(2, 3, 3000))
    with pytest.raises(ConfigError, match="3000"):
        ULWSleepNet().fused()(torch.zeros(2, 4, 2999))


def test_config_rejects_contradictions() -> None:
    with pytest.raises(ConfigError, match="n_chans"):
        ULWSleepNetConfig(n_chans=0)
    with pytest.raises(ConfigError, match="whole number"):
        ULWSleepNetConfig(sfreq_hz=100.5, epoch_s=1.0)
    with pytest.raises(ConfigError, match="Known"):
        build_model(n_channels=3)
    assert build_model(n_chans=2).config.n_chans == 2


def test_save_and_load_round_trip(tmp_path) -> None:
    torch.manual_seed(3)
    net = randomize_bn(ULWSleepNet(ULWSleepNetConfig(n_chans=2))).eval()
    net.in_scale.copy_(torch.tensor([10.0, 40.0]))
    path = save_model(SleepModel(net, ("A", "B"), "fixed"), tmp_path / "m.safetensors", trained_on="unit test")
    loaded = load_model(path)
    assert loaded.channels == ("A", "B") and loaded.normalization == "fixed"
    assert loaded.metadata["trained_on"] == "unit test"
    x = torch.randn(3, 2, 3000)
    with torch.no_grad():
        torch.testing.assert_close(loaded.net(x), net(x))
    text = model_summary(path)
    assert "9,241" in text and "A, B" in text


def test_dense_product_form_equals_depthwise_then_pointwise() -> None:
    torch.manual_seed(4)
    net = ULWSleepNet(ULWSleepNetConfig(n_chans=2)).train()
    x = torch.randn(3, 2, 3000)
    torch.manual_seed(9)
    fast = net(x)
    fast.sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    for m in net.modules():
        if hasattr(m, "dense_product"):
            m.dense_product = False
    torch.manual_seed(9)  # the same dropout masks
    slow = net(x)
    slow.sum().backward()
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    for g, p in zip(grads, net.parameters()):
        torch.testing.assert_close(g, p.grad, atol=1e-4, rtol=1e-4)
