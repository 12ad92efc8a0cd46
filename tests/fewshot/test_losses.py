"""TET and InfoNCE against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from neurotrio.fewshot.losses import LossConfig, fewshot_loss, info_nce, tet_loss, tet_predict


def test_tet_uniform_outputs_is_ln2_plus_mse_to_one():
    # two classes, equal logits 0 at both steps: CE = ln 2 each step; MSE to 1.0 = 1.0
    out = torch.zeros(1, 2, 2)
    assert tet_loss(out, torch.tensor([0]), lam=0.0).item() == pytest.approx(math.log(2), abs=1e-6)
    want = 0.999 * math.log(2) + 0.001 * 1.0
    assert tet_loss(out, torch.tensor([0])).item() == pytest.approx(want, abs=1e-6)


def test_tet_averages_cross_entropy_over_time_steps():
    # t0: logits [ln 3, 0] -> p(y=0) = 3/4, CE = ln(4/3); t1: [0, 0] -> CE = ln 2
    out = torch.tensor([[[math.log(3), 0.0], [0.0, 0.0]]])
    ce = (math.log(4 / 3) + math.log(2)) / 2
    mse = ((math.log(3) - 1) ** 2 + 3 * 1.0) / 4
    got = tet_loss(out, torch.tensor([0]), lam=1e-3, phi=1.0).item()
    assert got == pytest.approx(0.999 * ce + 0.001 * mse, abs=1e-6)
    # the mean over T is not the CE of the mean logits
    assert got != pytest.approx(torch.nn.functional.cross_entropy(out.mean(1), torch.tensor([0])).item(), abs=1e-3)


def test_tet_prediction_is_mean_over_time():
    out = torch.tensor([[[1.0, 0.0], [0.0, 3.0]]])
    assert torch.equal(tet_predict(out), torch.tensor([[0.5, 1.5]]))


def test_info_nce_by_hand():
    q = torch.tensor([[1.0, 0.0]])
    protos = torch.tensor([[2.0, 0.0], [0.0, 5.0]])  # cosine ignores the norms: sims [1, 0]
    assert info_nce(q, protos, torch.tensor([0]), temperature=1.0).item() == pytest.approx(
        math.log(1 + math.exp(-1)), abs=1e-6)
    assert info_nce(q, protos, torch.tensor([0]), temperature=0.5).item() == pytest.approx(
        math.log(1 + math.exp(-2)), abs=1e-6)
    # the wrong class as target: -log(e^0 / (e^2 + e^0)) at tau 0.5
    assert info_nce(q, protos, torch.tensor([1]), temperature=0.5).item() == pytest.approx(
        math.log(1 + math.exp(2)), abs=1e-6)


def test_fewshot_loss_weights_combine_linearly():
    torch.manual_seed(0)
    logits, q, p, y = torch.randn(4, 2, 3), torch.randn(4, 8), torch.randn(3, 8), torch.tensor([0, 1, 2, 0])
    cfg = LossConfig(w_tet=2.0, w_nce=0.25, nce_temperature=0.2)
    want = 2.0 * tet_loss(logits, y) + 0.25 * info_nce(q, p, y, 0.2)
    assert fewshot_loss(logits, q, p, y, cfg).item() == pytest.approx(want.item(), rel=1e-6)
    only_tet = fewshot_loss(logits, q, p, y, LossConfig(w_nce=0.0))
    assert only_tet.item() == pytest.approx(tet_loss(logits, y).item(), rel=1e-6)
