"""FSL-SNN under torchrun: 2 gloo processes take the single process's training steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neurotrio.core.checkpoint import read_weights

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_two_ranks_take_the_single_process_steps(tmp_path):
    """Batch shares, synced batch norm, episode images shared (15 + 15) and gathered, DDP averaging: one
    pre-training step and one episode give the single process's losses and weights up to float order.

    Stated tolerance: parameters within 1e-4 relative + 5e-5 absolute, losses within 1e-5. Batch-norm
    running statistics are left out: they are re-estimated after training (``recalibrate_bn``) through
    spiking layers, where a 1e-7 difference in a membrane potential can flip a spike.
    """
    job = str(Path(__file__).with_name("ddp_job.py"))
    _run([sys.executable, job, str(tmp_path / "one.safetensors")])
    _run([*TORCHRUN, job, str(tmp_path / "two.safetensors")])
    one, meta_one = read_weights(tmp_path / "one.safetensors")
    two, meta_two = read_weights(tmp_path / "two.safetensors")
    assert one.keys() == two.keys()
    assert meta_one["kept"] == meta_two["kept"], "the runs kept different stages: weights not comparable"
    params = [k for k in one if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(params) == 38  # backbone, SFE, CFC, head
    for key in params:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=5e-5, msg=key)
    for stage in ("pretrain", "finetune"):  # the training loss, reduced across ranks
        assert abs(meta_one[stage][0]["train_loss"] - meta_two[stage][0]["train_loss"]) < 1e-5


FS_SMOKE = ["--dataset", "synthetic", "--device", "cpu", "--set", "model.backbone.width=0.125",
            "--set", "model.backbone.time_steps=2", "--set", "pretrain.epochs=1", "--set", "pretrain.batch_size=32",
            "--set", "finetune.episodes=2", "--set", "finetune.val_every=2", "--set", "finetune.n_query=5",
            "--set", "eval.val_episodes=10"]


@pytest.mark.slow
def test_cli_train_under_torchrun_writes_once(tmp_path):
    out = tmp_path / "run"
    proc = _run([*TORCHRUN, "-m", "neurotrio.cli", "fewshot", "train", *FS_SMOKE, "--out", str(out)])
    assert proc.stdout.count("trained fslsnn") == 1  # only rank 0 reports
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temp folder left by any rank
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "train.json", "train.png", "config.yaml"}
    assert json.loads((out / "train.json").read_text())["metrics"]["world_size"] == 2
