"""What `neurotrio sleep train` tells its user (issue 11, "Training feedback").

What would break: a collapsed model (one class for every test epoch) passing silently; no per-epoch
validation line; a model file that cannot say what it was trained on; a saved config.yaml that names a
protocol (or fold count) other than the one that ran; a `--help` example key the config refuses.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from neurotrio.sleep.model import load_model, model_summary
from neurotrio.sleep.sleepedf import PreparedEpochs
from neurotrio.sleep.train import TrainConfig, cross_validate, one_class_warning, run_within_recording

CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz")


def _night(n: int, seed: int, record: str = "SC4001", subject: int = 0, night: int = 1) -> PreparedEpochs:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 5
    x = (rng.standard_normal((n, 2, 3000)) * 20).astype(np.float32)
    return PreparedEpochs(x, y.astype(np.int64), np.arange(n) * 30.0, record, subject, night, CHANNELS)


def test_one_class_warning_only_for_a_collapsed_model(caplog) -> None:
    proba = np.tile(np.array([[0.1, 0.2, 0.5, 0.1, 0.1]], np.float32), (30, 1))
    with caplog.at_level("WARNING"):
        msg = one_class_warning(proba, "fold 1/2")
    assert msg is not None and "N2 for every one of the 30 test epochs" in msg and "fold 1/2" in msg
    assert "collapsed" in caplog.text
    proba[3] = [0.9, 0, 0, 0, 0.1]
    assert one_class_warning(proba, "fold 1/2") is None


def test_within_recording_prints_epochs_records_protocol_and_training_data(tmp_path, capsys) -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig(channels=CHANNELS, epochs=2, batch_size=16, device="cpu")  # protocol left at "kfold"
    res = run_within_recording(_night(200, 0), cfg, tmp_path, progress=True)
    cap = capsys.readouterr()
    err = cap.out + cap.err
    lines = re.findall(r"within-recording epoch (\d)/2: train_loss [\d.]+ val_accuracy [\d.]+ val_macro_f1", err)
    assert lines == ["1", "2"], err[-2000:]
    saved = (tmp_path / "config.yaml").read_text()
    assert "protocol: within-recording" in saved  # what ran, not the default it was called with
    assert res["warnings"] == [] or "for every one of the" in res["warnings"][0]  # random labels may collapse
    info = model_summary(tmp_path / "model.safetensors")
    assert "trained on: within-recording protocol (development only) on SC4001" in info


def test_kfold_config_records_folds_and_each_model_its_fold(tmp_path) -> None:
    torch.set_num_threads(1)
    nights = [_night(10, 10 * s + k, f"SC4{s:02d}{k}", s, k) for s in range(4) for k in (1, 2)]
    cfg = TrainConfig(channels=CHANNELS, epochs=1, batch_size=16, val_subjects=1, device="cpu", subset="all",
                      n_folds=2, protocol="within-recording")
    res = cross_validate(nights, cfg, tmp_path, progress=False)
    saved = json.loads((tmp_path / "kfold.json").read_text())["config"]
    assert saved["protocol"] == "kfold" and saved["n_folds"] == 2
    assert isinstance(res["warnings"], list)
    meta = load_model(tmp_path / "fold0.safetensors").metadata
    assert meta["trained_on"].startswith("all (fixed normalization), 2-fold subject-wise cross-validation, fold 1/2")
    assert "test subjects" in meta["trained_on"]


def test_train_help_example_is_a_valid_key() -> None:
    import argparse

    from neurotrio.core.config import load_config
    from neurotrio.sleep.cli import add_commands

    parser = argparse.ArgumentParser(prog="neurotrio sleep")
    add_commands(parser)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(sub.choices["train"].format_help().split())
    shown = re.search(r"e\.g\. ((?:--set [\w.]+=[^\s;,)]+ ?)+)", text)
    assert shown, text
    examples = re.findall(r"--set ([\w.]+=[^\s;,)]+)", shown.group(1))
    assert examples, text
    assert "train.epochs" not in text
    cfg = load_config(TrainConfig, None, examples)  # raises ConfigError on an unknown key
    assert cfg.epochs == 5


def test_threads_option_sets_torch_threads() -> None:
    from neurotrio.core.errors import ConfigError
    from neurotrio.core.threads import resolve_threads, set_threads

    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        assert resolve_threads(None, default=1) in (1, int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
        assert resolve_threads(0) >= 1  # one per available core
        with pytest.raises(ConfigError, match="--threads must be >= 0"):
            resolve_threads(-1)
    finally:
        torch.set_num_threads(before)
