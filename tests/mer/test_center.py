"""Per-sample centring of flow maps (``inputs.center_flow``): the rule, and that predict applies it."""

from __future__ import annotations

from dataclasses import replace

import torch

from neurotrio.microexpression.final import train_final
from neurotrio.microexpression.inputs import center_flow, prepare_inputs
from neurotrio.microexpression.predict import load_model, predict_sample, sample_tensor
from neurotrio.microexpression.train import LosoConfig
from tests.mer.synth_layouts import make_composite
from tests.mer.test_train import TINY


def test_center_flow_moves_each_channels_median_to_zero():
    x = torch.rand(4, 3, 1, 7, 7) + torch.arange(3.0)[None, :, None, None, None]   # channel levels 0, 1, 2
    before = x.clone()
    c = center_flow(x)
    assert torch.allclose(c.flatten(2).median(2).values, torch.zeros(4, 3))
    assert torch.allclose(c - x, (c - x)[..., :1, :1].expand_as(x))                 # one shift per map
    assert torch.equal(x, before)                                                    # input untouched


def test_centred_model_records_the_rule_and_predict_applies_it(tmp_path):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    cfg = LosoConfig(data=str(data), variants=("P",), model=replace(TINY, center=True))
    model_dir = train_final(cfg, tmp_path / "model")
    net, meta = load_model(model_dir)
    assert meta["input_center"] is True
    png = next((data / "flow_uvos_28").glob("*.png"))
    x = sample_tensor(png, None, None, None)[None]
    mean, std = torch.tensor(meta["input_mean"]), torch.tensor(meta["input_std"])
    want = torch.softmax(net(prepare_inputs(x, mean, std, True)), 1)[0]
    plain = torch.softmax(net(prepare_inputs(x, mean, std, False)), 1)[0]
    got = torch.tensor(list(predict_sample(model_dir, png).values()))
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(want, plain, atol=1e-4)          # the rule changes the input the model sees


def test_baseline_model_is_never_centred(tmp_path):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    cfg = LosoConfig(data=str(data), variants=("ststnet",), model=replace(TINY, center=True))
    _, meta = load_model(train_final(cfg, tmp_path / "model"))
    assert meta["input_center"] is False
