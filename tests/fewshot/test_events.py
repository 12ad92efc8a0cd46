"""AEDAT4 reading (files written by the tests, and the real sample) and event binning."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.fewshot.events import (
    EVENT_DTYPE,
    aedat4_sensor_size,
    iter_aedat4,
    load_events_npz,
    read_aedat4,
    save_events_npz,
)
from neurotrio.fewshot.frames import events_to_frames

from .aedat4_writer import write_aedat4


def make_events(n: int, seed: int = 0, hw: tuple[int, int] = (260, 346), t0: int = 1_000_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = t0 + np.sort(rng.integers(0, 2_000_000, n))
    ev["x"], ev["y"] = rng.integers(0, hw[1], n), rng.integers(0, hw[0], n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


@pytest.mark.parametrize("end_marker", [True, False])
def test_roundtrip_written_aedat4(tmp_path, end_marker):
    ev = make_events(2345)
    path = write_aedat4(tmp_path / "r.aedat4", ev, events_per_packet=300, with_end_marker=end_marker)
    out = read_aedat4(path)
    assert out.dtype == EVENT_DTYPE
    for f in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(out[f], ev[f])
    assert aedat4_sensor_size(path) == (260, 346)


def test_iter_chunks_and_time_window(tmp_path):
    ev = make_events(5000, seed=1)
    path = write_aedat4(tmp_path / "w.aedat4", ev, events_per_packet=100)
    chunks = list(iter_aedat4(path, chunk_events=1000))
    assert len(chunks) == 5 and sum(map(len, chunks)) == 5000
    lo, hi = int(ev["t"][1000]), int(ev["t"][3000])
    win = read_aedat4(path, lo, hi)
    expected = ev[(ev["t"] >= lo) & (ev["t"] < hi)]
    np.testing.assert_array_equal(win["t"], expected["t"])


def test_events_to_frames_counts_by_hand():
    ev = np.zeros(5, dtype=EVENT_DTYPE)
    # t, x, y, p: two bins over [0, 100]; crop removes the last event
    for i, (t, x, y, p) in enumerate([(0, 1, 2, 1), (10, 1, 2, 1), (49, 0, 0, 0), (100, 3, 3, 1), (60, 9, 9, 1)]):
        ev[i] = (t, x, y, p)
    fr = events_to_frames(ev, 2, (4, 4), (10, 10), "count", crop=(0, 4, 0, 4), t_range_us=(0, 100))
    assert fr.shape == (2, 2, 4, 4) and fr.dtype == np.float32
    assert fr[0, 1, 2, 1] == 2 and fr[0, 0, 0, 0] == 1 and fr[1, 1, 3, 3] == 1  # t == t1 goes to the last bin
    assert fr.sum() == 4
    binary = events_to_frames(ev, 2, (4, 4), (10, 10), "binary", crop=(0, 4, 0, 4), t_range_us=(0, 100))
    assert binary[0, 1, 2, 1] == 1.0 and binary.sum() == 3


def test_events_to_frames_area_resize_keeps_mean():
    ev = make_events(20000, seed=2, hw=(40, 40))
    full = events_to_frames(ev, 3, (40, 40), (40, 40), "count")
    small = events_to_frames(ev, 3, (10, 10), (40, 40), "count")
    np.testing.assert_allclose(small.mean(axis=(2, 3)), full.mean(axis=(2, 3)), rtol=1e-5)
    assert full.sum() == 20000


def test_events_npz_roundtrip(tmp_path):
    ev = make_events(100)
    save_events_npz(tmp_path / "e.npz", ev, (260, 346))
    out, hw = load_events_npz(tmp_path / "e.npz")
    assert hw == (260, 346) and (out == ev).all()


@pytest.mark.realdata
def test_real_sample_aedat4(shared_data):
    path = shared_data / "fewshot" / "events" / "sample.aedat4"
    ev = read_aedat4(path)
    assert len(ev) == 111_954
    assert aedat4_sensor_size(path) == (240, 320)
    assert 0.55 < (ev["t"][-1] - ev["t"][0]) / 1e6 < 0.62
    assert set(np.unique(ev["p"])) == {0, 1} and ev["x"].max() < 320 and ev["y"].max() < 240
    fr = events_to_frames(ev, 4, (28, 28), (240, 320), "count")
    assert fr.shape == (4, 2, 28, 28) and fr.sum() > 0
    assert sum(len(c) for c in iter_aedat4(path, chunk_events=10_000)) == 111_954
