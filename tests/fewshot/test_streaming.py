"""Streamed event binning: same frames as the whole-array path, memory bounded by the chunk size."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.fewshot.events import EVENT_DTYPE, aedat4_time_range, iter_aedat4, read_aedat4
from neurotrio.fewshot.frames import aedat4_to_frames, events_to_frames, stream_events_to_frames
from neurotrio.fewshot.nomniglot import NOMNIGLOT_CROP, NOMNIGLOT_SENSOR_HW, NOmniglot

from .aedat4_writer import write_aedat4

HW = NOMNIGLOT_SENSOR_HW


def random_events(n: int, seed: int = 0, t0: int = 1_000_000, dur: int = 2_000_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = t0 + np.sort(rng.integers(0, dur, n))
    ev["x"], ev["y"] = rng.integers(0, HW[1], n), rng.integers(0, HW[0], n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def chunked(ev: np.ndarray, size: int):
    return (ev[i:i + size] for i in range(0, len(ev), size))


@pytest.mark.parametrize("mode", ["binary", "count"])
@pytest.mark.parametrize("chunk", [1, 7, 1000, 4999, 100_000])
def test_streamed_binning_equals_whole_array(mode, chunk):
    ev = random_events(5000, seed=3)
    one = slice(1000, 1050)  # one pixel, polarity and time 50 times
    ev["x"][one], ev["y"][one], ev["p"][one], ev["t"][one] = 60, 10, 1, ev["t"][1000]
    # t_range inside the events: drops both ends, an event exactly at t1 goes to the last bin
    t_range = (int(ev["t"][300]), int(ev["t"][4500]))
    kw = dict(crop=NOMNIGLOT_CROP, t_range_us=t_range)
    for size in ((250, 250), (28, 28)):
        whole = events_to_frames(ev, 5, size, HW, mode, **kw)
        streamed = stream_events_to_frames(chunked(ev, chunk), 5, size, HW, mode, **kw)
        np.testing.assert_array_equal(streamed, whole)
    assert whole.shape == (5, 2, 28, 28)
    if mode == "count":  # the crop and the range really dropped events, and a pixel counted many times
        full = events_to_frames(ev, 5, (250, 250), HW, mode, **kw)
        assert 0 < full.sum() < 4201 and full.max() >= 50


def test_chunks_split_bins_and_come_in_any_order():
    ev = random_events(3000, seed=4)
    t_range = (int(ev["t"][0]), int(ev["t"][-1]))
    whole = events_to_frames(ev, 3, (HW[0], HW[1]), HW, "count")
    # 3 bins over the range, chunks of 1100 events: every chunk boundary falls inside a bin
    parts = list(chunked(ev, 1100))[::-1]
    np.testing.assert_array_equal(stream_events_to_frames(parts, 3, HW, HW, "count", t_range_us=t_range), whole)
    assert whole.sum() == 3000


def test_streamed_binning_rejects_events_off_the_sensor():
    ev = random_events(100)
    ev["x"][-1] = HW[1]
    with pytest.raises(InputError, match="outside the 260x346 sensor"):
        stream_events_to_frames(chunked(ev, 30), 2, (28, 28), HW, t_range_us=(0, 10**8))


N_LARGE = 3_000_000  # 39 MB as EVENT_DTYPE, 48 MB on disk


@pytest.fixture(scope="module")
def large_character(tmp_path_factory):
    """An N-Omniglot-layout character whose one recording holds N_LARGE events in 20 samples."""
    root = tmp_path_factory.mktemp("large") / "nomni"
    char = root / "dvs_background" / "Alpha" / "character01"
    char.mkdir(parents=True)
    t0, dur = 5_000_000, 20 * 2_300_000
    ev = random_events(N_LARGE, seed=5, t0=t0, dur=dur)
    write_aedat4(char / "0001.aedat4", ev, events_per_packet=4096)
    step = dur // 20
    (char / "0001.csv").write_text("index,start,end\n" + "".join(
        f"{k},{t0 + k * step},{t0 + (k + 1) * step}\n" for k in range(20)))
    return root, char / "0001.aedat4", ev


def traced_peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_file_converted_in_bounded_memory(large_character):
    _root, path, ev = large_character
    full_bytes = N_LARGE * EVENT_DTYPE.itemsize
    assert aedat4_time_range(path, chunk_events=1 << 16) == (int(ev["t"][0]), int(ev["t"][-1]))
    frames, peak = traced_peak(lambda: aedat4_to_frames(path, 4, (250, 250), "count", crop=NOMNIGLOT_CROP,
                                                        chunk_events=1 << 16))
    # about 1 MB chunks + 4 MB counts + 2 MB frames + slice temporaries; loading the file whole is > 39 MB
    assert peak < full_bytes / 4, f"peak {peak / 2**20:.1f} MiB"
    expected = events_to_frames(ev, 4, (250, 250), HW, "count", crop=NOMNIGLOT_CROP)
    np.testing.assert_array_equal(frames, expected)
    _, whole_peak = traced_peak(lambda: events_to_frames(read_aedat4(path), 4, (250, 250), HW, "count",
                                                         crop=NOMNIGLOT_CROP))
    assert whole_peak > full_bytes  # the bound above would catch a whole-file read


def test_nomniglot_streams_large_recordings(large_character):
    root, path, _ev = large_character
    assert path.stat().st_size > 40 << 20
    streamed = NOmniglot(root, frames=4, mode="count", size=250, whole_file_max_bytes=1 << 20, chunk_events=1 << 16)
    whole = NOmniglot(root, frames=4, mode="count", size=250, whole_file_max_bytes=1 << 40)
    (x_last, y), peak = traced_peak(lambda: streamed[19])  # the last sample: the whole file is read through
    assert peak < N_LARGE * EVENT_DTYPE.itemsize / 4, f"peak {peak / 2**20:.1f} MiB"
    assert not streamed._cache  # nothing decoded whole
    for i in (0, 7, 19):
        np.testing.assert_array_equal(streamed[i][0].numpy(), whole[i][0].numpy())
        np.testing.assert_array_equal(streamed.sample_events(i), whole.sample_events(i))
    assert y == 0 and x_last.sum().item() > 0


def test_nomniglot_stream_checks_boundaries(tmp_path):
    ev = random_events(20_000, seed=6, t0=1_000_000, dur=1_000_000)
    char = tmp_path / "n" / "dvs_background" / "Alpha" / "character01"
    char.mkdir(parents=True)
    write_aedat4(char / "0001.aedat4", ev, events_per_packet=512)
    first, last = int(ev["t"][0]), int(ev["t"][-1])
    (char / "0001.csv").write_text(f"index,start,end\n0,{first},{first + 1000}\n1,{first - 5000},{first + 2000}\n"
                                   f"2,{last - 1000},{last + 5000}\n3,{last - 1000},{last + 500}\n")
    for limit in (0, 1 << 40):  # streamed and read whole: the same checks
        ds = NOmniglot(tmp_path / "n", frames=2, mode="count", size=250, whole_file_max_bytes=limit,
                       chunk_events=1000)
        assert len(ds.sample_events(0)) == ((ev["t"] >= first) & (ev["t"] < first + 1000)).sum()
        assert len(ds.sample_events(3)) == (ev["t"] >= last - 1000).sum()  # end within 1 ms of the last event
        assert ds[3][0].sum().item() > 0
        with pytest.raises(InputError, match=r"0001\.csv: row 2 .* outside the recording"):
            ds[1]
        with pytest.raises(InputError, match=r"0001\.csv: row 3 .* outside the recording"):
            ds.sample_events(2)


def test_iter_window_matches_streamed_window(large_character):
    _root, path, ev = large_character
    lo, hi = int(ev["t"][1_000_000]), int(ev["t"][1_200_000])
    got = np.concatenate(list(iter_aedat4(path, lo, hi, chunk_events=1 << 15)))
    np.testing.assert_array_equal(got["t"], ev["t"][(ev["t"] >= lo) & (ev["t"] < hi)])
