"""`fewshot train` says how it validated, and refuses a split with one validation class (1-way = 100 %)."""

from __future__ import annotations

from neurotrio.cli import main
from neurotrio.fewshot.train import TrainConfig

TINY = ["--dataset", "synthetic", "--set", "model.backbone.width=0.125", "--set", "model.backbone.time_steps=2",
        "--set", "pretrain.epochs=1", "--set", "pretrain.batch_size=16", "--set", "finetune.episodes=1",
        "--set", "finetune.n_query=2", "--set", "eval.val_episodes=4", "--set", "eval.n_query=2",
        "--set", "bn_recalibration_batches=1", "--quiet"]


def test_one_validation_class_is_refused_before_training(tmp_path, capsys):
    # 5 synthetic classes → 3 train / 1 val / 1 test. Before: "best val acc 100.00 %" from 1-way episodes, and
    # the kept epoch chosen on them (seen with `simulate-events --limit 6` + `train --set data.events_dir=…`)
    out = tmp_path / "run"
    assert main(["fewshot", "train", *TINY, "--set", "data.synthetic_classes=5", "--set", "finetune.n_way=3",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: validation episodes need at least 2 validation classes") and err.count("\n") == 1
    assert "this validation split has 1 (1 in all, data.val_fraction=" in err and not out.exists()


def test_too_few_training_classes_for_fine_tuning_is_refused_before_pre_training(tmp_path, capsys):
    # 10 synthetic classes → 6 training classes; 8-way fine-tuning failed in EpisodeSampler only after the
    # whole pre-training had run (30 min with the recipe), and nothing was written
    out = tmp_path / "run"
    assert main(["fewshot", "train", *TINY, "--set", "data.synthetic_classes=10", "--set", "finetune.n_way=8",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: fine-tuning episodes need finetune.n_way=8 training classes") and "has 6" in err
    assert "epoch" not in err and not out.exists()


def test_train_says_how_many_ways_and_classes_validation_used(tmp_path, capsys):
    # 10 synthetic classes → 6 / 2 / 2: validation runs 2-way, which "val acc" alone did not say
    out = tmp_path / "run"
    assert main(["fewshot", "train", *TINY, "--set", "data.synthetic_classes=10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "on 2-way episodes of 2 validation classes, fewer than finetune.n_way=5" in printed
    size = TrainConfig().data.image_size  # the recipe's, also for CUB unless --set data.image_size: was unsaid
    assert f"trained fslsnn on synthetic ({size}×{size} inputs) in " in printed
    assert f"wrote model.safetensors, train.json, train.png, config.yaml to {out}" in printed
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "train.json", "train.png", "config.yaml"}
