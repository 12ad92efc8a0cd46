"""Training protocol: class splits, episodes, a CPU smoke run end to end, and bad input."""

from __future__ import annotations

import json
import time

import pytest
import torch

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.fewshot.evaluate import (
    DataConfig,
    EvalConfig,
    TensorSet,
    load_model,
    load_splits,
    parse_setting,
    split_classes,
    split_episode,
)
from neurotrio.fewshot.fslsnn import FSLSNNConfig
from neurotrio.fewshot.model import BackboneConfig
from neurotrio.fewshot.scoring import run_evaluation
from neurotrio.fewshot.train import FinetuneConfig, PretrainConfig, TrainConfig, run_training


def smoke_config(method: str = "fslsnn", **data) -> TrainConfig:
    return TrainConfig(
        model=FSLSNNConfig(backbone=BackboneConfig(width=0.125, time_steps=2), method=method),
        data=DataConfig(dataset="synthetic", synthetic_classes=30, **data),
        pretrain=PretrainConfig(epochs=2, batch_size=32, lr=0.05),
        finetune=FinetuneConfig(episodes=4, n_way=5, k_shot=1, n_query=5, val_every=2),
        eval=EvalConfig(settings=("5w1s", "5w5s"), episodes=40, n_query=5, val_episodes=10),
        bn_recalibration_batches=5,
    )


def test_splits_keep_classes_apart():
    s = load_splits(DataConfig(dataset="synthetic", synthetic_classes=30))
    sets = [set(s[k].targets.tolist()) for k in ("train", "val", "test")]
    assert [len(x) for x in sets] == [18, 6, 6]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    ts = TensorSet(torch.zeros(40, 1, 2, 2), torch.arange(20).repeat_interleave(2))
    tr, va = split_classes(ts, 0.25, seed=3)
    assert va.n_classes == 5 and tr.n_classes == 15
    assert not set(tr.targets.tolist()) & set(va.targets.tolist())


def test_split_episode_support_and_query_disjoint():
    targets = torch.tensor([7, 7, 7, 2, 2, 2])
    s, sy, q, qy = split_episode([0, 1, 2, 3, 4, 5], targets, k_shot=1)
    assert s.tolist() == [0, 3] and sy.tolist() == [0, 1]
    assert q.tolist() == [1, 2, 4, 5] and qy.tolist() == [0, 0, 1, 1]
    assert parse_setting("20w5s") == (20, 5)
    with pytest.raises(ConfigError, match="5w1s"):
        parse_setting("5-way")


def test_cpu_smoke_train_and_evaluate(tmp_path):
    torch.set_num_threads(1)
    cfg = smoke_config()
    t0 = time.perf_counter()
    record = run_training(cfg, tmp_path / "run")
    report = run_evaluation(tmp_path / "run" / "model.safetensors", cfg, tmp_path / "eval")
    assert time.perf_counter() - t0 < 60
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"model.safetensors", "train.json", "train.png", "config.yaml"}
    saved = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert saved["config"]["data"]["dataset"] == "synthetic" and saved["provenance"]["seed"] == 0
    assert len(record["pretrain_history"]) == 2 and len(record["finetune_history"]) == 2
    for s in ("5w1s", "5w5s"):
        assert 0 <= report[s]["mean"] <= 100 and report[s]["ci95"] > 0 and report[s]["episodes"] == 40
    model = load_model(tmp_path / "run" / "model.safetensors")
    assert model.cfg.n_base_classes == 18 and model.cfg.backbone.width == 0.125
    assert not model.training  # returned in eval mode (issue 9: 0.52 vs 0.56 on one episode otherwise)
    with pytest.raises(ConfigError, match=r"trained on 28×28 inputs, not 36×36"):
        load_model(tmp_path / "run" / "model.safetensors", image_size=36)


@pytest.mark.parametrize("method", ["fslsnn", "protonet"])
def test_episode_loss_can_be_fitted(method):
    """Gradients reach the backbone through LIF, SFE and CFC: one fixed episode is learnt quickly."""
    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.losses import LossConfig, fewshot_loss

    torch.manual_seed(0)
    model = build_model(FSLSNNConfig(backbone=BackboneConfig(width=0.125, time_steps=2), method=method))
    data = load_splits(DataConfig(dataset="synthetic", synthetic_classes=10))["train"]
    s_idx = torch.tensor([data.targets.tolist().index(c) for c in range(5)])
    q_idx = s_idx + 1
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    y = torch.arange(5)
    losses = []
    for _ in range(25):
        out = model.episode(data.images[s_idx], y, data.images[q_idx], 5)
        loss = fewshot_loss(out.logits, out.query_emb, out.proto_emb, y, LossConfig())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_more_ways_than_test_classes_is_an_input_error(tmp_path):
    cfg = smoke_config()
    run_training(TrainConfig(**{**cfg.__dict__, "pretrain": PretrainConfig(epochs=0),
                                "finetune": FinetuneConfig(episodes=0)}), tmp_path / "run")
    bad = TrainConfig(**{**cfg.__dict__, "eval": EvalConfig(settings=("20w1s",), episodes=5)})
    with pytest.raises(InputError, match="20-way 1-shot"):
        run_evaluation(tmp_path / "run" / "model.safetensors", bad, tmp_path / "eval")
    assert not (tmp_path / "eval").exists()


def test_unknown_dataset_and_missing_root():
    with pytest.raises(ConfigError, match="data.root"):
        load_splits(DataConfig(dataset="omniglot", root=""))
    with pytest.raises(InputError):
        load_splits(DataConfig(dataset="omniglot", root="/nonexistent/omniglot"))


@pytest.mark.realdata
def test_omniglot_splits_on_real_zips(shared_data, tmp_path):
    root = shared_data / "fewshot" / "omniglot"
    cfg = DataConfig(dataset="omniglot", root=str(root), max_classes=20, max_per_class=2, val_fraction=0.25,
                     cache_dir=str(tmp_path))
    s = load_splits(cfg)
    assert s["train"].n_classes == 15 and s["val"].n_classes == 5 and s["test"].n_classes == 20
    assert s["train"].images.shape[1:] == (1, 28, 28) and len(s["test"].targets) == 40
    names = set(s["test"].class_names) & {s["train"].class_names[int(c)] for c in s["train"].targets.unique()}
    assert not names  # evaluation alphabets never share a character with the background alphabets
    again = load_splits(cfg)  # from the cache
    assert torch.equal(again["test"].images, s["test"].images)


def test_without_fine_tuning_the_record_says_pretrained():
    """With finetune.episodes=0 the model returned is the pre-trained one, and the record must say so."""
    from dataclasses import replace

    from neurotrio.fewshot.train import train_model

    torch.set_num_threads(1)
    cfg = smoke_config()
    cfg = replace(cfg, pretrain=replace(cfg.pretrain, epochs=1), finetune=replace(cfg.finetune, episodes=0))
    s = load_splits(cfg.data)
    _, record = train_model(cfg, s["train"], s["val"])
    assert record["kept"] == "pretrained" and record["finetune_history"] == []
