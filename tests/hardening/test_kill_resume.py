"""Crash safety: a training run killed with SIGKILL mid-epoch resumes to the same weights and metrics, and a
preprocessing cache killed mid-write never hands back a corrupt entry.

Training: ``neurotrio sleep train --protocol kfold`` on four small synthetic nights (real EDF files), run
three times as separate processes on CPU with a fixed seed: uninterrupted; killed with SIGKILL as soon as
the epoch-1 checkpoint of fold 0 exists (so the kill lands inside epoch 2); and the killed run restarted
with ``--resume``. The resumed run's per-fold weights, per-epoch histories, test probabilities and pooled
metrics must equal the uninterrupted run's bit for bit.

Caches: a child process writing a Sleep-EDF epoch cache entry (``sleepedf._write_cache``) or an MER tensor
(``preprocess.write_cached``) is killed half-way through the write; the next reader must not trust what
is left, and rebuilding gives exactly the uncached result. Entries damaged after the fact (truncated
file, altered array with its old checksum, missing sidecar) are refused as well.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
TRAIN_ARGS = ["--subset", "all", "--protocol", "kfold", "--set", "n_folds=2", "--set", "val_subjects=1",
              "--epochs", "3", "--device", "cpu", "--set", "batch_size=8", "--set", "trim_wake_min=null",
              "--seed", "5"]


def _nights(root: Path, n_subjects: int = 4, n_epochs: int = 30) -> Path:
    from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram, write_synthetic_psg

    folder = root / "sleep-cassette"
    for s in range(n_subjects):
        stages = default_stages(n_epochs)[s:] + default_stages(n_epochs)[:s]
        write_synthetic_psg(folder / f"SC4{s:02d}1E0-PSG.edf", stages=stages, seed=s)
        write_synthetic_hypnogram(folder / f"SC4{s:02d}1EC-Hypnogram.edf", stages)
    return root


def _train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "neurotrio.cli", "sleep", "train", "--data", str(data), "--out", str(out),
            *TRAIN_ARGS, *extra]


def _tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def _results(out: Path) -> dict:
    folds = {}
    for f in sorted(out.glob("fold*.json")):
        rec = json.loads(f.read_text())
        folds[f.name] = {"history": rec["history"], "best_epoch": rec["best_epoch"], "test_proba": rec["test_proba"]}
    return {"folds": folds, "kfold": json.loads((out / "kfold.json").read_text())["metrics"]}


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path) -> None:
    data = _nights(tmp_path / "sleep-edf")
    ref, run = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(_train_cmd(data, ref), check=True, env=ENV, capture_output=True, timeout=300)

    proc = subprocess.Popen(_train_cmd(data, run, "--resume"), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = run / "fold0.state.pt"
    deadline = time.monotonic() + 240
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (run / "fold0.json").exists() and not (run / "kfold.json").exists()

    from neurotrio.core.checkpoint import load_training_state

    saved = load_training_state(state)
    assert 1 <= saved["epoch"] < 3 and {"model", "optimizer", "scheduler", "rng", "loader_rng"} <= set(saved)

    resumed = subprocess.run(_train_cmd(data, run, "--resume"), env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not state.exists()  # removed once the fold finished
    assert not list(run.glob(".*.part"))  # a temp file the kill may have left is cleaned by the next writer

    for fold in ("fold0.safetensors", "fold1.safetensors"):
        a, b = _tensors(ref / fold), _tensors(run / fold)
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k]), f"{fold}: {k} differs after resume"
    assert _results(run) == _results(ref)


# ---------------------------------------------------------------------------------------------------------
# caches killed mid-write

_SLEEP_WRITER = r"""
import sys, time, io
import numpy as np
from pathlib import Path
from neurotrio.sleep import sleepedf

