import pickle

import numpy as np
import pytest
import torch
from torch import nn

from neurotrio.core.checkpoint import (
    load_training_state,
    load_weights,
    rng_state,
    save_training_state,
    save_weights,
    set_rng_state,
)
from neurotrio.core.errors import CheckpointError
from neurotrio.core.io import atomic_dir, atomic_path


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_creates_nothing_on_error_and_everything_on_success(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError), atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("x")
        raise ValueError
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("x")
    assert (out / "a.csv").read_text() == "x" and len(list(tmp_path.iterdir())) == 1


def test_weights_round_trip_and_metadata(tmp_path):
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    save_weights(a, tmp_path / "m.safetensors", {"n_chans": 4})
    assert load_weights(b, tmp_path / "m.safetensors") == {"n_chans": 4}
    assert torch.equal(a.weight, b.weight)


def test_weights_of_another_architecture_are_rejected_by_name(tmp_path):
    save_weights(nn.Linear(3, 2), tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match=r"m\.safetensors.*weight has shape \(2, 3\)"):
        load_weights(nn.Linear(4, 2), tmp_path / "m.safetensors")


class _Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').touch()",))


def test_pickle_payload_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(CheckpointError, match="not a safetensors"):
        load_weights(nn.Linear(3, 2), bad)
    torch.save({"x": _Evil()}, tmp_path / "state.pt")
    with pytest.raises(CheckpointError, match="not a neurotrio training checkpoint"):
        load_training_state(tmp_path / "state.pt")
    assert not (tmp_path / "PWNED").exists()


def test_training_state_restores_every_rng(tmp_path):
    torch.manual_seed(1)
    np.random.seed(1)
    state = rng_state()
    expected = (torch.rand(3), np.random.rand(3))
    save_training_state(tmp_path / "s.pt", epoch=2, rng=state)
    torch.rand(5)
    np.random.rand(5)
    loaded = load_training_state(tmp_path / "s.pt")
    set_rng_state(loaded["rng"])
    assert loaded["epoch"] == 2
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(3), expected[1])


def test_stale_parts_of_dead_writers_are_removed(tmp_path):
    """A killed writer's temp file/folder is cleaned by the next writer; a live writer's is kept."""
    import os
    import socket
    import subprocess
    import sys

    from neurotrio.core.io import atomic_dir, atomic_write_text

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    host = socket.gethostname()
    target = tmp_path / "result.json"
    stale = tmp_path / f".result.json.{host}-{dead}.abc123.part"
    stale.write_text("half")
    live = tmp_path / f".result.json.{host}-{os.getpid()}.def456.part"
    live.write_text("in progress")
    other = tmp_path / f".other.json.{host}-{dead}.x.part"
    other.write_text("another target's")
    atomic_write_text(target, "{}")
    assert target.read_text() == "{}"
    assert not stale.exists() and live.exists() and other.exists()
    stale_dir = tmp_path / f".run.{host}-{dead}.q.part"
    stale_dir.mkdir()
    (stale_dir / "model.safetensors").write_bytes(b"x")
    with atomic_dir(tmp_path / "run") as tmp:
        (tmp / "a.txt").write_text("a")
    assert not stale_dir.exists() and (tmp_path / "run" / "a.txt").exists()
