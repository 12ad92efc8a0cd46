"""Property-based fuzzing of the file readers: mutated EDF and AEDAT4 bytes never hang the readers and never
raise anything but the project's own error types (``NeurotrioError`` subclasses).

Valid files are written by the tests' own writers (``tests.sleep.synthetic`` for EDF/EDF+,
``tests.fewshot.aedat4_writer`` for AEDAT4), then hypothesis mutates their bytes: bit flips, truncations,
insertions and deletions, and rewrites of header fields with hostile values (NaN, inf, negative, huge,
empty, non-numeric). Each example runs under a ``signal.alarm`` timeout; the example count is bounded and
the search derandomised, so the test is reproducible and takes well under a minute.
"""

from __future__ import annotations

import functools
import signal
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurotrio.core.errors import NeurotrioError

TIMEOUT_S = 10  # per example; a reader that takes longer on a ~40-kB file is treated as hung
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HOSTILE = ["nan", "inf", "-inf", "-1", "0", "-0", "1e308", "99999999", "", " ", "abc", "1.5", "-99999", "0x10",
           "\x00\x00\x00", "3000", "1", "2", "EDF+C", "EDF+D"]

# EDF header fields (offset, width) of the fixed part; per-signal fields are added for signal 0..3
_EDF_FIXED = [(0, 8), (168, 8), (176, 8), (184, 8), (192, 44), (236, 8), (244, 8), (252, 4)]
_EDF_SIGNAL = [(16, "label"), (8, "unit"), (8, "pmin"), (8, "pmax"), (8, "dmin"), (8, "dmax"), (8, "ns")]


class Hang(Exception):
    """Raised by the alarm: the reader did not return within ``TIMEOUT_S``."""


def _alarm(_signum, _frame):
    raise Hang(f"reader did not return within {TIMEOUT_S} s")


def run_bounded(fn: Callable[[], object]) -> None:
    """Run ``fn`` under an alarm; only NeurotrioError may escape (it is swallowed: the reader refused)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        fn()
    except NeurotrioError:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@functools.lru_cache(maxsize=1)
def _seeds() -> dict[str, bytes]:
    """Valid files' bytes: a 2-epoch PSG (EMG at 1 Hz, edfio), an MNE-exported PSG, a hypnogram, an AEDAT4."""
    from tests.fewshot.aedat4_writer import write_aedat4
    from tests.fewshot.test_events import make_events
    from tests.sleep.synthetic import write_synthetic_hypnogram, write_synthetic_psg

    d = Path(tempfile.mkdtemp(prefix="neurotrio-fuzz-seeds-"))
    out = {
        "psg": write_synthetic_psg(d / "a.edf", n_epochs=2).read_bytes(),
        "psg_uniform": write_synthetic_psg(d / "b.edf", n_epochs=2, emg_sfreq_hz=100).read_bytes(),
        "hypnogram": write_synthetic_hypnogram(d / "h.edf", ["W", "N1", "N2", "REM"]).read_bytes(),
        "aedat4": write_aedat4(d / "e.aedat4", make_events(600), events_per_packet=100).read_bytes(),
        "aedat4_open": write_aedat4(d / "f.aedat4", make_events(300), events_per_packet=64,
                                    with_end_marker=False).read_bytes(),
    }
    return out


