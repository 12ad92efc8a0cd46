"""EDF/EDF+/BDF header parsing from the file's own bytes, to refuse truncated or corrupt files.

MNE trusts the header's record count: a file cut short is read with missing records silently treated as
zeros or garbage. :func:`read_edf_header` compares the header's promise with the file's size first.
"""

from __future__ import annotations

import datetime
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from neurotrio.core.errors import InputError

log = logging.getLogger(__name__)

_SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("unit", 8), ("physical_min", 8), ("physical_max", 8),
                  ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80), ("n_samples", 8),
                  ("reserved", 32))


@dataclass(frozen=True)
class EdfSignalHeader:
    """One signal's header fields.

    Attributes:
        label: signal label, stripped.
        unit: physical dimension as written (e.g. "uV").
        n_samples: samples per data record.
        sfreq_hz: sampling rate, Hz (0 for annotation signals of a zero-length record).
        physical_min, physical_max, digital_min, digital_max: calibration range.
    """

    label: str
    unit: str
    n_samples: int
    sfreq_hz: float
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int

    @property
    def is_annotation(self) -> bool:
        return self.label in ("EDF Annotations", "BDF Annotations")


@dataclass(frozen=True)
class EdfHeader:
    """What an EDF/BDF header promises.

    Attributes:
        path: the file.
        is_bdf: 24-bit BioSemi BDF rather than 16-bit EDF.
        edf_plus: "EDF+C" or "EDF+D" when the reserved field says so, else "".
        header_bytes: size of the header, bytes.
        n_records: number of data records.
        record_s: duration of one data record, s.
        signals: one :class:`EdfSignalHeader` per signal, in file order.
        file_bytes: actual file size, bytes.
        start: recording start from the header's date and time fields (naive: EDF has no time zone;
            two-digit years 85-99 are 19xx, others 20xx, as the EDF+ specification says), or None when
            unreadable. EDF+ files may add a fraction of a second in the first record's time keeping.
    """

    path: Path
    is_bdf: bool
    edf_plus: str
    header_bytes: int
    n_records: int
    record_s: float
    signals: tuple[EdfSignalHeader, ...]
    file_bytes: int
    start: datetime.datetime | None = None

    @property
    def duration_s(self) -> float:
        """Recording length, s."""
        return self.n_records * self.record_s

    @property
    def record_bytes(self) -> int:
        return sum(s.n_samples for s in self.signals) * (3 if self.is_bdf else 2)


def _number(raw: bytes, what: str, path: Path, kind: type = float):
    text = raw.decode("latin-1").strip()
    try:
        return kind(float(text)) if kind is int else kind(text)
    except (ValueError, OverflowError):  # int(float("nan")) / int(float("inf"))
        raise InputError(path, f"corrupt EDF header: {what} is {text!r}, not a number") from None


def _start(raw: bytes) -> datetime.datetime | None:
    try:
        text = raw.decode("ascii")
        day, month, year = (int(v) for v in text[:8].split("."))
        hour, minute, second = (int(v) for v in text[8:16].split("."))
        return datetime.datetime(year + (1900 if year >= 85 else 2000), month, day, hour, minute, second)
    except (ValueError, UnicodeDecodeError):
        return None


def read_edf_header(path: str | Path) -> EdfHeader:
    """Parse and check an EDF/EDF+/BDF header.

    Args:
        path: the file.

    Returns:
        The parsed :class:`EdfHeader`.

    Raises:
        InputError: the file is missing, is not EDF/BDF, has a corrupt header, or is shorter than the
            header's record count requires (truncated). Extra trailing bytes are tolerated (logged).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fixed = fh.read(256)
        if len(fixed) < 256:
            raise InputError(path, f"not an EDF file: only {len(fixed)} bytes, an EDF header alone has 256")
        version = fixed[:8]
        if version not in (b"0       ", b"\xffBIOSEMI"):
            raise InputError(path, f"not an EDF/BDF file (version field {version!r}; EDF files start with '0')")
        header_bytes = _number(fixed[184:192], "the header size", path, int)
        edf_plus = fixed[192:197].decode("latin-1") if fixed[192:196] == b"EDF+" else ""
        n_records = _number(fixed[236:244], "the number of data records", path, int)
        record_s = _number(fixed[244:252], "the data record duration", path, float)
        ns = _number(fixed[252:256], "the number of signals", path, int)
        if not math.isfinite(record_s):
            raise InputError(path, f"corrupt EDF header: the data record duration is {record_s!r} s")
        if ns < 0 or header_bytes != 256 * (ns + 1):
            raise InputError(path, f"corrupt EDF header: {ns} signals need a {256 * (ns + 1)}-byte header, "
                                   f"the header says {header_bytes}")
        block = fh.read(256 * ns)
    if len(block) < 256 * ns:
        raise InputError(path, f"truncated: the header of {ns} signals needs {header_bytes} bytes, "
                               f"the file holds {size}")
    fields: dict[str, list[bytes]] = {}
    pos = 0
    for name, width in _SIGNAL_FIELDS:
        fields[name] = [block[pos + i * width: pos + (i + 1) * width] for i in range(ns)]
        pos += width * ns
    signals = []
    for i in range(ns):
        label = fields["label"][i].decode("latin-1").strip()
        n = _number(fields["n_samples"][i], f"the samples per record of signal {i + 1} ('{label}')", path, int)
        dmin = _number(fields["digital_min"][i], f"the digital minimum of '{label}'", path, int)
        dmax = _number(fields["digital_max"][i], f"the digital maximum of '{label}'", path, int)
        if n < 1 or dmin >= dmax:
            raise InputError(path, f"corrupt EDF header: signal '{label}' has {n} samples per record and "
                                   f"digital range {dmin}..{dmax}")
        signals.append(EdfSignalHeader(
            label=label, unit=fields["unit"][i].decode("latin-1").strip(), n_samples=n,
            sfreq_hz=n / record_s if record_s > 0 else 0.0,
            physical_min=_number(fields["physical_min"][i], f"the physical minimum of '{label}'", path),
            physical_max=_number(fields["physical_max"][i], f"the physical maximum of '{label}'", path),
            digital_min=dmin, digital_max=dmax))
    header = EdfHeader(path=path, is_bdf=version != b"0       ", edf_plus=edf_plus, header_bytes=header_bytes,
                       n_records=n_records, record_s=record_s, signals=tuple(signals), file_bytes=size,
                       start=_start(fixed[168:184]))
    data_bytes = size - header_bytes
    if n_records == -1:  # allowed while recording: derive from the size
        n_records = data_bytes // max(header.record_bytes, 1)
        header = EdfHeader(**{**header.__dict__, "n_records": n_records})
    if n_records < 0 or record_s < 0:
        raise InputError(path, f"corrupt EDF header: {n_records} data records of {record_s} s")
    timed = [s for s in signals if not s.is_annotation]
    if record_s == 0 and timed and n_records > 0:  # EDF+ allows 0-s records only in annotation-only files
        raise InputError(path, f"corrupt EDF header: data records of 0 s cannot hold the {timed[0].n_samples} "
                               f"samples per record of signal '{timed[0].label}' (no sampling rate)")
    expected = n_records * header.record_bytes
    if data_bytes < expected:
        raise InputError(path, f"truncated or corrupt EDF: the header says {n_records} data records "
                               f"({header_bytes + expected} bytes) but the file holds {size} bytes "
                               f"({data_bytes // max(header.record_bytes, 1)} whole records)")
    if data_bytes > expected:
        log.warning("%s: %d bytes after the last data record are ignored", path.name, data_bytes - expected)
    return header
