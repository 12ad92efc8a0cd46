"""`mer train` names every file it wrote; `mer predict` takes the model folder or a file in it, and refuses
anything else in one line naming the folder (a fewshot run, a typo)."""

from __future__ import annotations

from neurotrio.cli import main
from tests.mer.synth_layouts import make_composite

from .test_cli import TINY


def test_train_names_its_files_and_predict_finds_the_model_folder(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=2, per_subject=6)
    loso = tmp_path / "loso"
    assert main(["mer", "train", "--variant", "P", "--dataset", "composite", "--data", str(data), "--folds", "1",
                 "--out", str(loso), "--quiet", *TINY]) == 0
    # before: "results in …/results.json and results.md" (predictions.csv and the figures unnamed)
    assert (f"wrote results.json, results.md, predictions.csv, config.yaml, confusion_P.png, fold_uf1.png to {loso}"
            in capsys.readouterr().out)
    model = tmp_path / "model"
    assert main(["mer", "train", "--variant", "P", "--dataset", "composite", "--data", str(data),
                 "--protocol", "all", "--out", str(model), "--quiet", *TINY]) == 0
    assert f"wrote model.safetensors, model.json, losses.json, config.yaml to {model}" in capsys.readouterr().out

    png = str(sorted((data / "flow_uvos_28").glob("*.png"))[0])
    assert main(["mer", "predict", str(model), png]) == 0
    by_folder = capsys.readouterr().out
    assert main(["mer", "predict", str(model / "model.safetensors"), png]) == 0  # was "[Errno 20] Not a directory"
    assert capsys.readouterr().out == by_folder

    other = tmp_path / "fewshot-run"
    other.mkdir()
    (other / "model.safetensors").write_bytes(b"")
    assert main(["mer", "predict", str(other), png]) == 2
    err = capsys.readouterr().err
    assert err == ("error: fewshot-run: not a neurotrio mer model folder: no model.json in it (a model folder is "
                   "written by `neurotrio mer train --protocol all`)\n")


def test_every_mer_option_has_help(capsys):
    # `mer info --data`, `--sheet`, `predict --onset/--apex`, `prepare --workers/--size`, `train --seed` had none
    import argparse

    import pytest

    from neurotrio.cli import main

    for command in ("prepare", "train", "predict", "info"):
        with pytest.raises(SystemExit):
            main(["mer", command, "--help"])
        capsys.readouterr()
    from neurotrio.microexpression.cli import add_commands

    parser = argparse.ArgumentParser()
    add_commands(parser)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, p in sub.choices.items()
               for a in p._actions if not a.help and not isinstance(a, argparse._HelpAction)]
    assert missing == []


def test_train_records_absolute_data_folders(tmp_path, monkeypatch):
    # config.yaml said `data: ../shared/...` as typed: relative to wherever the command had been started
    import yaml

    make_composite(tmp_path / "data", n_subjects=2, per_subject=6)
    monkeypatch.chdir(tmp_path)
    assert main(["mer", "train", "--variant", "P", "--dataset", "composite", "--data", "data", "--folds", "1",
                 "--out", "loso", "--quiet", *TINY]) == 0
    saved = yaml.safe_load((tmp_path / "loso" / "config.yaml").read_text())
    assert saved["data"] == str(tmp_path / "data") and saved["cache_dir"] == str(tmp_path / ".mer_cache")
