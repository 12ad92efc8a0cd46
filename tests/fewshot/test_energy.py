"""Energy counts worked out by hand (4.6 pJ per MAC, 0.9 pJ per accumulate)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neurotrio.fewshot.energy import EnergyCost, compare_energy, energy_ratio, estimate_energy, layer_macs


class Step(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).float()


def test_two_spikes_with_fan_out_five_cost_nine_pj():
    layer = nn.Linear(4, 5, bias=False)
    rep = estimate_energy(layer, torch.tensor([[1.0, 0.0, 1.0, 0.0]]), spiking=True)
    (row,) = rep.layers
    assert row.kind == "ac" and row.macs == 20 and row.firing_rate == 0.5
    assert row.sops == 10
    assert rep.total_pj == pytest.approx(9.0)
    ann = estimate_energy(layer, torch.tensor([[1.0, 0.0, 1.0, 0.0]]), spiking=False)
    assert ann.total_pj == pytest.approx(20 * 4.6)


def test_first_real_valued_layer_costs_macs_and_spiking_layer_sops():
    first = nn.Linear(3, 4, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]]))
    net = nn.Sequential(first, Step(), nn.Linear(4, 5, bias=False))
    x = torch.tensor([[0.5, 0.2, 0.1]])  # hidden spikes [1, 0, 1, 0]
    snn = estimate_energy(net, x, spiking=True)
    assert [r.kind for r in snn.layers] == ["mac", "ac"]
    assert snn.total_pj == pytest.approx(12 * 4.6 + 10 * 0.9)
    ann = estimate_energy(net, x, spiking=False)
    assert ann.total_pj == pytest.approx((12 + 20) * 4.6)
    assert energy_ratio(ann, snn) == pytest.approx(147.2 / 64.2)


def test_counts_are_per_sample_and_conv_macs_by_hand():
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    out = conv(torch.zeros(1, 1, 4, 4))
    assert layer_macs(conv, out) == 2 * 16 * 9
    x = (torch.arange(2 * 16).view(2, 1, 4, 4) % 4 == 0).float()  # a quarter of the inputs spike
    rep = estimate_energy(conv, x, spiking=True)
    assert rep.layers[0].macs == 288 and rep.layers[0].firing_rate == 0.25
    assert rep.total_pj == pytest.approx(0.25 * 288 * 0.9)


def test_custom_costs_and_table():
    rep = estimate_energy(nn.Linear(4, 5, bias=False), torch.tensor([[1.0, 0, 1, 0]]),
                          cost=EnergyCost(e_mac_pj=1.0, e_ac_pj=0.1))
    assert rep.total_pj == pytest.approx(1.0)
    assert "| total |" in rep.table()


def test_snn_backbone_uses_accumulates_after_the_first_layer():
    from neurotrio.fewshot.fslsnn import FSLSNNConfig, build_model
    from neurotrio.fewshot.model import BackboneConfig, twin_config

    cfg = FSLSNNConfig(backbone=BackboneConfig(width=0.125, time_steps=2), method="protonet")
    snn = build_model(cfg)
    ann = build_model(FSLSNNConfig(backbone=twin_config(cfg.backbone, 1), method="protonet"))
    x = torch.rand(4, 1, 28, 28)
    s, a, ratio = compare_energy(snn, ann, x)
    assert s.layers[0].kind == "mac" and all(r.kind == "ac" for r in s.layers[1:])
    assert all(r.kind == "mac" for r in a.layers)
    # the twin runs once (T=1); the SNN's dense-equivalent MACs are T times larger
    assert s.total_macs == pytest.approx(2 * a.total_macs)
    assert 0 < max(r.firing_rate for r in s.layers[1:]) <= 1
    assert ratio == pytest.approx(a.total_pj / s.total_pj)


def test_paper_rule_counts_sparse_real_valued_layers_as_sops_strict_as_macs():
    """After the first layer the paper's rule charges accumulates at the input's non-zero rate, even for
    real-valued inputs (like the SFE's correlation volume); the strict rule charges them dense MACs."""
    first = nn.Linear(2, 4, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[2.0, 0], [-1, 0], [0, -1], [0, -3]]))
    net = nn.Sequential(first, nn.ReLU(), nn.Linear(4, 5, bias=False))
    x = torch.tensor([[1.5, 0.5]])  # hidden [3, 0, 0, 0]: real-valued, a quarter non-zero
    paper = estimate_energy(net, x, spiking=True, rule="paper")
    strict = estimate_energy(net, x, spiking=True, rule="strict")
    assert [r.kind for r in paper.layers] == ["mac", "ac"] and paper.layers[1].sops == 5
    assert paper.total_pj == pytest.approx(8 * 4.6 + 5 * 0.9)
    assert [r.kind for r in strict.layers] == ["mac", "mac"]
    assert strict.total_pj == pytest.approx((8 + 20) * 4.6)
    with pytest.raises(ValueError, match="rule"):
        estimate_energy(net, x, rule="loose")