@st.composite
def mutated(draw, data: bytes, fields: list[tuple[int, int]]) -> bytes:
    """1-4 mutations of ``data``: bit flips, truncation, insertion, deletion, or a header field rewrite."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "field", "field", "byte_run"]))
        n = len(buf)
        if kind == "flip" and n:
            pos = draw(st.integers(0, n - 1))
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del buf[draw(st.integers(0, n)):]
        elif kind == "insert":
            pos = draw(st.integers(0, n))
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete" and n:
            pos = draw(st.integers(0, n - 1))
            del buf[pos:pos + draw(st.integers(1, 64))]
        elif kind == "byte_run" and n:
            pos = draw(st.integers(0, n - 1))
            run = draw(st.binary(min_size=1, max_size=16))
            buf[pos:pos + len(run)] = run
        elif kind == "field" and fields:
            off, width = draw(st.sampled_from(fields))
            value = draw(st.one_of(st.sampled_from(HOSTILE), st.text(alphabet="0123456789.-+eE ", max_size=width)))
            if off + width <= len(buf):
                buf[off:off + width] = value.encode("latin-1", "replace").ljust(width)[:width]
    return bytes(buf)


def _edf_fields(data: bytes) -> list[tuple[int, int]]:
    ns = int(data[252:256].decode().strip())
    fields, pos = list(_EDF_FIXED), 256
    widths = {"label": 16, "transducer": 80, "unit": 8, "pmin": 8, "pmax": 8, "dmin": 8, "dmax": 8,
              "prefiltering": 80, "ns": 8, "reserved": 32}
    for name, w in widths.items():
        if name in {n for _, n in _EDF_SIGNAL}:
            fields += [(pos + i * w, w) for i in range(ns)]
        pos += ns * w
    return fields


def _aedat_fields(data: bytes) -> list[tuple[int, int]]:
    """u32 words of the container: header length, IOHE table words, packet stream ids and sizes."""
    head_len = struct.unpack("<I", data[14:18])[0]
    fields = [(14, 4)] + [(18 + i, 4) for i in range(0, min(head_len, 48), 4)]
    pos = 18 + head_len
    while pos + 8 <= len(data):
        fields += [(pos, 4), (pos + 4, 4), (pos + 8, 4), (pos + 12, 4)]
        pos += 8 + struct.unpack("<I", data[pos + 4:pos + 8])[0]
    return fields


def _write(data: bytes, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix, prefix="fuzz-")
    with open(fd, "wb") as fh:
        fh.write(data)
    return Path(name)


def _edf_case(data: bytes) -> None:
    from neurotrio.sleep.edf import iter_psg_chunks, load_psg
    from neurotrio.sleep.edfheader import read_edf_header

    path = _write(data, ".edf")
    try:
        run_bounded(lambda: read_edf_header(path))
        run_bounded(lambda: load_psg(path))
        run_bounded(lambda: sum(c.shape[1] for c in iter_psg_chunks(path, chunk_epochs=1)))
    finally:
        path.unlink(missing_ok=True)


def _u32_rewrites(data: bytes, fields: list[tuple[int, int]]):
    return st.sampled_from(fields).flatmap(lambda f: st.tuples(
        st.just(f[0]), st.sampled_from([0, 1, 7, 8, 2**31 - 1, 2**32 - 1, len(data), len(data) * 2])))


@pytest.mark.parametrize("seed", ["psg", "psg_uniform"])
def test_edf_readers_refuse_mutated_psg_cleanly(seed: str) -> None:
    data = _seeds()[seed]

    @FUZZ
    @given(mutated(data, _edf_fields(data)))
    def check(blob: bytes) -> None:
        _edf_case(blob)

    check()


def test_hypnogram_reader_refuses_mutated_edf_plus_cleanly() -> None:
    from neurotrio.sleep.hypnogram import read_hypnogram

    data = _seeds()["hypnogram"]

    @FUZZ
    @given(mutated(data, _edf_fields(data)))
    def check(blob: bytes) -> None:
        path = _write(blob, ".edf")
        try:
            run_bounded(lambda: read_hypnogram(path))
        finally:
            path.unlink(missing_ok=True)

    check()


def _aedat_case(data: bytes) -> None:
    from neurotrio.fewshot.events import aedat4_sensor_size, iter_aedat4, read_aedat4

    path = _write(data, ".aedat4")
    try:
        run_bounded(lambda: read_aedat4(path))
        run_bounded(lambda: sum(len(c) for c in iter_aedat4(path, t_start_us=1_200_000, t_end_us=2_000_000,
                                                            chunk_events=50)))
        run_bounded(lambda: aedat4_sensor_size(path))
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("seed", ["aedat4", "aedat4_open"])
def test_aedat4_readers_refuse_mutated_files_cleanly(seed: str) -> None:
    data = _seeds()[seed]
    fields = _aedat_fields(data)

    @FUZZ
    @given(st.one_of(mutated(data, []), _u32_rewrites(data, fields).map(
        lambda ov: data[:ov[0]] + struct.pack("<I", ov[1]) + data[ov[0] + 4:])))
    def check(blob: bytes) -> None:
        _aedat_case(blob)

    check()


def test_the_seeds_are_valid_and_read_back() -> None:
    """The unmutated files read without error, so the fuzzing starts from real, valid inputs."""
    from neurotrio.fewshot.events import read_aedat4
    from neurotrio.sleep.edf import load_psg
    from neurotrio.sleep.hypnogram import read_hypnogram

    seeds = _seeds()
    for key in ("psg", "psg_uniform"):
        path = _write(seeds[key], ".edf")
        assert load_psg(path).data.shape == (4, 6000)
        path.unlink()
    path = _write(seeds["hypnogram"], ".edf")
    assert [t for _, _, t in read_hypnogram(path)][:2] == ["Sleep stage W", "Sleep stage 1"]
    path.unlink()
    for key, n in (("aedat4", 600), ("aedat4_open", 300)):
        path = _write(seeds[key], ".aedat4")
        ev = read_aedat4(path)
        assert len(ev) == n and np.all(np.diff(ev["t"]) >= 0)
        path.unlink()


def test_invalid_utf8_in_the_aedat4_description_is_refused_not_aborted(tmp_path) -> None:
    """Regression (found by this fuzzing): invalid UTF-8 in the header's XML made the Rust decoder abort the
    interpreter. Run in a subprocess so that a regression fails this test instead of killing pytest."""
    import subprocess
    import sys

    data = bytearray(_seeds()["aedat4"])
    i = data.index(b"originalModuleName")
    data[i + 2:i + 4] = b"\xdd\x28"
    bad = tmp_path / "utf.aedat4"
    bad.write_bytes(bytes(data))
    code = ("import sys\nfrom neurotrio.fewshot.events import read_aedat4\nfrom neurotrio.core.errors import InputError\n"
            "try:\n    read_aedat4(sys.argv[1])\nexcept InputError as e:\n    print(e)\n")
    res = subprocess.run([sys.executable, "-c", code, str(bad)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "utf.aedat4: corrupt AEDAT4 header (description is not UTF-8 text" in res.stdout
