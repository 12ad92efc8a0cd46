"""Event streams: the project's event dtype, AEDAT4 reading (streamed), and events .npz files.

Event convention (``EVENT_DTYPE``), the same for the AEDAT4 reader and the simulator:

* ``t``: int64 timestamp in microseconds (AEDAT4's own clock, not shifted to 0),
* ``x``, ``y``: int16 pixel column and row on the sensor (row 0 at the top),
* ``p``: uint8 polarity, 1 = ON (brightness up), 0 = OFF (brightness down).

AEDAT4 files are decoded by the maintained ``aedat`` package (Rust). Before handing a file to it, the
container is walked in Python (magic, header, every packet's stream id and size) so that truncated or
corrupt files give an ``InputError`` naming the file and byte offset instead of a Rust panic.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
MAGIC = b"#!AER-DAT4.0\r\n"


@dataclass(frozen=True)
class AedatLayout:
    """What the Python walk of an AEDAT4 container found.

    Attributes:
        n_packets: number of packets (all streams).
        data_start: byte offset of the first packet.
        data_end: byte offset where packets end (the file-data table or EOF).
    """

    n_packets: int
    data_start: int
    data_end: int


def empty_events(n: int = 0) -> np.ndarray:
    """A zeroed ``EVENT_DTYPE`` array of length ``n``."""
    return np.zeros(n, dtype=EVENT_DTYPE)


def check_aedat4(path: str | Path) -> AedatLayout:
    """Walk an AEDAT4 container's header and packet headers without decoding packets.

    Raises:
        InputError: missing file, wrong magic, or a header/packet extending past the end (truncated).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "AEDAT4 file not found")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise InputError(path, "not an AEDAT4 file (the first bytes are not '#!AER-DAT4.0')")
        raw = fh.read(4)
        if len(raw) < 4:
            raise InputError(path, "truncated AEDAT4 file: it ends inside the header")
        head_len = struct.unpack("<I", raw)[0]
        data_start = len(MAGIC) + 4 + head_len
        if data_start > size:
            raise InputError(path, f"truncated AEDAT4 file: the header declares {head_len} bytes, "
                                   f"the file holds {size - len(MAGIC) - 4}")
        head = fh.read(head_len)
        if head_len < 8 or head[4:8] != b"IOHE":
            raise InputError(path, "corrupt AEDAT4 header (no 'IOHE' flatbuffer identifier)")
        root = struct.unpack("<I", head[:4])[0]
        if root + 4 > head_len:
            raise InputError(path, f"corrupt AEDAT4 header (table offset {root} beyond the {head_len}-byte header)")
        file_data_position = _ioheader_file_data_position(head, root, path)
        _check_ioheader_description(head, root, path)
        end = size if file_data_position < 0 else file_data_position
        if end > size:
            raise InputError(path, f"truncated AEDAT4 file: packets should end at byte {end}, the file has {size}")
        pos, n = data_start, 0
        while pos < end:
            if pos + 8 > end:
                raise InputError(path, f"truncated AEDAT4 file: packet {n} header at byte {pos} is cut off")
            fh.seek(pos)
            _stream_id, length = struct.unpack("<II", fh.read(8))
            if pos + 8 + length > end:
                raise InputError(path, f"truncated AEDAT4 file: packet {n} at byte {pos} declares {length} bytes, "
                                       f"only {end - pos - 8} remain")
            pos += 8 + length
            n += 1
    return AedatLayout(n_packets=n, data_start=data_start, data_end=end)


def _ioheader_file_data_position(head: bytes, root: int, path: Path) -> int:
    """Read ``file_data_position`` (field 1, int64, default -1) from the ``Ioheader`` table, bounds-checked."""
    soff = struct.unpack_from("<i", head, root)[0]
    vt = root - soff
    if vt < 0 or vt + 4 > len(head):
        raise InputError(path, "corrupt AEDAT4 header (vtable outside the header)")
    vt_size = struct.unpack_from("<H", head, vt)[0]
    if vt + vt_size > len(head) or vt_size < 4:
        raise InputError(path, "corrupt AEDAT4 header (vtable size)")
    if vt_size < 8:
        return -1
    field = struct.unpack_from("<H", head, vt + 6)[0]
    if field == 0:
        return -1
    if root + field + 8 > len(head):
        raise InputError(path, "corrupt AEDAT4 header (file_data_position outside the header)")
    return struct.unpack_from("<q", head, root + field)[0]


