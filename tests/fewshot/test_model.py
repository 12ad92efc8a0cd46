"""Backbone, SFE, CFC and both few-shot models: shapes, gradients, state reset, LIF dynamics."""

from __future__ import annotations

import pytest
import torch

from neurotrio.core.errors import ConfigError
from neurotrio.fewshot.cfc import CFC, CFCConfig, correlation_map
from neurotrio.fewshot.fslsnn import FSLSNNConfig, build_model, class_means
from neurotrio.fewshot.model import BackboneConfig, SpikingVGG, feature_shape, make_lif
from neurotrio.fewshot.sfe import SFE, SFEConfig

TINY = BackboneConfig(width=0.125, time_steps=2)
VARIANTS = [(m, n, s) for m in ("fslsnn", "protonet") for n in ("lif", "relu") for s in (True, False)
            if not (m == "protonet" and not s)]


def test_lif_is_tet_lif_with_triangle_surrogate():
    lif = make_lif(TINY)
    # decay 0.5 without input decay: H2 = 0.5 * 0.6 + 0.6 = 0.9 (< 1, silent); 0.5 * 0.8 + 0.8 = 1.2 fires
    x = torch.tensor([[[0.6, 0.8]], [[0.6, 0.8]]])  # (T=2, B=1, 2 neurons)
    assert lif(x).squeeze(1).tolist() == [[0.0, 0.0], [0.0, 1.0]]
    lif.reset()
    # triangle surrogate: d spike / d v = max(0, 1 - |v - 1|)
    v = torch.tensor([[[0.5, 1.2, 2.5]]], requires_grad=True)
    lif(v).sum().backward()
    assert v.grad.squeeze().tolist() == pytest.approx([0.5, 0.8, 0.0])


def test_backbone_shapes_static_and_events():
    net = SpikingVGG(TINY)
    out = net(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, 2, 64, 2, 2) and (3, 2, *feature_shape(TINY, (28, 28))) == out.shape
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    ev = SpikingVGG(BackboneConfig(width=0.125, time_steps=3, in_channels=2))
    assert ev(torch.rand(2, 3, 2, 16, 16)).shape == (2, 3, 64, 1, 1)
    with pytest.raises(ConfigError, match="T=3"):
        ev(torch.rand(2, 4, 2, 16, 16))


def test_state_is_reset_between_calls():
    net = SpikingVGG(TINY).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        a, b = net(x), net(x)
    assert torch.equal(a, b)


def test_sfe_residual_and_shape():
    for mode in ("fold", "step"):
        sfe = SFE(16, 2, SFEConfig(time_mode=mode))
        f0 = torch.rand(3, 2, 16, 6, 6)
        assert sfe(f0).shape == f0.shape
        torch.nn.init.zeros_(sfe.up[1].weight)  # F1 = 0 -> F = F0
        sfe.eval()
        assert torch.allclose(sfe(f0), f0)
    with pytest.raises(ConfigError, match="kernel"):
        SFE(16, 2, SFEConfig(kernel=(4, 4)))


def test_cfc_logits_and_self_match():
    q = torch.randn(4, 2, 8, 3, 3)
    protos = torch.randn(3, 2, 8, 3, 3)
    protos[1] = q[0]
    cfc = CFC(CFCConfig(temperature=0.5))
    logits = cfc(q, protos)
    assert logits.shape == (4, 2, 3)
    assert torch.allclose(logits[0, :, 1], torch.full((2,), 2.0), atol=1e-5)  # cos = 1, / 0.5
    assert logits[0].argmax(-1).tolist() == [1, 1]
    corr = correlation_map(q[:, 0], protos[:, 0])
    assert corr.shape == (4, 3, 9, 9) and corr.abs().max() <= 1 + 1e-5


def test_class_means():
    x = torch.tensor([[1.0], [3.0], [10.0]])
    assert class_means(x, torch.tensor([0, 0, 1]), 2).squeeze().tolist() == [2.0, 10.0]
    with pytest.raises(ConfigError, match="cover"):
        class_means(x, torch.tensor([0, 0, 0]), 2)


@pytest.mark.parametrize(("method", "neuron", "sfe"), VARIANTS)
def test_every_model_forward_backward(method, neuron, sfe):
    cfg = FSLSNNConfig(backbone=BackboneConfig(width=0.125, time_steps=2, neuron=neuron), method=method,
                       use_sfe=sfe, n_base_classes=7)
    model = build_model(cfg)
    out = model.episode(torch.rand(10, 1, 28, 28), torch.arange(5).repeat(2), torch.rand(6, 1, 28, 28), n_way=5)
    assert out.logits.shape == (6, 2, 5) and out.query_emb.shape == (6, 64) and out.proto_emb.shape == (5, 64)
    out.logits.sum().backward()
    assert model.backbone.features[0][0].weight.grad.abs().sum() > 0
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 2, 7)


def test_bad_configs_are_rejected():
    with pytest.raises(ConfigError, match="neuron"):
        SpikingVGG(BackboneConfig(neuron="tanh"))
    with pytest.raises(ConfigError, match="method"):
        build_model(FSLSNNConfig(method="maml"))
    with pytest.raises(ConfigError, match="no pre-training head"):
        build_model(FSLSNNConfig(backbone=TINY))(torch.rand(1, 1, 28, 28))
