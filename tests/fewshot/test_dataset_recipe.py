"""`recipes.dataset_recipe`: the validated CPU recipe per data set, used by the benchmarks and by
`neurotrio fewshot train` (before, `--dataset cub` trained with the Omniglot recipe's 20×20 and (2, 4))."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest
import torch
import yaml

from neurotrio.core.errors import ConfigError
from neurotrio.fewshot.cli import _train_config, add_commands
from neurotrio.fewshot.evaluate import DataConfig, EvalConfig, TensorSet
from neurotrio.fewshot.model import feature_shape
from neurotrio.fewshot.recipes import dataset_recipe
from neurotrio.fewshot.train import FinetuneConfig, PretrainConfig, TrainConfig


def _cub_literal(data: DataConfig, ev: EvalConfig) -> TrainConfig:
    """The CUB CPU recipe as benchmarks/fewshot_cub.py wrote it before it moved into the library."""
    m = TrainConfig().model
    return TrainConfig(model=replace(m, backbone=replace(m.backbone, in_channels=3, stride_layers=(2, 4, 6))),
                       data=data, pretrain=PretrainConfig(epochs=15, batch_size=32, lr=0.05),
                       finetune=FinetuneConfig(episodes=30, val_every=15, n_query=10), eval=ev)


def _dvs_literal(data: DataConfig, ev: EvalConfig) -> TrainConfig:
    """The Omniglot-DVS CPU recipe as benchmarks/fewshot_dvs.py wrote it before it moved into the library."""
    m = TrainConfig().model
    return TrainConfig(model=replace(m, backbone=replace(m.backbone, time_steps=4, in_channels=2)),
                       data=data, pretrain=PretrainConfig(epochs=15, batch_size=32, lr=0.05),
                       finetune=FinetuneConfig(episodes=40, val_every=20, n_query=5), eval=ev)


def test_recipes_hold_the_validated_values():
    assert dataset_recipe("omniglot") == TrainConfig()
    for name in ("nomniglot", "synthetic", "miniimagenet"):
        assert dataset_recipe(name) == replace(TrainConfig(), data=DataConfig(dataset=name, image_size=20))
    cub = dataset_recipe("cub")
    assert cub == _cub_literal(DataConfig(dataset="cub", image_size=40), EvalConfig())
    assert feature_shape(cub.model.backbone, (40, 40))[1:] == (5, 5)
    dvs = dataset_recipe("omniglot-dvs")
    assert dvs == _dvs_literal(DataConfig(dataset="omniglot-dvs", image_size=20, time_bins=4), EvalConfig())
    assert dataset_recipe("cub") is not dataset_recipe("cub")  # a fresh config each call
    with pytest.raises(ConfigError, match="unknown dataset 'cubs'; choose one of omniglot, omniglot-dvs"):
        dataset_recipe("cubs")


def test_benchmarks_build_their_cpu_config_from_the_recipe_unchanged(tmp_path):
    from benchmarks import fewshot_cub, fewshot_dvs
    from benchmarks.fewshot_common import shared_data

    cache = str(tmp_path)
    root = str(shared_data() / "fewshot" / "cub")
    assert fewshot_cub.config(False, cache) == _cub_literal(
        DataConfig(dataset="cub", root=root, image_size=40, cache_dir=cache),
        EvalConfig(settings=("5w1s", "5w5s"), episodes=600, val_episodes=100))
    root = str(shared_data() / "fewshot" / "omniglot")
    data = DataConfig(dataset="omniglot-dvs", root=root, image_size=20, time_bins=4, only_strokes=True,
                      max_classes=100, max_per_class=10, test_fraction=0.25, val_fraction=0.1, cache_dir=cache)
    assert fewshot_dvs.config(False, cache) == _dvs_literal(
        data, EvalConfig(settings=("5w1s", "5w5s"), episodes=600, n_query=5, val_episodes=100))


def _train_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_commands(parser)
    return parser.parse_args(["train", "--out", "runs/m", "--quiet", *argv])


def test_cli_train_starts_from_the_data_sets_recipe():
    cfg = _train_args("--dataset", "cub")
    cfg = _train_config(cfg)
    bb = cfg.model.backbone
    assert (cfg.data.dataset, cfg.data.image_size, bb.stride_layers, bb.in_channels) == ("cub", 40, (2, 4, 6), 3)
    assert (cfg.pretrain.epochs, cfg.pretrain.batch_size, cfg.finetune.episodes, cfg.finetune.n_query) == (15, 32, 30, 10)
    assert _train_config(_train_args("--set", "data.dataset=cub")) == cfg  # named by --set alone: same recipe
    dvs = _train_config(_train_args("--dataset", "omniglot-dvs"))
    assert (dvs.data.image_size, dvs.model.backbone.time_steps, dvs.pretrain.epochs) == (20, 4, 15)
    assert (dvs.data.only_strokes, dvs.data.test_fraction) == (False, 0.0)  # events_dir workflows keep their test split
    assert _train_config(_train_args()) == TrainConfig()  # omniglot: unchanged
    assert _train_config(_train_args("--dataset", "omniglot")) == TrainConfig()


def test_cli_set_and_config_file_still_win_over_the_recipe(tmp_path):
    cfg = _train_config(_train_args("--dataset", "cub", "--set", "data.image_size=32",
                                    "--set", "model.backbone.stride_layers=[2, 4]", "--set", "pretrain.epochs=1"))
    assert (cfg.data.image_size, cfg.model.backbone.stride_layers, cfg.pretrain.epochs) == (32, (2, 4), 1)
    assert cfg.model.backbone.in_channels == 3 and cfg.finetune.episodes == 30  # the rest: CUB's recipe
    partial = tmp_path / "mine.yaml"
    partial.write_text("data:\n  dataset: cub\npretrain:\n  epochs: 2\n")
    cfg = _train_config(_train_args("--config", str(partial), "--set", "finetune.episodes=3"))
    assert (cfg.data.dataset, cfg.data.image_size, cfg.model.backbone.stride_layers) == ("cub", 40, (2, 4, 6))
    assert (cfg.pretrain.epochs, cfg.pretrain.batch_size, cfg.finetune.episodes) == (2, 32, 3)
    saved = tmp_path / "config.yaml"  # a whole config saved by an Omniglot run, reused with --dataset cub
    from neurotrio.core.config import save_config

    save_config(TrainConfig(), saved)
    cfg = _train_config(_train_args("--config", str(saved), "--dataset", "cub"))
    assert cfg == replace(TrainConfig(), data=replace(TrainConfig().data, dataset="cub"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("pretrain:\n  epoch: 2\n")
    with pytest.raises(ConfigError, match="pretrain.epoch"):
        _train_config(_train_args("--config", str(bad), "--dataset", "cub"))


def test_cli_train_saves_the_effective_recipe_in_config_yaml(tmp_path, monkeypatch):
    # no CUB images in a unit test: the loader is replaced by 40×40 RGB noise of 10 classes per split
    import neurotrio.fewshot.train as train_mod
    from neurotrio.cli import main

    seen = {}

    def fake_splits(cfg, need=("train", "val"), seed=0, progress=False):
        seen["data"] = cfg
        g = torch.Generator().manual_seed(seed)
        sets = {k: TensorSet(torch.rand(20, 3, cfg.image_size, cfg.image_size, generator=g),
                             torch.arange(10).repeat(2), [f"c{i}" for i in range(10)]) for k in need}
        return sets

    monkeypatch.setattr(train_mod, "load_splits", fake_splits)
    out = tmp_path / "run"
    code = main(["fewshot", "train", "--dataset", "cub", "--root", str(tmp_path), "--out", str(out), "--quiet",
                 "--set", "pretrain.epochs=0", "--set", "finetune.episodes=0", "--set", "model.backbone.width=0.125"])
    assert code == 0 and seen["data"].image_size == 40
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["data"]["dataset"] == "cub" and saved["data"]["image_size"] == 40
    assert saved["model"]["backbone"]["stride_layers"] == [2, 4, 6] and saved["model"]["backbone"]["in_channels"] == 3
    assert saved["pretrain"]["epochs"] == 0 and saved["pretrain"]["batch_size"] == 32
    assert saved["finetune"]["n_query"] == 10 and saved["model"]["backbone"]["width"] == 0.125
