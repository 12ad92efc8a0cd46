"""`neurotrio mer train` under torchrun: 2 gloo processes spread the LOSO folds and give the one-process result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hardening.test_kill_resume import ENV
from tests.mer.synth_layouts import make_composite
from tests.mer.test_cli import TINY

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def _train_cmd(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "neurotrio.cli", "mer", "train", "--variant", "P,ststnet", "--dataset",
            "composite", "--data", str(data), "--protocol", "loso", "--folds", "2", "--device", "cpu",
            "--seed", "3", "--out", str(out), "--quiet", *TINY]


def _metrics(out: Path) -> tuple[dict, int]:
    m = json.loads((out / "results.json").read_text())["metrics"]
    run = m.pop("_run")
    timing = ("wall_s", "world_size", "cpu_s", "fold_cpu_s")
    return {**m, "_run": {k: v for k, v in run.items() if k not in timing}}, run["world_size"]


@pytest.mark.slow
def test_loso_under_torchrun_equals_one_process(tmp_path) -> None:
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    one, two = tmp_path / "one", tmp_path / "two"
    plain = subprocess.run(_train_cmd(data, one), env=ENV, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stderr[-2000:]
    before = set(tmp_path.iterdir())
    proc = subprocess.run([*TORCHRUN, *_train_cmd(data, two)[1:]], env=ENV, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("LOSO composite: 2 folds, 12 test samples") == 1  # only rank 0 reports
    assert "over 2 processes" in proc.stdout and proc.stdout.count("wrote results.json") == 1
    (m1, w1), (m2, w2) = _metrics(one), _metrics(two)
    assert (w1, w2) == (1, 2)
    assert m2 == m1  # each fold is seeded by its index, whichever rank trains it (fold_info losses included)
    assert (two / "predictions.csv").read_bytes() == (one / "predictions.csv").read_bytes()
    assert set(tmp_path.iterdir()) - before == {two}  # nothing else left beside the output (no temp folders)
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())


@pytest.mark.slow
def test_fold_workers_are_refused_under_torchrun(tmp_path) -> None:
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    cmd = [*TORCHRUN, *_train_cmd(data, tmp_path / "out")[1:], "--set", "fold_workers=2"]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "fold_workers=2 cannot be combined with torchrun" in proc.stderr + proc.stdout
    assert not (tmp_path / "out").exists()
