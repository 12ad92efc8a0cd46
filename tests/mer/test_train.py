"""CI smoke: a 2-fold, few-epoch LOSO on CPU (synthetic flow maps, and the real composite when present)."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from neurotrio.core.metrics import confusion_matrix, uf1
from neurotrio.microexpression.final import train_final
from neurotrio.microexpression.model import CAI3DConfig
from neurotrio.microexpression.predict import load_model, predict_sample
from neurotrio.microexpression.stages import EpisodeConfig, StageConfig
from neurotrio.microexpression.train import LosoConfig, MPFNetConfig, run_loso
from tests.mer.synth_layouts import make_composite

TINY = MPFNetConfig(backbone=CAI3DConfig(stem_channels=8, stem_stride=2, blocks=(16,), pool_after=()),
                    gfe=StageConfig(epochs=2, batch_size=16), afe=StageConfig(epochs=2, batch_size=16),
                    meta=EpisodeConfig(episodes=4, k_shot=2, n_query=2), baseline=StageConfig(epochs=15, lr=0.02))


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_two_fold_loso_smoke_on_synthetic_flow_maps(tmp_path):
    data = make_composite(tmp_path / "data", n_subjects=4, per_subject=6)
    cfg = LosoConfig(data=str(data), variants=("P", "C", "GFE", "AFE", "ststnet"), max_folds=2, model=TINY)
    t0 = time.perf_counter()
    m = run_loso(cfg, tmp_path / "out", progress=False)
    assert time.perf_counter() - t0 < 60
    out = tmp_path / "out"
    assert {"results.json", "results.md", "predictions.csv", "config.yaml", "fold_uf1.png",
            *(f"confusion_{v}.png" for v in cfg.variants)} <= {p.name for p in out.iterdir()}
    assert "## Confusion matrix: P (pooled; rows true, columns predicted)" in (out / "results.md").read_text()
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    names = ["negative", "positive", "surprise"]
    assert {r["label"] for r in rows} <= set(names) and {r["pred_P"] for r in rows} <= set(names)
    assert len(rows) == 12 and {r["subject"] for r in rows} == {"casme2/sub02", "samm/003"}
    assert m["_run"]["folds"] == 2 and m["_run"]["samples_tested"] == 12
    for v in cfg.variants:        # pooled metrics = metrics of the concatenated predictions
        y = np.array([names.index(r["label"]) for r in rows])
        p = np.array([names.index(r[f"pred_{v}"]) for r in rows])
        assert m[v]["pooled"]["uf1"] == pytest.approx(uf1(confusion_matrix(y, p, 3)))
        assert set(m[v]["per_database"]) == {"casme2", "samm"} and len(m[v]["per_fold"]) == 2
    # the learnable synthetic patterns are separated by the baseline even in a few epochs
    assert m["ststnet"]["pooled"]["accuracy"] > 0.6
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["max_folds"] == 2 and saved["provenance"]["versions"]["torch"]


def test_validation_subjects_pick_stage3_checkpoints_on_the_training_side(tmp_path):
    data = make_composite(tmp_path / "data", n_subjects=4, per_subject=6)
    cfg = LosoConfig(data=str(data), variants=("P",), folds=(1,), n_val_subjects=1, val_checks=2, model=TINY)
    m = run_loso(cfg, tmp_path / "out", progress=False)
    info = m["_run"]["fold_info"]["samm/003"]["P"]
    assert len(info["val_history"]) == 2 and info["picked_val_uf1"] == max(h["val_uf1"] for h in info["val_history"])


def test_fold_workers_give_the_same_predictions_as_one_process(tmp_path):
    data = make_composite(tmp_path / "data", n_subjects=4, per_subject=6)
    cfg = LosoConfig(data=str(data), variants=("P", "ststnet"), max_folds=3, model=TINY)
    run_loso(cfg, tmp_path / "one", progress=False)
    m = run_loso(replace(cfg, fold_workers=2), tmp_path / "two", progress=False)
    assert m["_run"]["fold_workers"] == 2 and m["_run"]["folds"] == 3
    assert (tmp_path / "one" / "predictions.csv").read_text() == (tmp_path / "two" / "predictions.csv").read_text()


def test_final_model_round_trip_and_predict(tmp_path):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    for variant in ("C", "ststnet"):
        cfg = LosoConfig(data=str(data), variants=(variant,), model=TINY)
        model_dir = train_final(cfg, tmp_path / f"model_{variant}")
        net, meta = load_model(model_dir)
        assert meta["variant"] == variant and meta["input_shape"] == [3, 1, 28, 28]
        png = next((data / "flow_uvos_28").glob("*.png"))
        probs = predict_sample(model_dir, png)
        assert list(probs) == ["negative", "positive", "surprise"] and sum(probs.values()) == pytest.approx(1.0)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_composite_two_fold_smoke(shared_data, tmp_path):
    cfg = LosoConfig(data=str(shared_data / "microexpression" / "megc2019_composite"), variants=("P", "ststnet"),
                     max_folds=2, model=TINY)
    m = run_loso(cfg, tmp_path / "out", progress=False)
    assert m["_run"]["folds"] == 2 and m["P"]["pooled"]["n"] == m["_run"]["samples_tested"] > 0


@pytest.mark.realdata
@pytest.mark.slow
def test_real_sequences_end_to_end_prepare_train_predict(shared_data, tmp_path):
    me = shared_data / "microexpression"
    raw = MPFNetConfig(backbone=CAI3DConfig(in_channels=5, stem_channels=8, stem_stride=2, stem_pool=True,
                                            blocks=(16,), pool_after=(0,)),
                       gfe=StageConfig(epochs=1), afe=StageConfig(epochs=1),
                       meta=EpisodeConfig(episodes=2, k_shot=2, n_query=1))
    cfg = LosoConfig(dataset="sequences", data=str(me / "casme2_sequences"),
                     sheet=str(me / "megc2019_composite" / "labels.csv"), variants=("P",), model=raw,
                     cache_dir=str(tmp_path / "cache"), workers=1)
    model_dir = train_final(cfg, tmp_path / "model")
    probs = predict_sample(model_dir, me / "casme2_sequences" / "sub01" / "EP04_02")    # an unlabelled one
    assert set(probs) == {"negative", "positive", "surprise"} and sum(probs.values()) == pytest.approx(1.0)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 12


@pytest.mark.realdata
@pytest.mark.slow
def test_raw_frames_balancing_copies_are_remagnified(shared_data, tmp_path):
    """CASME II layout built from real face frames: the AFE's amplified copies re-run magnification."""
    import shutil

    from neurotrio.microexpression.datasets import load_casme2, load_inputs
    from neurotrio.microexpression.inputs import _amplifier_factory

    seq = shared_data / "microexpression" / "casme2_sequences" / "sub01" / "EP02_01f"
    clip = tmp_path / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    clip.mkdir(parents=True)
    for k in range(11):
        shutil.copy(seq / f"frame_{k}.png", clip / f"img{40 + k}.png")
    (tmp_path / "coding.csv").write_text("Subject,Filename,OnsetFrame,ApexFrame,Estimated Emotion\n"
                                         "1,EP02_01f,40,50,happiness\n")
    samples = load_casme2(tmp_path, tmp_path / "coding.csv")
    cfg = LosoConfig(dataset="casme2", data=str(tmp_path), cache_dir=str(tmp_path / "cache"), workers=1)
    x = load_inputs(samples, cache_dir=cfg.cache_dir, workers=1)
    amp = _amplifier_factory(samples, cfg)([0])
    copy = amp(x[0], 0, 6.0)
    assert copy.shape == x[0].shape == (5, 10, 128, 128)
    assert not torch.equal(copy, x[0])                                       # a different magnification
    assert float(copy[:2].abs().mean()) > float(x[0][:2].abs().mean())       # larger motion after φ = 6