real_savez = np.savez
def slow_savez(fh, **arrays):  # write half of the real bytes, then hang until killed
    buf = io.BytesIO()
    real_savez(buf, **arrays)
    data = buf.getvalue()
    fh.write(data[: len(data) // 2])
    fh.flush()
    print("WRITING", flush=True)
    time.sleep(120)
    fh.write(data[len(data) // 2:])
np.savez = slow_savez
rec = sleepedf.Record("SC4001", 0, 1, Path(sys.argv[1]), Path(sys.argv[2]))
sleepedf.prepare_record(rec, trim_wake_min=None, cache_dir=sys.argv[3])
"""

_MER_WRITER = r"""
import sys, time
import numpy as np
from neurotrio.core import io as nio
from neurotrio.microexpression import preprocess

real = nio.atomic_write_text
def slow_sidecar(path, text):  # the tensor is in place; die before its checksum sidecar is written
    print("WRITING", flush=True)
    time.sleep(120)
    return real(path, text)
nio.atomic_write_text = slow_sidecar
preprocess.write_cached(sys.argv[1], np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))
"""


def _kill_when_writing(code: str, *args: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "WRITING":
        proc.kill()
        raise AssertionError(f"writer did not start: {line!r} {proc.stderr.read()[-2000:]}")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def test_sleep_epoch_cache_killed_mid_write_is_not_trusted(tmp_path, caplog) -> None:
    from neurotrio.sleep import sleepedf
    from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram, write_synthetic_psg

    stages = default_stages(8)
    psg = write_synthetic_psg(tmp_path / "SC4001E0-PSG.edf", stages=stages)
    hyp = write_synthetic_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", stages)
    cache = tmp_path / "cache"
    _kill_when_writing(_SLEEP_WRITER, str(psg), str(hyp), str(cache))
    assert not list(cache.glob("*.npz")), "a half-written entry appeared under its final name"
    assert list(cache.glob(".*.part")), "the killed writer should have been inside its temporary file"

    rec = sleepedf.Record("SC4001", 0, 1, psg, hyp)
    fresh = sleepedf.prepare_record(rec, trim_wake_min=None)
    built = sleepedf.prepare_record(rec, trim_wake_min=None, cache_dir=cache)
    (entry,) = cache.glob("*.npz")
    again = sleepedf.prepare_record(rec, trim_wake_min=None, cache_dir=cache)
    for ep in (built, again):
        assert np.array_equal(ep.x, fresh.x) and np.array_equal(ep.y, fresh.y)

    # damage after the fact: truncated file, and altered data that keeps its old checksum
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 3])
    with caplog.at_level("WARNING", logger="neurotrio.sleep.sleepedf"):
        assert np.array_equal(sleepedf.prepare_record(rec, trim_wake_min=None, cache_dir=cache).x, fresh.x)
    assert "unreadable cache entry" in caplog.text
    with np.load(entry) as z:
        parts = {k: z[k] for k in z.files}
    parts["x"] = parts["x"].copy()
    parts["x"][0, 0, 0] += 1.0
    with open(entry, "wb") as fh:
        np.savez(fh, **parts)
    caplog.clear()
    with caplog.at_level("WARNING", logger="neurotrio.sleep.sleepedf"):
        assert np.array_equal(sleepedf.prepare_record(rec, trim_wake_min=None, cache_dir=cache).x, fresh.x)
    assert "fails its checksum" in caplog.text


def test_mer_tensor_cache_killed_mid_write_is_not_trusted(tmp_path) -> None:
    from neurotrio.microexpression.preprocess import read_cached, write_cached

    entry = tmp_path / "cache" / "abc.npy"
    _kill_when_writing(_MER_WRITER, str(entry))
    assert entry.exists() and not entry.with_name("abc.npy.b2").exists()
    assert read_cached(entry) is None  # tensor without its checksum: rebuilt, never trusted

    arr = np.random.default_rng(0).standard_normal((5, 2, 8, 8)).astype(np.float32)
    write_cached(entry, arr)
    assert np.array_equal(read_cached(entry), arr)
    good = entry.read_bytes()
    entry.write_bytes(good[:-40])  # truncated tensor, intact sidecar
    assert read_cached(entry) is None
    altered = arr.copy()
    altered[0, 0, 0, 0] += 1
    with open(entry, "wb") as fh:
        np.save(fh, altered)  # a well-formed tensor that is not what the checksum describes
    assert read_cached(entry) is None
