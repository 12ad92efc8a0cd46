"""`fewshot train/eval/energy` record data folders as absolute paths (the docs pass relative ones)."""

from __future__ import annotations

import argparse

from torch import nn

from neurotrio.core.checkpoint import save_weights
from neurotrio.fewshot.cli import _train_config, _trained_model_config, add_commands


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_commands(parser)
    return parser.parse_args(argv)


def test_train_config_makes_relative_data_folders_absolute(tmp_path, monkeypatch):
    # docs/fewshot-data.md: `--root ../shared/data/fewshot/omniglot --set data.events_dir=runs/dvs`; saved as
    # given, `fewshot eval --weights …` started from another folder read another (or no) events folder
    monkeypatch.chdir(tmp_path)
    cfg = _train_config(_args(["train", "--dataset", "omniglot-dvs", "--root", "data/omniglot", "--out", "runs/m",
                               "--set", "data.events_dir=runs/dvs", "--set", "data.cache_dir=~/cache"]))
    assert cfg.data.root == str(tmp_path / "data" / "omniglot")
    assert cfg.data.events_dir == str(tmp_path / "runs" / "dvs")
    assert not cfg.data.cache_dir.startswith("~") and cfg.data.cache_dir.endswith("/cache")
    assert cfg.data.split_dir == ""  # unset stays unset


def test_eval_config_makes_the_given_root_absolute(tmp_path, monkeypatch):
    weights = save_weights(nn.Linear(2, 2), tmp_path / "model.safetensors",
                           metadata={"model_config": {}, "data": {"dataset": "omniglot", "root": "/data/omniglot"}})
    monkeypatch.chdir(tmp_path)
    args = _args(["eval", "--weights", str(weights), "--out", "e", "--root", "other/omniglot"])
    assert _trained_model_config(args, str(weights)).data.root == str(tmp_path / "other" / "omniglot")
    args = _args(["eval", "--weights", str(weights), "--out", "e"])  # the training folder, already absolute
    assert _trained_model_config(args, str(weights)).data.root == "/data/omniglot"


def test_energy_help_says_where_its_data_and_model_come_from(capsys):
    # the help said "data set (default: omniglot)"; with --weights energy reads the model's own training data
    import pytest

    from neurotrio.cli import main

    with pytest.raises(SystemExit):
        main(["fewshot", "energy", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: the model's training data with --weights, omniglot with --untrained)" in text
    assert "--untrained only: with --weights the model's own" in text


def test_eval_help_says_which_seed_draws_the_test_episodes(capsys):
    # "--seed: random seed" read as "other episodes"; evaluate_model draws them with eval.seed only
    import pytest

    from neurotrio.cli import main
    from neurotrio.fewshot.evaluate import EvalConfig

    with pytest.raises(SystemExit):
        main(["fewshot", "eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"the test episodes are drawn with eval.seed (default {EvalConfig().seed}" in text


def test_every_fewshot_option_has_help():
    # simulate-events --split and --seed had none
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, p in sub.choices.items()
               for a in p._actions if not a.help and not isinstance(a, argparse._HelpAction)]
    assert missing == []


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_commands(parser)
    return parser


def _tiny_weights(folder) -> str:
    """A weights file with an FSL-SNN header (no real model): enough for the checks made before loading."""
    return str(save_weights(nn.Linear(2, 2), folder / "model.safetensors",
                            metadata={"model_config": {}, "data": {"dataset": "omniglot", "root": "/data/omniglot"}}))
