"""Faults found by trying the MER commands as a new user (session 6): results.md's Δ to the baseline,
bad settings refused in one line, a final model with 0 stage-3 episodes, old model folders."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from neurotrio.cli import main
from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.augment import AugmentConfig
from neurotrio.microexpression.final import train_final
from neurotrio.microexpression.inputs import prepare_inputs
from neurotrio.microexpression.predict import load_model, predict_sample, sample_tensor
from neurotrio.microexpression.report import results_markdown, summarize
from neurotrio.microexpression.stages import EpisodeConfig, StageConfig
from neurotrio.microexpression.train import LosoConfig, MPFNetConfig
from tests.mer.synth_layouts import make_composite
from tests.mer.test_train import TINY


def _records() -> list[dict]:
    recs = []
    for s in range(4):                       # 4 subjects × 3 samples; P right on 10, baseline on 7
        for j in range(3):
            i = 3 * s + j
            recs.append({"fold": s, "subject": f"s{s}", "database": "casme2", "label": j,
                         "pred_P": j if i not in (1, 5) else 0, "pred_ststnet": j if i % 3 != 1 or i == 4 else 2})
    return recs


def test_results_md_shows_the_difference_to_the_baseline():
    variants = ("P", "ststnet")
    m = summarize(_records(), variants, ("negative", "positive", "surprise"))
    m["_run"] = {"folds": 4, "samples_tested": 12, "wall_s": 1.0, "device": "cpu",
                 "classes": ["negative", "positive", "surprise"]}
    md = results_markdown(m, SimpleNamespace(variants=variants, dataset="composite"))
    d = m["P"]["vs_baseline"]
    assert d["uf1"]["diff"] == pytest.approx(m["P"]["pooled"]["uf1"] - m["ststnet"]["pooled"]["uf1"])
    row_p = next(line for line in md.splitlines() if line.startswith("| P |"))
    row_b = next(line for line in md.splitlines() if line.startswith("| ststnet |"))
    assert f"{d['uf1']['diff']:+.3f} [{d['uf1']['lo']:+.3f}, {d['uf1']['hi']:+.3f}] / {d['uar']['diff']:+.3f}" in row_p
    assert row_b.rstrip().endswith("| - |")
    assert "Δ UF1 vs baseline" in md and "bootstrap" in md
    m2 = summarize(_records(), ("P",), ("negative", "positive", "surprise"))   # no baseline: no Δ column
    m2["_run"] = m["_run"]
    assert "Δ" not in results_markdown(m2, SimpleNamespace(variants=("P",), dataset="composite"))


@pytest.mark.parametrize("bad", [dict(fuse_dropout=1.5), dict(fuse_dropout=-0.1), dict(fuse_dropout=1.0),
                                 dict(temperature=0.0), dict(gamma=math.nan),
                                 dict(gfe=StageConfig(epochs=0)), dict(afe=StageConfig(epochs=-1)),
                                 dict(baseline=StageConfig(batch_size=0)), dict(meta=EpisodeConfig(episodes=-1)),
                                 dict(meta=EpisodeConfig(k_shot=0)), dict(meta=EpisodeConfig(n_query=0)),
                                 dict(gfe=StageConfig(lr=-1.0)), dict(afe=StageConfig(mixup=-1.0)),
                                 dict(fuse_channels=0), dict(phi_range=(1.0,)),
                                 dict(augment=AugmentConfig(flip=2.0)), dict(augment=AugmentConfig(shift=-1))])
def test_bad_model_settings_are_refused(bad):
    with pytest.raises(ConfigError, match="model\\." + next(iter(bad))):
        MPFNetConfig(**bad)


def test_valid_edge_settings_are_kept():
    assert MPFNetConfig(meta=EpisodeConfig(episodes=0), fuse_dropout=0.5).meta.episodes == 0
    with pytest.raises(ConfigError, match="max_folds"):
        LosoConfig(max_folds=-1)
    with pytest.raises(ConfigError, match="fold_workers"):
        LosoConfig(fold_workers=0)


@pytest.mark.parametrize("setting", ["model.fuse_dropout=1.5", "model.gfe.epochs=0", "max_folds=-1",
                                     "model.meta.k_shot=0", "model.phi_range=[1]"])
def test_cli_bad_set_is_one_line_exit_2_and_no_output(tmp_path, capsys, setting):
    data = make_composite(tmp_path / "data", n_subjects=2, per_subject=6)
    out = tmp_path / "run"
    rc = main(["mer", "train", "--variant", "C,ststnet", "--data", str(data), "--out", str(out), "--quiet",
               "--set", setting])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and setting.split("=")[0] in err[0] and "internal error" not in err[0]
    assert not out.exists()


def test_final_model_with_no_stage3_episodes_is_written(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    cfg = LosoConfig(data=str(data), variants=("P",), model=replace(TINY, meta=EpisodeConfig(episodes=0)))
    assert (train_final(cfg, tmp_path / "model") / "model.safetensors").is_file()
    assert "stage 3 done: final loss -" in capsys.readouterr().err


def test_model_folder_from_before_centring_loads_and_is_not_centred(tmp_path):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    cfg = LosoConfig(data=str(data), variants=("C",), model=replace(TINY, center=False))
    new = train_final(cfg, tmp_path / "model")
    old = tmp_path / "old"
    shutil.copytree(new, old)
    meta = json.loads((old / "model.json").read_text())
    del meta["input_center"]
    for key in ("center", "fuse_gate", "fuse_dropout"):
        del meta["model"][key]
    (old / "model.json").write_text(json.dumps(meta))
    net, _ = load_model(old)
    png = next((data / "flow_uvos_28").glob("*.png"))
    x = prepare_inputs(sample_tensor(png)[None], torch.tensor(meta["input_mean"]), torch.tensor(meta["input_std"]),
                       False)
    want = torch.softmax(net(x), 1)[0]
    assert torch.allclose(torch.tensor(list(predict_sample(old, png).values())), want, atol=1e-6)
    assert predict_sample(old, png) == predict_sample(new, png)


def test_final_model_says_which_of_several_variants_it_trains(tmp_path, caplog):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    cfg = LosoConfig(data=str(data), variants=("ststnet", "P"), model=TINY)
    with caplog.at_level("WARNING"):
        train_final(cfg, tmp_path / "model", progress=False)
    assert "trains one model: ststnet" in caplog.text and "ststnet, P" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        train_final(replace(cfg, variants=("ststnet",)), tmp_path / "model1", progress=False)
    assert "trains one model" not in caplog.text


def test_info_says_how_a_model_prepares_its_inputs(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    for center in (True, False):
        cfg = LosoConfig(data=str(data), variants=("P",), model=replace(TINY, center=center))
        model = train_final(cfg, tmp_path / f"model_{center}", progress=False)
        capsys.readouterr()
        assert main(["mer", "info", "--model", str(model)]) == 0
        line = capsys.readouterr().out.splitlines()[1]
        assert line.startswith("inputs: ") and ("centred on each sample's per-channel median" in line) == center
