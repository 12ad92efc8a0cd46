"""Read an expert hypnogram in the layouts sleep labs export, without pandas.

Accepted layouts (:data:`~neurotrio.sleep.hypnogram.ACCEPTED_LAYOUTS`), each read into an :class:`~neurotrio.sleep.hypnogram.ExpertHypnogram`:

- EDF+ annotations (``.edf``/``.bdf``/``.rec``, e.g. Sleep-EDF's ``*-Hypnogram.edf``): read with MNE; the
  start is the header's start date and time.
- MNE annotation files: ``.csv`` with header ``onset,duration,description`` (onsets as seconds, or as
  clock times when the annotations had an ``orig_time``), ``.txt`` (``# MNE-Annotations`` and
  ``# orig_time : ...``), ``.fif`` (read by MNE); an ``mne.Annotations`` object.
- per-epoch stage lists (``.txt``/``.csv``/``.tsv``/``.hyp``/...): one stage per line, as names (W, Wake,
  N1, S2, REM, R, "Sleep stage 4", ...) or numbers, with an optional header (a ``stage`` column, as YASA
  writes; an ``epoch`` column; an ``onset``/``time`` column in seconds or clock time). The scoring epoch
  must be stated (``epoch_s``); 5-, 10-, 15-, 20-s scoring is resampled when aligned
  (:func:`~neurotrio.sleep.hypnogram.align_to_epochs`).
- NSRR XML of scored events (SHHS, MESA, ...): ``<PSGAnnotation><EpochLength>`` and ``<ScoredEvent>`` with
  ``EventType`` ``Stages|Stages``, ``EventConcept`` such as ``Wake|0`` or ``REM sleep|5``, ``Start`` and
  ``Duration`` in seconds from the recording start; the start clock comes from the "Recording Start
  Time" event's ``ClockTime``. Compumedics Profusion XML (``<CMPStudyConfig><SleepStages>``) too.

Numeric stage codes. Two systems are in use: R&K (0 W, 1 S1, 2 S2, 3 S3, 4 S4, 5 REM, 6 movement,
9 unscored; S3 and S4 become N3) and AASM/YASA (0 W, 1 N1, 2 N2, 3 N3, 4 REM, -1 artefact/movement,
-2 unscored). A list whose codes fit only one system is read in it; one holding 4 but neither 5, 6, 9 nor
a negative code is ambiguous (4 is N3 in R&K, REM in AASM) and refused unless ``codes`` says which.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from neurotrio.core.errors import InputError
from neurotrio.sleep.hypnogram import (  # align_to_epochs, expert_period: re-exported
    ExpertHypnogram,
    align_to_epochs,
    expert_period,
    read_hypnogram,
    read_mne_csv,
    refuse_layout,
)
from neurotrio.sleep.hypnogram_lists import (
    CodeSystem,
    parse_float,
    read_stage_table,
    split_rows,
    stage_intervals,
)
from neurotrio.sleep.hypnogram_xml import read_scored_events_xml


def read_expert_hypnogram(source: str | Path | Any, epoch_s: float | None = None, start: dt.datetime | None = None,
                          codes: CodeSystem | None = None) -> ExpertHypnogram:
    """Read an expert hypnogram in any accepted layout (see the module docstring).

    Args:
        source: a file path, or an ``mne.Annotations`` object.
        epoch_s: the scoring epoch of a per-epoch stage list, s (required for those; ignored otherwise
            except as the duration of zero-length events).
        start: the clock start of a layout that has none (a stage list); overrides nothing else.
        codes: "rk" or "aasm" for numeric stage lists (needed when the codes are ambiguous).

    Returns:
        An :class:`ExpertHypnogram` holding only stage intervals (arousals, lights, ... are dropped).

    Raises:
        InputError: naming the file: missing, unreadable, a layout not read (listing the accepted
            ones), no stage annotation, an unknown stage or code, a list without its epoch length.

    Example:
        >>> hyp = read_expert_hypnogram("night.stages.txt", epoch_s=30)  # doctest: +SKIP
        >>> hyp.format, hyp.annotations[:2]  # doctest: +SKIP
        ('stage-list', [(0.0, 60.0, 0), (60.0, 30.0, 1)])
    """
    if type(source).__name__ == "Annotations" and hasattr(source, "orig_time"):
        return _from_mne(source, "mne.Annotations", "mne-annotations")
    path = Path(source)
    if not path.is_file():
        raise InputError(path, "hypnogram file not found")
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(256)
    if suffix in (".edf", ".bdf", ".rec") or (head[:8] in (b"0       ", b"\xffBIOSEMI") and suffix != ".csv"):
        return _read_edf(path)
    if suffix == ".fif":
        import mne

        try:
            return _from_mne(mne.read_annotations(path), str(path), "mne-fif")
        except Exception as exc:  # MNE raises many types on foreign files
            raise refuse_layout(path, f"not a readable MNE .fif annotation file ({type(exc).__name__})") from exc
    if suffix == ".xml" or head.lstrip().startswith(b"<"):
        return read_scored_events_xml(path, epoch_s)
    if suffix in (".gz", ".zip", ".xlsx", ".xls", ".mat", ".npy", ".npz", ".json", ".pdf") or b"\x00" in head:
        raise refuse_layout(path, f"'{suffix or path.name}' is not a hypnogram layout neurotrio reads")
    text = _read_text(path)
    return _read_text_layout(path, text, epoch_s, start, codes)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise refuse_layout(path, "not a text file")  # pragma: no cover - latin-1 decodes anything


def edf_start_time(path: str | Path) -> tuple[dt.datetime | None, bool]:
    """EDF header start (bytes 168-184 'dd.mm.yyhh.mm.ss'; years 85-99 -> 19xx, else 20xx, EDF+ 2.1.3.2).

    Returns (start, clock_only): an anonymised 01.01.85 date keeps only the time of day; 01.01.85 00.00.00
    (what a writer without a start puts) is no start at all.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(184)[168:184].decode("ascii")
        day, month, year = (int(v) for v in raw[:8].split("."))
        hour, minute, second = (int(v) for v in raw[8:].split("."))
        t = dt.datetime(year + (1900 if year >= 85 else 2000), month, day, hour, minute, second)
    except (OSError, ValueError, UnicodeDecodeError):
        return None, False
    if t == dt.datetime(1985, 1, 1):
        return None, False
    return t, t.date() == dt.date(1985, 1, 1)


