"""Per-epoch stage lists and stage tables (text/CSV/TSV, YASA-style), and the stage-name/code tables.

Written by hand with the standard library's ``csv``: pandas is not a dependency. See
:mod:`neurotrio.sleep.hypnogram_formats` for the layouts and the numeric code systems.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from neurotrio.core.errors import InputError
from neurotrio.sleep.hypnogram import (
    ANONYMOUS_DATE,
    UNKNOWN,
    ExpertHypnogram,
    StageInterval,
    refuse_layout,
    stage_code,
)

CodeSystem = Literal["rk", "aasm"]

RK_CODES = {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 4, 6: UNKNOWN, 9: UNKNOWN}  # R&K 1968; S3+S4 -> N3
AASM_CODES = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, -1: UNKNOWN, -2: UNKNOWN}  # AASM order as YASA codes it
EXTRA_NAMES = {"wake": 0, "awake": 0, "wach": 0, "art": UNKNOWN, "uns": UNKNOWN, "unscored": UNKNOWN,
               "n4": 3, "paradoxical": 4, "rem sleep": 4, "movement": UNKNOWN, "mvt": UNKNOWN,
               "stage 1 sleep": 1, "stage 2 sleep": 2, "stage 3 sleep": 3, "stage 4 sleep": 3}
STAGE_COLUMNS = ("stage", "stages", "sleep stage", "sleep_stage", "sleepstage", "hypnogram", "hypno", "label",
                 "labels", "score", "scoring", "value", "annotation", "event")
ONSET_COLUMNS = ("onset", "onset_s", "time", "start", "start_s", "clock", "clock time", "clock_time", "time_of_day")
DURATION_COLUMNS = ("duration", "duration_s", "dur")
EPOCH_COLUMNS = ("epoch", "epochs", "epoch_index", "epoch number", "epoch_no")
CLOCK = re.compile(r"^(?:(\d{4})-(\d\d)-(\d\d)[ T])?(\d{1,2}):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?$")
_INT = re.compile(r"^[+-]?\d+(?:\.0+)?$")
_NAMES_HELP = "W/Wake, N1/S1, N2/S2, N3/S3/S4, R/REM, ?/UNS/ART/Movement time, or numeric codes"


def name_code(text: str) -> int | None:
    """Stage code of a stage name (:func:`~neurotrio.sleep.hypnogram.stage_code` plus YASA's WAKE/ART/UNS)."""
    code = stage_code(text)
    return code if code is not None else EXTRA_NAMES.get(text.strip().lower())


def stage_intervals(annotations: Sequence[tuple[float, float, str]]) -> list[StageInterval]:
    """``(onset, duration, code)`` of the stage annotations among ``(onset, duration, text)`` ones."""
    out = []
    for onset, duration, text in annotations:
        code = name_code(text)
        if code is not None:
            out.append((float(onset), float(duration), code))
    return out


def parse_clock(text: str) -> tuple[dt.datetime | None, dt.time] | None:
    """A clock value "HH:MM[:SS[.fff]]" or "YYYY-MM-DD HH:MM:SS[.ffffff]" -> (datetime or None, time)."""
    m = CLOCK.match(text.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    if int(h) > 23 or int(mi) > 59 or int(s or 0) > 59:
        return None
    t = dt.time(int(h), int(mi), int(s or 0), int(((frac or "") + "000000")[:6]))
    return (dt.datetime.combine(dt.date(int(y), int(mo), int(d)), t) if y else None), t


def parse_float(path: str | Path, value: str, line: int) -> float:
    """A finite float from a cell, or an InputError naming the file and line."""
    try:
        v = float(value)
    except ValueError:
        raise InputError(path, f"line {line}: not a number: {value[:40]!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise InputError(path, f"line {line}: not a finite number: {value!r}")
    return v


def split_rows(text: str) -> list[list[str]]:
    """Rows of a text table: tab, ';' or ',' separated when every row has the same count, else whole lines."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    sample = lines[:50]
    for delim in ("\t", ";", ","):
        counts = {ln.count(delim) for ln in (sample[1:] or sample)}
        if len(counts) == 1 and counts != {0}:
            return [[c.strip() for c in row] for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)]
    return [[ln.strip()] for ln in lines]


def code_table(values: set[int], codes: CodeSystem | None, path: str | Path) -> dict[int, int]:
    """The numeric code system of a list: the stated one, else the only one its codes fit.

    Raises:
        InputError: 4 without 5/6/9/negative codes (ambiguous: R&K S4 or AASM REM) and no ``codes``; codes
            of both systems; a code outside the system.
    """
    if codes not in (None, "rk", "aasm"):
        raise ValueError(f"codes must be 'rk' or 'aasm', not {codes!r}")
    if codes is None:
        rk, aasm = sorted(values & {5, 6, 9}), sorted(values & {-1, -2})
        if rk and aasm:
            raise InputError(path, f"numeric stages mix R&K codes ({', '.join(map(str, rk))}) and AASM/YASA codes "
                                   f"({', '.join(map(str, aasm))}); state the code system")
        if not rk and not aasm and 4 in values:
            raise InputError(path, "numeric stages 0-4 are ambiguous: 4 is stage 4 (N3) in R&K (0 W, 1-4, 5 REM) but "
                                   "REM in AASM/YASA (0 W, 1 N1, 2 N2, 3 N3, 4 REM); state the code system "
                                   "(--reference-codes rk|aasm; Python: codes='rk' or 'aasm')")
        codes = "aasm" if aasm else "rk"
    table = RK_CODES if codes == "rk" else AASM_CODES
    bad = sorted(values - table.keys())
    if bad:
        allowed = ("R&K: 0 W, 1 S1, 2 S2, 3 S3, 4 S4, 5 REM, 6 movement, 9 unscored" if codes == "rk" else
                   "AASM/YASA: 0 W, 1 N1, 2 N2, 3 N3, 4 REM, -1 artefact, -2 unscored")
        raise InputError(path, f"numeric stage code(s) {', '.join(map(str, bad))} not in the {allowed}")
    return table


def _find(header: list[str], names: Sequence[str]) -> int | None:
    """Index of the first of ``names`` (in their order of preference) that the header holds."""
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _is_header(row: list[str]) -> bool:
    """A header row: it names a known column, or none of its cells is a stage, number or clock time.

    Empty cells are allowed (pandas writes an unnamed index column: ``,Stage``).
    """
    known = STAGE_COLUMNS + ONSET_COLUMNS + DURATION_COLUMNS + EPOCH_COLUMNS
    cells = [c for c in row if c]
    if any(c.lower() in known for c in cells):
        return True
    return bool(cells) and all(not _INT.match(c) and name_code(c) is None and parse_clock(c) is None
                               and not _is_number(c) for c in cells)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_stage_table(path: str | Path, rows: list[list[str]], epoch_s: float | None = None,
                     start: dt.datetime | None = None, codes: CodeSystem | None = None) -> ExpertHypnogram:
    """Read a per-epoch stage list or stage table (rows of cells, header optional).

    Columns: the stage column is the only column, or the header's ``stage`` (also ``Stage``, ``label``,
    ``hypno``, ...). Optional: ``epoch`` (epoch numbers, which place rows when they skip), ``onset``/``time``
    (seconds from the start, or clock times ``23:15:30`` / ``2021-03-04 23:15:30``, which give the start;
    times going back past midnight wrap to the next day), ``duration``. Without a header, two columns
    are read as (clock time or seconds, stage), as sleep-lab exports like ``22:30:00; Wake`` write them.

    Args:
        path: the file (named in errors).
        rows: the table's rows, as :func:`split_rows` gives them.
        epoch_s: the scoring epoch, s: required unless an onset column gives the times.
        start: the clock start of a table without clock times.
        codes: "rk" or "aasm" for numeric stages.

    Raises:
        InputError: unknown stage, ambiguous codes, no stated epoch, a table without a stage column.
    """
    header = [c.strip().lower() for c in rows[0]] if _is_header(rows[0]) else None
    body = rows[1:] if header else rows
    if not body:
        raise refuse_layout(path, "the hypnogram lists no stage")
    width = max(len(r) for r in body)
    body = [r + [""] * (width - len(r)) for r in body]  # short rows: missing cells are empty
    if header:
        col, on_col = _find(header, STAGE_COLUMNS), _find(header, ONSET_COLUMNS)
        dur_col, ep_col = _find(header, DURATION_COLUMNS), _find(header, EPOCH_COLUMNS)
        if col is None and width == 1:
            col = 0
    else:
        on_col = dur_col = ep_col = None
        col = 0 if width == 1 else None
        if width == 2 and all(parse_clock(r[0]) or _is_number(r[0]) for r in body[:20]):
            on_col, col = 0, 1
    if col is None:
        raise refuse_layout(path, f"a table of {width} columns without a stage column (header 'stage', as YASA "
                                  f"writes{'; found ' + ', '.join(header) if header else ''})")
    first = 2 if header else 1
    cells = [(n, r[col] if col < len(r) else "") for n, r in enumerate(body, first)]
    numbers = {int(float(c)) for _, c in cells if _INT.match(c)}
    table = code_table(numbers, codes, path) if numbers else {}
    if not any(_INT.match(c) or name_code(c) is not None for _, c in cells):
        raise refuse_layout(path, f"no line holds a sleep stage (first: {cells[0][1][:40]!r})")
    stages = []
    for n, c in cells:
        if _INT.match(c):
            stages.append(table[int(float(c))])
        elif not c.strip():
            stages.append(UNKNOWN)
        else:
            code = name_code(c)
            if code is None:
                raise InputError(path, f"line {n}: unknown stage {c[:40]!r} (accepted: {_NAMES_HELP})")
            stages.append(code)
    onsets, start, clock_only = _onsets(path, body, first, on_col, ep_col, epoch_s, start)
    if on_col is None and not epoch_s:
        raise InputError(path, "a per-epoch stage list does not say its epoch length: state it (epoch_s=30; "
                               "CLI --reference-epoch-s 30; 20 or 5 for older scorings)")
    if dur_col is not None:
        durations = [parse_float(path, r[dur_col], n) for n, r in enumerate(body, first)]
    else:
        step = epoch_s or _median_step(onsets)
        durations = [min(b - a, step) if b > a else step for a, b in zip(onsets, onsets[1:])] + [step]
    intervals: list[StageInterval] = []
    for o, d, c in zip(onsets, durations, stages):
        if intervals and intervals[-1][2] == c and abs(intervals[-1][0] + intervals[-1][1] - o) < 1e-6:
            intervals[-1] = (intervals[-1][0], intervals[-1][1] + d, c)
        else:
            intervals.append((o, d, c))
    fmt = "stage-list" if on_col is None and dur_col is None else "events-csv"
    return ExpertHypnogram(start, intervals, str(path), fmt, epoch_s=epoch_s, clock_only=clock_only)


def _median_step(onsets: list[float]) -> float:
    steps = sorted(b - a for a, b in zip(onsets, onsets[1:]) if b > a)
    return steps[len(steps) // 2] if steps else 30.0


def _onsets(path: str | Path, body: list[list[str]], first: int, on_col: int | None, ep_col: int | None,
            epoch_s: float | None, start: dt.datetime | None) -> tuple[list[float], dt.datetime | None, bool]:
    if on_col is None:
        if ep_col is not None and epoch_s:
            idx = [parse_float(path, r[ep_col], n) for n, r in enumerate(body, first)]
            if any(b <= a for a, b in zip(idx, idx[1:])):
                raise InputError(path, "the epoch numbers do not increase")
            return [(i - idx[0]) * epoch_s for i in idx], start, False
        return [i * (epoch_s or 0.0) for i in range(len(body))], start, False
    values = [r[on_col] for r in body]
    if all(_is_number(v) for v in values):
        return [parse_float(path, v, n) for n, v in enumerate(values, first)], start, False
    clocks = []
    for n, v in enumerate(values, first):
        c = parse_clock(v)
        if c is None:
            raise InputError(path, f"line {n}: not a clock time or seconds: {v[:40]!r}")
        clocks.append(c)
    dated = clocks[0][0]
    t0 = dated or dt.datetime.combine(ANONYMOUS_DATE, clocks[0][1])
    out, day, prev = [], 0, None
    for full, tod in clocks:
        if full is not None:
            out.append((full - t0).total_seconds())
            continue
        secs = tod.hour * 3600 + tod.minute * 60 + tod.second + tod.microsecond / 1e6
        if prev is not None and secs + day * 86400 < prev - 1e-6:
            day += 1  # the clock went past midnight
        out.append(secs + day * 86400 - (t0.hour * 3600 + t0.minute * 60 + t0.second + t0.microsecond / 1e6))
        prev = secs + day * 86400
    return out, t0, dated is None
