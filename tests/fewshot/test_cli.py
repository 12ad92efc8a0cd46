"""`neurotrio fewshot ...`: help for every command, a smoke run, and one-line errors with no output left."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neurotrio.cli import main

COMMANDS = ("train", "eval", "energy", "simulate-events")

def test_fewshot_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "neurotrio.cli", "fewshot", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for c in COMMANDS:
        assert c in out


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fewshot", command, "--help"])
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


MODEL = ["--set", "model.backbone.width=0.125", "--set", "model.backbone.time_steps=2"]
DATA = ["--dataset", "synthetic", "--set", "data.synthetic_classes=40"]
TRAIN = [*DATA, *MODEL, "--set", "pretrain.epochs=1", "--set", "pretrain.batch_size=32", "--set", "finetune.episodes=2",
         "--set", "finetune.val_every=2", "--set", "finetune.n_query=5", "--set", "eval.val_episodes=10"]
EVAL = ["--set", "eval.settings=[5w1s]", "--set", "eval.episodes=20", "--set", "eval.n_query=5"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny model (synthetic data with 40 classes, width 0.125, T = 2) and what `fewshot train` printed."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("fewshot-cli") / "run"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["fewshot", "train", *TRAIN, "--out", str(out)]) == 0
    return out, buf.getvalue()


def test_train_prints_each_epoch_and_writes_the_curve(trained, tmp_path, capsys):
    import json

    out, printed = trained
    assert "pretrain epoch 1/1: train_loss" in printed and "val_acc" in printed  # progress is on by default
    assert "finetune epoch 1/1:" in printed and "kept " in printed and "wrote" in printed
    assert (out / "train.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((out / "train.json").read_text())["metrics"]
    kept = record["kept_epoch"]
    assert kept["stage"] == ("finetune" if record["kept"] == "finetuned" else "pretrain") and kept["epoch"] == 1
    assert main(["fewshot", "train", *TRAIN, "--quiet", "--out", str(tmp_path / "q")]) == 0
    assert "epoch 1/1" not in capsys.readouterr().out  # --quiet: no per-epoch lines


def test_eval_records_the_evaluated_model_and_weights(trained, tmp_path, capsys):
    import hashlib
    import json

    import yaml

    weights = trained[0] / "model.safetensors"
    assert main(["fewshot", "eval", "--weights", str(weights), "--out", str(tmp_path / "eval"), *EVAL]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "5w1s:" in printed and "test classes: 8 " in printed  # 40 synthetic classes at training → 8 test
    assert "5w1s:   0%" in captured.err and "/20 [" in captured.err  # the episodes' progress bar, on by default
    saved = yaml.safe_load((tmp_path / "eval" / "config.yaml").read_text())
    bb = saved["model"]["backbone"]
    assert (bb["width"], bb["time_steps"]) == (0.125, 2)  # the model's own, not the CLI default (0.5)
    assert saved["data"]["synthetic_classes"] == 40
    metrics = json.loads((tmp_path / "eval" / "eval.json").read_text())["metrics"]
    assert metrics["weights"]["path"] == str(weights.resolve())
    assert metrics["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert metrics["weights"]["model_config"]["backbone"]["width"] == 0.125
    assert metrics["test"]["n_classes"] == 8 and metrics["test"]["classes"][0] == "glyph32"
    assert (tmp_path / "eval" / "eval.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("option", [["--set", "model.backbone.width=2.0"], ["--set", "model.method=protonet"]])
def test_eval_refuses_model_options_in_one_line(trained, tmp_path, capsys, option):
    weights = str(trained[0] / "model.safetensors")
    assert main(["fewshot", "eval", "--weights", weights, "--out", str(tmp_path / "e"), *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "weights file" in err and err.count("\n") == 1
    assert not (tmp_path / "e").exists()


def test_python_and_cli_evaluation_test_the_same_classes(trained, tmp_path, capsys):
    """Issue 9: run_evaluation(weights, cfg) and `fewshot eval` scored 100 vs 659 classes for one model."""
    import argparse
    import json
    from dataclasses import replace

    from neurotrio.core.cli import config_from_args
    from neurotrio.fewshot.scoring import evaluation_config, run_evaluation
    from neurotrio.fewshot.train import TrainConfig

    weights = trained[0] / "model.safetensors"
    sets = [a for a in [*TRAIN, *EVAL] if "=" in a]
    train_cfg = config_from_args(TrainConfig, argparse.Namespace(config=None, overrides=sets),
                                 **{"data.dataset": "synthetic"})
    py = run_evaluation(weights, train_cfg, tmp_path / "py")
    untold = evaluation_config(weights)  # run_evaluation(weights, None): the data the model was trained with
    assert untold.data == train_cfg.data and untold.model.backbone.width == 0.125
    py_default = run_evaluation(weights, replace(untold, eval=train_cfg.eval), None)
    assert main(["fewshot", "eval", "--weights", str(weights), "--out", str(tmp_path / "cli"), *EVAL]) == 0
    cli = json.loads((tmp_path / "cli" / "eval.json").read_text())["metrics"]
    assert py["test"]["classes"] == cli["test"]["classes"] == py_default["test"]["classes"]
    assert py["5w1s"]["mean"] == cli["5w1s"]["mean"]  # same classes, same episodes, same model
    capsys.readouterr()


def test_energy_needs_weights_or_untrained_and_writes_json_and_chart(trained, tmp_path, capsys):
    import json

    assert main(["fewshot", "energy", *DATA]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--untrained" in err and err.count("\n") == 1
    assert main(["fewshot", "energy", *DATA, *MODEL, "--untrained", "--batch", "4"]) == 0
    assert capsys.readouterr().out.startswith("UNTRAINED SNN")
    weights = str(trained[0] / "model.safetensors")
    assert main(["fewshot", "energy", "--weights", weights, "--batch", "8", "--out", str(tmp_path / "energy.md")]) == 0
    out = capsys.readouterr().out
    assert "ratio E_ANN / E_SNN" in out and "strict rule: real-valued inputs pay MACs" in out
    assert "UNTRAINED" not in out
    assert (tmp_path / "energy.md").read_text().count("| total |") == 3  # SNN paper, SNN strict, ANN twin
    data = json.loads((tmp_path / "energy.json").read_text())
    strict = data["snn_strict_rule"]["layers"]
    assert strict and all(x["kind"] in ("mac", "ac") for x in strict) and data["untrained"] is False
    assert data["config"]["model"]["backbone"]["width"] == 0.125 and len(data["weights_sha256"]) == 64
    assert any(x["kind"] == "mac" for x in strict if x["name"].startswith("sfe."))  # real-valued SFE inputs pay MACs
    assert abs(data["ratio_strict_rule"] - data["ann_twin"]["total_pj"] / data["snn_strict_rule"]["total_pj"]) < 1e-9
    assert (tmp_path / "energy.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["fewshot", "energy", "--weights", weights, "--set", "model.backbone.width=1.0"]) == 2
    assert "weights file" in capsys.readouterr().err
    assert main(["fewshot", "energy", "--weights", weights, "--method", "protonet"]) == 2
    assert "--method" in capsys.readouterr().err


def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys):
    code = main(["fewshot", "train", "--dataset", "omniglot", "--root", str(tmp_path / "missing"),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
    bad_weights = tmp_path / "model.safetensors"
    bad_weights.write_bytes(b"not a model")
    code = main(["fewshot", "eval", "--dataset", "synthetic", "--weights", str(bad_weights), "--out", str(tmp_path / "eval")])
    err = capsys.readouterr().err
    assert code == 2 and "model.safetensors" in err and not (tmp_path / "eval").exists()


def test_simulate_events_smoke_and_bad_source(tmp_path, capsys):
    import zipfile

    from .test_datasets import omniglot_zip

    omniglot_zip(tmp_path / "images_background.zip", chars=1, drawers=2)
    with zipfile.ZipFile(tmp_path / "strokes_background_small1.zip", "w") as zf:
        zf.writestr("strokes_background_small1/Alpha/character01/0001_01.txt",
                    "START\n20,-20,0\n60,-20,200\nBREAK\n")
    assert main(["fewshot", "simulate-events", "--source", str(tmp_path), "--out", str(tmp_path / "dvs"),
                 "--limit", "1", "--set", "display_fps=30.0"]) == 0
    assert "1 from strokes" in capsys.readouterr().out
    assert (tmp_path / "dvs" / "summary.json").is_file()
    code = main(["fewshot", "simulate-events", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
    assert code == 2 and capsys.readouterr().err.startswith("error: ") and not (tmp_path / "x").exists()


def test_reading_a_data_set_shows_progress_when_asked(tmp_path, capsys):
    from neurotrio.fewshot.evaluate import DataConfig, load_splits

    from .test_datasets import omniglot_zip

    omniglot_zip(tmp_path / "images_background.zip")
    cfg = DataConfig(dataset="omniglot", root=str(tmp_path), val_fraction=0.25)
    load_splits(cfg, need=("train", "val"))
    assert "read omniglot" not in capsys.readouterr().err  # the library is quiet by default
    load_splits(cfg, need=("train", "val"), progress=True)
    assert "read omniglot background" in capsys.readouterr().err


def test_energy_writes_all_three_files_or_none_and_records_absolute_weights(trained, tmp_path, capsys,
                                                                             monkeypatch):
    import json

    from neurotrio.core.errors import InputError
    from neurotrio.fewshot import figures

    weights = trained[0] / "model.safetensors"
    monkeypatch.chdir(trained[0])
    assert main(["fewshot", "energy", "--weights", "model.safetensors", "--batch", "4", "--quiet",
                 "--out", str(tmp_path / "e.md")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["weights"] == str(weights.resolve())  # was as typed

    def broken_plot(*args, **kwargs):
        raise InputError("e.png", "cannot draw")

    monkeypatch.setattr(figures, "plot_energy", broken_plot)
    capsys.readouterr()
    assert main(["fewshot", "energy", "--weights", "model.safetensors", "--batch", "4", "--quiet",
                 "--out", str(tmp_path / "f.md")]) == 2
    assert capsys.readouterr().err == "error: e.png: cannot draw\n"
    assert not list(tmp_path.glob("f.*"))  # before: f.md and f.json were written first and stayed


def test_eval_json_records_the_device_that_ran(trained, tmp_path):
    import json

    weights = trained[0] / "model.safetensors"
    assert main(["fewshot", "eval", "--weights", str(weights), "--out", str(tmp_path / "e"), "--quiet", *EVAL]) == 0
    record = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert record["config"]["device"] == "auto" and record["metrics"]["device"] == "cpu"  # was only "auto"
