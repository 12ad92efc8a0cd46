"""`neurotrio fewshot ...`: help for every command, a smoke run, and one-line errors with no output left."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neurotrio.cli import main

COMMANDS = ("train", "eval", "energy", "simulate-events")
SMOKE = ["--dataset", "synthetic", "--set", "model.backbone.width=0.125", "--set", "model.backbone.time_steps=2",
         "--set", "pretrain.epochs=1", "--set", "pretrain.batch_size=32", "--set", "finetune.episodes=2",
         "--set", "finetune.val_every=2", "--set", "finetune.n_query=5", "--set", "eval.val_episodes=10"]


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


def test_train_eval_energy_smoke(tmp_path, capsys):
    assert main(["fewshot", "train", *SMOKE, "--out", str(tmp_path / "run")]) == 0
    assert "wrote" in capsys.readouterr().out
    weights = str(tmp_path / "run" / "model.safetensors")
    assert main(["fewshot", "eval", *SMOKE, "--weights", weights, "--out", str(tmp_path / "eval"),
                 "--set", "eval.settings=[5w1s]", "--set", "eval.episodes=20", "--set", "eval.n_query=5"]) == 0
    assert "5w1s:" in capsys.readouterr().out
    assert main(["fewshot", "energy", *SMOKE, "--weights", weights, "--batch", "8",
                 "--out", str(tmp_path / "energy.md")]) == 0
    out = capsys.readouterr().out
    assert "ratio E_ANN / E_SNN" in out and "| total |" in out
    assert (tmp_path / "energy.md").read_text().count("| total |") == 2


def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys):
    code = main(["fewshot", "train", "--dataset", "omniglot", "--root", str(tmp_path / "missing"),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
    bad_weights = tmp_path / "model.safetensors"
    bad_weights.write_bytes(b"not a model")
    code = main(["fewshot", "eval", *SMOKE, "--weights", str(bad_weights), "--out", str(tmp_path / "eval")])
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
