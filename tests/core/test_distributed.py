"""torchrun with 2 CPU processes (gloo) reaches the same weights as one process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neurotrio.core.checkpoint import read_weights

JOB = Path(__file__).with_name("ddp_job.py")


def _run(args: list[str], out: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, *args, str(JOB), str(out)], env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_two_gloo_processes_equal_one(tmp_path):
    _run([], tmp_path / "one.safetensors")
    _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"], tmp_path / "two.safetensors")
    one, meta_one = read_weights(tmp_path / "one.safetensors")
    two, meta_two = read_weights(tmp_path / "two.safetensors")
    for key in one:  # same updates up to float summation order
        torch.testing.assert_close(two[key], one[key], rtol=0, atol=1e-5)
    assert abs(meta_one["loss"] - meta_two["loss"]) < 1e-5
    assert meta_one["folds"] == [[0, 1, 2, 3, 4]]
    assert meta_two["folds"] == [[0, 2, 4], [1, 3]]  # independent folds spread over the ranks
