"""CA-I3D, 3-D coordinate attention, MPFNet scoring, the stages' losses and the STSTNet-like baseline."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurotrio.core.errors import ConfigError
from neurotrio.core.flops import count_params
from neurotrio.microexpression.attention import CoordAttention3d
from neurotrio.microexpression.baselines import STSTNet
from neurotrio.microexpression.model import CAI3D, CAI3DConfig, CollapsingConv3d, CollapsingMaxPool3d
from neurotrio.microexpression.mpfnet import Fuse, MPFNet, class_prototypes, cosine_scores
from neurotrio.microexpression.stages import (
    _adam,
    amplify_flow,
    balanced_with_amplification,
    batch_all_triplet_loss,
    batch_hard_triplet_loss,
    sample_episode,
)

SMALL = CAI3DConfig(stem_channels=8, blocks=(16, 24), pool_after=(0,))


@pytest.mark.parametrize("shape, cfg", [((3, 1, 28, 28), SMALL),
                                        ((5, 10, 64, 64), CAI3DConfig(in_channels=5, stem_channels=8, stem_stride=2,
                                                                      blocks=(16,), pool_after=(0,)))])
def test_cai3d_accepts_flow_maps_and_full_tensors_and_backprops(shape, cfg):
    net = CAI3D(CAI3DConfig(**{**cfg.__dict__, "n_classes": 3}))
    x = torch.randn(2, *shape, requires_grad=True)
    out = net(x)
    assert out.shape == (2, 3)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert net.forward_features(x).shape == (2, net.embed_dim)


def test_full_size_tensor_with_raw_config():
    from neurotrio.microexpression.model import RAW_CONFIG

    net = CAI3D(RAW_CONFIG).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 5, 10, 128, 128)).shape == (1, net.embed_dim)


def test_temporal_collapse_equals_zero_padded_3d_ops():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 1, 9, 9)
    conv = CollapsingConv3d(3, 4, 3, (2, 2, 2), padding=1)
    assert torch.allclose(conv(x), nn.Conv3d.forward(conv, x), atol=1e-6)
    pool = CollapsingMaxPool3d(3, 2, padding=1)
    assert torch.equal(pool(x), nn.MaxPool3d.forward(pool, x))


def test_coordinate_attention_gates_each_axis():
    torch.manual_seed(0)
    ca = CoordAttention3d(16).eval()
    x = torch.rand(1, 16, 4, 5, 6) + 0.1
    y = ca(x)
    assert y.shape == x.shape
    ratio = y / x                                 # = g_T · g_H · g_W, each gate in (0, 1)
    assert (ratio > 0).all() and (ratio < 1).all()
    # the gate is separable: ratio[t,h,w] · ratio[t',h',w'] == ratio[t,h,w'] · ratio[t',h',w]
    r = ratio[0, 0]
    assert torch.allclose(r[0, 1, 2] * r[3, 4, 5], r[0, 1, 5] * r[3, 4, 2], rtol=1e-4)
    assert torch.allclose(r[0, 1, 2] * r[3, 4, 5], r[3, 1, 2] * r[0, 4, 5], rtol=1e-4)


def test_config_rejects_pool_after_a_missing_block():
    with pytest.raises(ConfigError, match="pool_after=\\(3,\\)"):
        CAI3DConfig(blocks=(16, 32), pool_after=(3,))


def test_ststnet_has_the_papers_parameter_budget():
    net = STSTNet()
    assert count_params(net) == 3 * 28 + 5 * 28 + 8 * 28 + 400 * 3 + 3 + 2 * 16     # 1,683 (1,651 + BN)
    assert net(torch.randn(4, 3, 1, 28, 28)).shape == (4, 3)


def test_batch_hard_triplet_loss_by_hand():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # anchor 0: hardest positive = emb1 at √2, nearest negative = emb2 at 0 → relu(√2 − 0 + 1)
    # anchor 1: pos √2, neg min(√2, √2) → 1; anchor 2: pos 2, neg 0 → 3; anchor 3: pos 2, neg min(2, √2) → 3 − √2
    s2 = 2 ** 0.5
    expected = ((s2 + 1) + 1 + 3 + (3 - s2)) / 4
    assert batch_hard_triplet_loss(emb, labels, margin=1.0).item() == pytest.approx(expected, rel=1e-5)


def test_batch_all_triplet_loss_by_hand_and_collapse_costs_the_margin():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # the 8 triplets (a, p, n): a0 → √2+1, √2−1; a1 → 1, 1; a2 → 3, 3−√2; a3 → 1, 3−√2; sum 12
    assert batch_all_triplet_loss(emb, labels, margin=1.0).item() == pytest.approx(12 / 8, rel=1e-5)
    collapsed = torch.ones(6, 4)             # every embedding the same point: d_pos = d_neg = 0
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    assert batch_all_triplet_loss(collapsed, y, 1.0).item() == pytest.approx(1.0)
    assert batch_hard_triplet_loss(collapsed, y, 1.0).item() == pytest.approx(1.0)
    assert batch_all_triplet_loss(collapsed, torch.zeros(6, dtype=torch.long), 1.0).item() == 0.0


def test_stage_learning_rate_is_cosine_annealed_to_zero():
    from neurotrio.microexpression.stages import StageConfig

    w = nn.Parameter(torch.zeros(1))
    opt, sched = _adam([w], StageConfig(epochs=2, lr=0.1), steps_per_epoch=5)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[5] == pytest.approx(0.05) and opt.param_groups[0]["lr"] == 0.0
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    opt, sched = _adam([w], StageConfig(epochs=2, lr=0.1, cosine=False), steps_per_epoch=5)
    for _ in range(10):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_prototypes_and_mpfnet_p_combines_similarities_with_gamma():
    torch.manual_seed(0)
    emb = torch.tensor([[2.0, 0.0], [0.0, 3.0], [4.0, 0.0]])
    protos = class_prototypes(emb, torch.tensor([0, 1, 0]), 2)
    assert torch.allclose(protos, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    gfe, afe = CAI3D(SMALL), CAI3D(SMALL)
    net = MPFNet("P", gfe, afe, gamma=0.7, temperature=10.0).eval()
    x = torch.randn(6, 3, 1, 28, 28)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    net.set_prototypes(x, y, 3)
    q = torch.randn(2, 3, 1, 28, 28)
    with torch.no_grad():
        expected = cosine_scores(gfe.forward_features(q), net.protos_g) + 0.7 * cosine_scores(
            afe.forward_features(q), net.protos_a)
        assert torch.allclose(net(q), 10.0 * expected, atol=1e-5)


def test_mpfnet_c_feeds_gfe_maps_into_the_afe():
    gfe = CAI3D(SMALL)
    afe = CAI3D(CAI3DConfig(**{**SMALL.__dict__, "in_channels": 3 + 2}))
    fuse = Fuse(gfe.map_channels, 2)
    net = MPFNet("C", gfe, afe, fuse).train()
    x = torch.randn(4, 3, 1, 28, 28)
    g, a = net.embed(x)
    assert g is None and a.shape == (4, afe.embed_dim)
    a.sum().backward()
    assert gfe.stem[0][0].weight.grad is not None          # gradient reaches the GFE through the cascade
    with pytest.raises(ConfigError, match="needs gfe, afe, fuse"):
        MPFNet("C", None, None)


def test_gated_cascade_starts_as_a_plain_afe_and_learns_its_gate():
    gfe = CAI3D(SMALL)
    afe = CAI3D(CAI3DConfig(**{**SMALL.__dict__, "in_channels": 3 + 2}))
    fuse = Fuse(gfe.map_channels, 2, gate=True)
    x = torch.randn(4, 3, 1, 28, 28)
    fused = fuse(x, gfe.forward_maps(x))
    assert torch.equal(fused[:, :3], x) and torch.count_nonzero(fused[:, 3:]) == 0     # gate starts at 0
    MPFNet("C", gfe, afe, fuse).train().embed(x)[1].sum().backward()
    assert fuse.gate.grad is not None and float(fuse.gate.grad.abs()) > 0             # … and is trained


def test_fuse_dropout_drops_whole_blocks_while_training_only():
    gfe = CAI3D(SMALL)
    fuse = Fuse(gfe.map_channels, 2, drop=0.5)
    x = torch.randn(64, 3, 1, 28, 28)
    maps = gfe.forward_maps(x)
    torch.manual_seed(0)
    out = fuse.train()(x, maps)[:, 3:]
    dropped = out.flatten(1).abs().sum(1) == 0
    assert 10 < int(dropped.sum()) < 54                               # about half of the samples
    with torch.no_grad():
        again = fuse.train()(x, maps)[:, 3:]                           # no gradient: the BN re-estimation pass
    assert int((again.flatten(1).abs().sum(1) == 0).sum()) == 0          # … sees every block
    assert torch.allclose(out[~dropped], 2 * again[~dropped], atol=1e-5)  # kept blocks rescaled by 1 / (1 − p)


def test_amplification_scales_about_the_median_and_balances_classes():
    x = torch.full((3, 1, 4, 4), 0.5)
    x[:, :, 0, 0] = 0.6
    x[:, :, 1, 1] = 0.2
    amp = amplify_flow(x, 2.0)
    assert torch.allclose(amp[:, :, 0, 0], torch.full((3, 1), 0.6))     # 0.5 + 2·0.1 = 0.7, clipped to max 0.6
    assert torch.allclose(amp[:, :, 2, 2], torch.full((3, 1), 0.5))     # the median stays
    assert torch.allclose(amp[:, :, 1, 1], torch.full((3, 1), 0.2))     # 0.5 − 0.6 clipped to min 0.2
    assert torch.equal(amplify_flow(x, 1.0), x)
    xs = torch.rand(7, 3, 1, 4, 4)
    y = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    xb, yb = balanced_with_amplification(xs, y, (1.0, 3.0), torch.Generator().manual_seed(0))
    assert torch.bincount(yb).tolist() == [4, 4, 4] and torch.equal(xb[:7], xs)
    with pytest.raises(ConfigError, match="phi_range"):
        balanced_with_amplification(xs, y, (0.5, 12.0), torch.Generator())


def test_episode_support_and_query_are_disjoint_and_relabelled():
    y = torch.tensor([0] * 8 + [1] * 3 + [2] * 10)
    si, sy, qi, qy = sample_episode(y, 3, 5, 5, torch.Generator().manual_seed(1))
    assert not set(si.tolist()) & set(qi.tolist())
    assert set(sy.tolist()) == set(qy.tolist()) == {0, 1, 2}
    for j in range(3):                                  # each episode class maps to one original class
        assert len(set(y[si[sy == j]].tolist()) | set(y[qi[qy == j]].tolist())) == 1
    assert F.one_hot(sy).sum(0).max() <= 5


def test_bn_recalibration_averages_exactly_over_the_training_samples():
    torch.manual_seed(0)
    gfe = CAI3D(SMALL)
    net = MPFNet("GFE", gfe, None)
    x = torch.randn(10, 3, 1, 28, 28) * 3 + 2
    net.recalibrate_bn(x, batch_size=5)
    bn = gfe.stem[0][1]
    with torch.no_grad():
        conv_out = gfe.stem[0][0](x)
    assert torch.allclose(bn.running_mean, conv_out.mean(dim=(0, 2, 3, 4)), atol=1e-4)
    assert bn.momentum == 0.1 and not net.training


def test_standardize_uses_given_statistics():
    from neurotrio.microexpression.inputs import input_stats, standardize

    x = torch.randn(6, 3, 1, 4, 4) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1, 1) + 7
    mean, std = input_stats(x)
    z = standardize(x, mean, std)
    assert torch.allclose(z.mean(dim=(0, 2, 3, 4)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.std(dim=(0, 2, 3, 4)), torch.ones(3), atol=1e-5)