def _check_ioheader_description(head: bytes, root: int, path: Path) -> None:
    """Check that the ``Ioheader`` description (field 2, a string) lies inside the header and is UTF-8.

    The ``aedat`` decoder turns it into a Python string; invalid UTF-8 there makes it abort the whole
    process (a Rust panic inside a destructor), so it is refused here first.
    """
    vt = root - struct.unpack_from("<i", head, root)[0]  # bounds already checked
    if struct.unpack_from("<H", head, vt)[0] < 10:
        return
    field = struct.unpack_from("<H", head, vt + 8)[0]
    if field == 0:
        return
    at = root + field
    start = at + struct.unpack_from("<I", head, at)[0] if at + 4 <= len(head) else len(head)
    n = struct.unpack_from("<I", head, start)[0] if start + 4 <= len(head) else len(head)
    if start + 4 + n > len(head):
        raise InputError(path, "corrupt AEDAT4 header (description outside the header)")
    try:
        head[start + 4:start + 4 + n].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"corrupt AEDAT4 header (description is not UTF-8 text at byte {exc.start})") from None


def _decoder(path: Path):
    try:
        import aedat
    except ImportError:  # pragma: no cover - aedat is a declared dependency
        from neurotrio.core.errors import DependencyError

        raise DependencyError("reading AEDAT4 needs the 'aedat' package: pip install 'aedat>=2.3'") from None
    return aedat.Decoder(str(path))


def _as_input_error(path: Path, exc: BaseException) -> InputError:
    msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return InputError(path, f"corrupt or truncated AEDAT4 file ({msg})")