def _read_edf(path: Path) -> ExpertHypnogram:
    annotations = read_hypnogram(path)  # keeps its checks: EDF+ header, readable, at least one stage
    start, clock_only = edf_start_time(path)
    return ExpertHypnogram(start, stage_intervals(annotations), str(path), "edf+", clock_only=clock_only)


def _from_mne(ann: Any, source: str, fmt: str) -> ExpertHypnogram:
    triples = [(float(o), float(d), str(t)) for o, d, t in zip(ann.onset, ann.duration, ann.description)]
    intervals = stage_intervals(triples)
    if not intervals:
        found = sorted({t for _, _, t in triples})[:8]
        raise InputError(source, "no sleep-stage annotations (expected e.g. 'Sleep stage W', 'N2', 'REM'); found: "
                                 f"{', '.join(found) if found else 'no annotations at all'}")
    start = None if ann.orig_time is None else ann.orig_time.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return ExpertHypnogram(start, intervals, source, fmt)


def _read_text_layout(path: Path, text: str, epoch_s: float | None, start: dt.datetime | None,
                      codes: CodeSystem | None) -> ExpertHypnogram:
    if text.lstrip().startswith("# MNE-Annotations"):
        return _read_mne_txt(path, text)
    rows = split_rows(text)
    if not rows:
        raise InputError(path, "the hypnogram file is empty")
    header = [c.lower() for c in rows[0]]
    if {"onset", "duration", "description"} <= set(header):
        return _read_mne_csv(path)
    return read_stage_table(path, rows, epoch_s, start, codes)


def _read_mne_txt(path: Path, text: str) -> ExpertHypnogram:
    start = None
    triples = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("# orig_time :"):
            value = s.split(":", 1)[1].strip()
            if value and value.lower() != "none":
                start = _datetime(path, value, n)
        elif s and not s.startswith("#"):
            cells = [c.strip() for c in s.split(",")]
            if len(cells) < 3:
                raise InputError(path, f"line {n}: expected 'onset, duration, description', got {s[:60]!r}")
            triples.append((parse_float(path, cells[0], n), parse_float(path, cells[1], n), cells[2]))
    return _mne_table(path, triples, start, "mne-txt")


def _read_mne_csv(path: Path) -> ExpertHypnogram:
    start, triples = read_mne_csv(path)
    return _mne_table(path, triples, start, "mne-csv")


def _mne_table(path: Path, triples: list[tuple[float, float, str]], start: dt.datetime | None,
               fmt: str) -> ExpertHypnogram:
    intervals = stage_intervals(triples)
    if not intervals:
        found = sorted({t for _, _, t in triples})[:8]
        raise InputError(path, "no sleep-stage annotations (expected e.g. 'Sleep stage W', 'N2', 'REM'); found: "
                               f"{', '.join(found) if found else 'no annotations at all'}")
    return ExpertHypnogram(start, intervals, str(path), fmt)


def _datetime(path: Path, value: str, line: int) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        raise InputError(path, f"line {line}: not a date and time: {value[:40]!r}") from None
    return t if t.tzinfo is None else t.astimezone(dt.timezone.utc).replace(tzinfo=None)




__all__ = ["read_expert_hypnogram", "align_to_epochs", "expert_period", "edf_start_time", "ExpertHypnogram"]
