"""`neurotrio sleep train` under torchrun: 2 gloo processes spread the folds and give the single-process result."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.hardening.test_kill_resume import ENV, _nights, _results, _tensors, _train_cmd


@pytest.mark.slow
def test_kfold_under_torchrun_equals_one_process(tmp_path) -> None:
    data = _nights(tmp_path / "sleep-edf")
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run(_train_cmd(data, one), check=True, env=ENV, capture_output=True, timeout=300)
    cmd = _train_cmd(data, two)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run([*torchrun, *cmd[1:]], env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("pooled accuracy") == 1  # only rank 0 reports
    assert _results(two) == _results(one)  # each fold is seeded by itself, whichever rank trains it
    for fold in ("fold0", "fold1"):
        a, b = _tensors(one / f"{fold}.safetensors"), _tensors(two / f"{fold}.safetensors")
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


@pytest.mark.slow
def test_within_recording_ddp_equals_one_process(tmp_path) -> None:
    """One model trained by 2 ranks (each its share of every batch, batch norm synced) = one process.

    Dropout is switched off: its masks are drawn per rank, equal to one process's in distribution only.
    80 training epochs = 10 batches of 8, each split 4 + 4 (with an uneven last batch, DDP would average
    the two shares' means with equal weight). Tolerance: 1e-4 relative + 1e-4 absolute, a tenth of one
    Adam step (lr 1e-3): Adam divides by the gradient's running RMS, so float-order noise on a near-zero
    gradient becomes a visible step (measured 2e-5). Not compared: the biases of the convs right before
    a batch norm, whose true gradient is exactly zero (Adam turns pure noise there into steps of lr), and
    the running means that follow them. Without synced batch norm the BN biases differ by ~5e-3.
    """
    data = _nights(tmp_path / "sleep-edf", n_subjects=1, n_epochs=150)  # 80 training epochs
    args = ["--protocol", "within-recording", "--epochs", "2", "--device", "cpu", "--seed", "3",
            "--set", "batch_size=8", "--set", "trim_wake_min=null", "--set", "model.block_dropout=0.0",
            "--set", "model.head_dropout=0.0"]
    one, two = tmp_path / "one", tmp_path / "two"
    base = [sys.executable, "-m", "neurotrio.cli", "sleep", "train", "--data", str(data)]
    subprocess.run([*base, "--out", str(one), *args], check=True, env=ENV, capture_output=True, timeout=300)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run([*torchrun, *base[1:], "--out", str(two), *args], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("later epochs: accuracy") == 1  # only rank 0 reports
    assert proc.stdout.count("within-recording epoch 2/2:") == 1  # ... and prints the per-epoch validation
    a, b = _tensors(one / "model.safetensors"), _tensors(two / "model.safetensors")
    assert a.keys() == b.keys()
    compared = [k for k in a if not k.endswith(("pointwise.bias", "running_mean"))]
    assert len(compared) > 30
    for k in compared:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-4, err_msg=k)
    ha = json.loads((one / "within-recording.json").read_text())["metrics"]["history"]
    hb = json.loads((two / "within-recording.json").read_text())["metrics"]["history"]
    assert np.allclose([e["train_loss"] for e in hb], [e["train_loss"] for e in ha], atol=1e-5)