def aedat4_sensor_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of the first event stream declared in an AEDAT4 file."""
    path = Path(path)
    check_aedat4(path)
    try:
        streams = _decoder(path).id_to_stream()
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - aedat raises RuntimeError and pyo3 PanicException
        raise _as_input_error(path, exc) from None
    for sid in sorted(streams):
        if streams[sid].get("type") == "events":
            return int(streams[sid]["height"]), int(streams[sid]["width"])
    raise InputError(path, f"no event stream in the AEDAT4 file (streams: {sorted(s['type'] for s in streams.values())})")


def _convert(raw: np.ndarray) -> np.ndarray:
    out = np.empty(len(raw), dtype=EVENT_DTYPE)
    out["t"] = raw["t"].astype(np.int64)
    out["x"] = raw["x"].astype(np.int16)
    out["y"] = raw["y"].astype(np.int16)
    names = raw.dtype.names
    out["p"] = raw["on" if "on" in names else "p"].astype(np.uint8)
    return out


def _check_monotonic(path: Path, t: np.ndarray, last_t: int | None) -> int:
    """Refuse event timestamps that go back in time, within a packet or from one packet to the next.

    Every reader cuts samples by time with a binary search (and stops reading at the first packet past a
    sample's end), which is only right on sorted events; packets stored out of time order gave an empty
    sample and a sample holding two drawings, silently (issue 9, ``../shared/cases/fewshot/
    nomniglot-unordered``). Refused, not sorted: a streamed read cannot sort what it has not read yet.
    Equal timestamps are allowed (DAVIS events share microseconds). Returns the packet's last time.
    """
    t = np.asarray(t)
    if last_t is not None and int(t[0]) < last_t:
        raise InputError(path, f"timestamps not monotonic: a packet starts at {int(t[0])} µs, before the previous "
                               f"packet's last event at {last_t} µs (packets stored out of time order)")
    if len(t) > 1 and bool((np.diff(t.astype(np.int64)) < 0).any()):
        k = int(np.argmax(np.diff(t.astype(np.int64)) < 0))
        raise InputError(path, f"timestamps not monotonic: event {k + 1} of a packet at {int(t[k + 1])} µs follows "
                               f"{int(t[k])} µs")
    return int(t[-1])


def iter_aedat4(path: str | Path, t_start_us: int | None = None, t_end_us: int | None = None,
                chunk_events: int = 1 << 20) -> Iterator[np.ndarray]:
    """Stream the events of an AEDAT4 file in chunks of about ``chunk_events`` events.

    Only events with ``t_start_us <= t < t_end_us`` are yielded; reading stops at the first packet
    starting at or after ``t_end_us`` (AEDAT4 event timestamps are monotonic), so cutting one sample out
    of a long recording reads only the file up to that sample.

    Args:
        path: the ``.aedat4`` file.
        t_start_us, t_end_us: optional time window in the file's microsecond clock.
        chunk_events: events are concatenated across packets up to about this many per yield.

    Yields:
        ``EVENT_DTYPE`` arrays (never empty).

    Raises:
        InputError: the file is missing, corrupt or truncated, or its timestamps go back in time
            ("timestamps not monotonic"; checked on every packet read).
    """
    path = Path(path)
    check_aedat4(path)
    try:
        decoder = _decoder(path)
        event_ids = {sid for sid, s in decoder.id_to_stream().items() if s.get("type") == "events"}
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - aedat raises RuntimeError and pyo3 PanicException
        raise _as_input_error(path, exc) from None
    if not event_ids:
        raise InputError(path, "no event stream in the AEDAT4 file")
    buf: list[np.ndarray] = []
    held = 0
    last_t: int | None = None
    it = iter(decoder)
    while True:
        try:
            packet = next(it)
        except StopIteration:
            break
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # noqa: BLE001
            raise _as_input_error(path, exc) from None
        if packet.get("stream_id") not in event_ids or "events" not in packet:
            continue
        raw = packet["events"]
        if len(raw) == 0:
            continue
        last_t = _check_monotonic(path, raw["t"], last_t)
        if t_end_us is not None and int(raw["t"][0]) >= t_end_us:
            break
        ev = _convert(raw)
        if t_start_us is not None or t_end_us is not None:
            lo = 0 if t_start_us is None else np.searchsorted(ev["t"], t_start_us, side="left")
            hi = len(ev) if t_end_us is None else np.searchsorted(ev["t"], t_end_us, side="left")
            ev = ev[lo:hi]
            if len(ev) == 0:
                continue
        buf.append(ev)
        held += len(ev)
        if held >= chunk_events:
            yield np.concatenate(buf)
            buf, held = [], 0
    if buf:
        yield np.concatenate(buf)


def read_aedat4(path: str | Path, t_start_us: int | None = None, t_end_us: int | None = None) -> np.ndarray:
    """All events of an AEDAT4 file (optionally within ``[t_start_us, t_end_us)``) as ``EVENT_DTYPE``.

    Example:
        >>> ev = read_aedat4("sample.aedat4")
        >>> ev.dtype == EVENT_DTYPE, int(ev["p"].max()) <= 1
        (True, True)

    Raises:
        InputError: the file is missing, corrupt or truncated.
    """
    chunks = list(iter_aedat4(path, t_start_us, t_end_us))
    return np.concatenate(chunks) if chunks else empty_events()


def aedat4_time_range(path: str | Path, chunk_events: int = 1 << 20) -> tuple[int, int]:
    """(first, last) event time of an AEDAT4 file, read streamed (one pass, memory of one chunk).

    Raises:
        InputError: the file is missing, corrupt, truncated or holds no events.
    """
    first = last = None
    for chunk in iter_aedat4(path, chunk_events=chunk_events):
        first = int(chunk["t"][0]) if first is None else first
        last = int(chunk["t"][-1])
    if first is None or last is None:
        raise InputError(Path(path), "the recording holds no events")
    return first, last


def save_events_npz(path: str | Path, events: np.ndarray, sensor_hw: tuple[int, int], **meta: float | int | str) -> Path:
    """Write events (``EVENT_DTYPE``) and the sensor size to ``path`` (.npz), atomically."""
    from neurotrio.core.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, events=np.asarray(events, dtype=EVENT_DTYPE), sensor_hw=np.asarray(sensor_hw, np.int64),
                 **{k: np.asarray(v) for k, v in meta.items()})
    return Path(path)


def load_events_npz(path: str | Path) -> tuple[np.ndarray, tuple[int, int]]:
    """Read an events .npz written by ``save_events_npz``: (events, sensor_hw)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            ev, hw = z["events"], tuple(int(v) for v in z["sensor_hw"])
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise InputError(path, f"not an events .npz ({str(exc).splitlines()[0][:120]})") from None
    if ev.dtype != EVENT_DTYPE:
        raise InputError(path, f"events have dtype {ev.dtype}, expected {EVENT_DTYPE}")
    return ev, hw


__all__ = ["EVENT_DTYPE", "AedatLayout", "aedat4_sensor_size", "aedat4_time_range", "check_aedat4", "empty_events",
           "iter_aedat4", "load_events_npz", "read_aedat4", "save_events_npz"]
