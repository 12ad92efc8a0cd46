"""`neurotrio sleep train` under torchrun: 2 gloo processes spread the folds and give the single-process result."""

from __future__ import annotations

import subprocess
import sys

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
