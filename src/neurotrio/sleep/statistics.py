"""Sleep statistics of a hypnogram (AASM definitions) and the lights-off / lights-on period.

Definitions follow the AASM Manual for the Scoring of Sleep and Associated Events, v2.6 (Berry et al.,
2020), "Parameters to be reported for polysomnography", sleep scoring data (the same list as Iber et al.,
2007), where the manual defines the quantity; the others are marked "not AASM" with their usual source.
All durations are minutes; the analysed period is lights-off to lights-on.

=================  ===========================================================================================
``TIB_min``        time in bed = AASM total recording time (TRT): lights-off to lights-on, clock time
                   (gaps of an EDF+D file and unscored epochs count in it, as in any TRT)
``SOL_min``        sleep latency (AASM SL): lights-off to the first epoch of any sleep stage
``TST_min``        total sleep time: epochs scored N1, N2, N3 or R in the period
``SE_pct``         sleep efficiency: TST / TRT x 100 (AASM)
``WASO_min``       wake after sleep onset: epochs scored W after sleep onset until lights-on; the AASM's
                   TRT - SL - TST when every epoch is scored (unscored time is not counted as wake here)
``SPT_min``        sleep period time (not AASM; Rechtschaffen & Kales usage, YASA): first sleep epoch onset
                   to the end of the last sleep epoch
``SME_pct``        sleep maintenance efficiency (not AASM; YASA): TST / SPT x 100
``<S>_min``        time in each stage W, N1, N2, N3, REM within the period (AASM "time in each stage")
``<S>_pct_TST``    percent of TST in each sleep stage (AASM)
``<S>_pct_SPT``    percent of SPT in each sleep stage (W_pct_SPT: wake inside the sleep period)
``Lat_<S>_min``    stage latency from sleep onset to the first epoch of the stage: AASM's stage R latency,
                   applied to N1, N2, N3 too (None when the stage never occurs)
``n_awakenings``   wake bouts (one or more consecutive W epochs) inside the sleep period, i.e. followed by
                   sleep again (the final awakening is not counted; not AASM)
``n_stage_shifts`` changes of stage between consecutive scored epochs in the period (W included; not AASM)
``unscored_min``   epochs in the period not scored (unscored, movement, artefact, "?")
``gap_min``        period time not covered by any epoch (EDF+D gaps)
=================  ===========================================================================================

Where the field disagrees (YASA 0.8 ``sleep_statistics``): YASA's WASO counts wake inside SPT only (not
the wake after the final awakening, which the AASM's TRT - SL - TST includes); YASA's ``Lat_*`` count from
the start of the hypnogram (lights-off), not from sleep onset; YASA's TIB is the hypnogram's length
(gaps are not known to it). Unscored epochs are skipped by both when runs and shifts are counted here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from neurotrio.core.errors import InputError

STAGE_NAMES = ("W", "N1", "N2", "N3", "REM")


def sleep_statistics(stages: np.ndarray, onset_s: np.ndarray | None = None, epoch_s: float = 30.0,
                     lights_off_s: float | None = None, lights_on_s: float | None = None) -> dict[str, Any]:
    """Standard sleep statistics of one night (see the module docstring for every definition and source).

    Args:
        stages: int (n_epochs,) stage codes 0..4 (W, N1, N2, N3, REM), -1 for an epoch not scored.
        onset_s: float (n_epochs,) increasing epoch onsets, s (default ``arange(n) * epoch_s``); gaps between
            them (EDF+D) count in TIB but in no stage.
        epoch_s: epoch length, s.
        lights_off_s, lights_on_s: the analysed period on the ``onset_s`` clock (default: the first epoch's
            onset, the last epoch's end). An epoch belongs to the period when its middle lies inside.

    Returns:
        A dict of floats (minutes, percent), ints (counts) and None (latencies of absent stages, and the
        sleep-dependent values of a night without sleep), plus ``lights_off_s``, ``lights_on_s``,
        ``sleep_onset_s`` and ``sleep_end_s`` on the ``onset_s`` clock.

    Raises:
        ValueError: codes outside -1..4, onsets not increasing by at least one epoch, shapes that differ,
            or lights-on not after lights-off.

    Example:
        >>> s = sleep_statistics(np.array([0, 0, 1, 2, 2, 0, 2, 4, 4, 0]))
        >>> s["TST_min"], s["SOL_min"], s["WASO_min"], s["SE_pct"], s["Lat_REM_min"]
        (3.0, 1.0, 1.0, 60.0, 2.5)
    """
    y = np.asarray(stages).astype(np.int64).ravel()
    t = (np.arange(y.size) * float(epoch_s) if onset_s is None else np.asarray(onset_s, dtype=np.float64).ravel())
    if t.shape != y.shape:
        raise ValueError(f"stages ({y.size}) and onset_s ({t.size}) differ in length")
    if y.size and (y.min() < -1 or y.max() > 4):
        raise ValueError("stage codes must be -1 (not scored) or 0..4 (W, N1, N2, N3, REM)")
    if y.size > 1 and np.any(np.diff(t) < epoch_s - 1e-6):
        raise ValueError(f"onset_s must increase by at least one epoch ({epoch_s:g} s)")
    off = float(lights_off_s) if lights_off_s is not None else (float(t[0]) if t.size else 0.0)
    on = float(lights_on_s) if lights_on_s is not None else (float(t[-1]) + epoch_s if t.size else 0.0)
    if t.size and on <= off:
        raise ValueError(f"lights-on ({on:g} s) must come after lights-off ({off:g} s)")
    inside = (t + epoch_s / 2 >= off) & (t + epoch_s / 2 < on)
    y, t = y[inside], t[inside]
    e_min = epoch_s / 60.0
    out: dict[str, Any] = {"lights_off_s": off, "lights_on_s": on, "TIB_min": (on - off) / 60.0}
    counts = {s: int((y == i).sum()) for i, s in enumerate(STAGE_NAMES)}
    sleep = np.flatnonzero(y >= 1)
    tst = (y.size - counts["W"] - int((y < 0).sum())) * e_min
    out["TST_min"] = tst
    out["SE_pct"] = 100.0 * tst / out["TIB_min"] if out["TIB_min"] > 0 else None
    if sleep.size:
        onset_t, end_t = float(t[sleep[0]]), float(t[sleep[-1]]) + epoch_s
        spt = (end_t - onset_t) / 60.0
        in_spt = slice(sleep[0], sleep[-1] + 1)
        out.update(sleep_onset_s=onset_t, sleep_end_s=end_t, SOL_min=(onset_t - off) / 60.0, SPT_min=spt,
                   WASO_min=int((y[sleep[0]:] == 0).sum()) * e_min, SME_pct=100.0 * tst / spt)
    else:
        out.update(sleep_onset_s=None, sleep_end_s=None, SOL_min=None, SPT_min=0.0, WASO_min=None, SME_pct=None)
        in_spt = slice(0, 0)
    for s in STAGE_NAMES:
        out[f"{s}_min"] = counts[s] * e_min
    for i, s in enumerate(STAGE_NAMES):
        if i > 0:
            out[f"{s}_pct_TST"] = 100.0 * counts[s] * e_min / tst if tst > 0 else None
        n_spt = int((y[in_spt] == i).sum())
        out[f"{s}_pct_SPT"] = 100.0 * n_spt * e_min / out["SPT_min"] if out["SPT_min"] > 0 else None
    for i, s in enumerate(STAGE_NAMES[1:], 1):
        first = np.flatnonzero(y == i)
        out[f"Lat_{s}_min"] = (float(t[first[0]]) - out["sleep_onset_s"]) / 60.0 if first.size else None
    scored = y[y >= 0]
    spt_scored = y[in_spt][y[in_spt] >= 0]
    out["n_awakenings"] = int(((spt_scored[1:] == 0) & (spt_scored[:-1] > 0)).sum())
    out["n_stage_shifts"] = int((scored[1:] != scored[:-1]).sum())
    out["unscored_min"] = int((y < 0).sum()) * e_min
    out["gap_min"] = max(out["TIB_min"] - y.size * e_min, 0.0)
    return out


def parse_time_of_night(value: str | float | int, recording_start: dt.datetime | None,
                        name: str = "lights-off") -> float:
    """Seconds from the recording start of a lights-off/lights-on value.

    Accepted: seconds (``3600``, ``"3600"``, ``"5400.5"``), a clock time (``"23:15"``, ``"23:15:30"``) or a
    date and time (``"2021-03-04 23:15:30"``). A clock time is the first such time at or after the
    recording start: a time of day earlier than the start's is on the next day (after midnight).

    Raises:
        InputError: a value that is none of these, a negative number, a date-time before the recording,
            or a clock time without a known recording start (one line, naming ``name``).

    Example:
        >>> start = dt.datetime(2021, 3, 4, 22, 40)
        >>> parse_time_of_night("23:15", start), parse_time_of_night("06:30", start)
        (2100.0, 28200.0)
    """
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not np.isfinite(seconds) or seconds < 0:
            raise InputError(None, f"{name} {text!r}: seconds from the recording start must be a number >= 0")
        return seconds
    from neurotrio.sleep.hypnogram_lists import parse_clock

    clock = parse_clock(text.replace("T", " "))
    if clock is None:
        raise InputError(None, f"{name} {text!r} is neither seconds from the recording start nor a clock time "
                               "(23:15, 23:15:30, 2021-03-04 23:15:30)")
    if recording_start is None:
        raise InputError(None, f"{name} {text!r} is a clock time but the recording's start time is unknown; "
                               "give seconds from the recording start")
    full, tod = clock
    start = recording_start.replace(tzinfo=None)
    if full is not None:
        diff = (full - start).total_seconds()
        if diff < 0:
            raise InputError(None, f"{name} {text!r} is before the recording start ({start:%Y-%m-%d %H:%M:%S})")
        return diff
    t = dt.datetime.combine(start.date(), tod)
    if t < start:
        t += dt.timedelta(days=1)
    return (t - start).total_seconds()


def analysed_period(lights_off: str | float | None, lights_on: str | float | None,
                    recording_start: dt.datetime | None, onset_s: np.ndarray,
                    epoch_s: float = 30.0) -> tuple[float | None, float | None]:
    """Parse and check lights-off/lights-on against a recording (seconds from its start, None when not given).

    Raises:
        InputError: a bad value (see :func:`parse_time_of_night`), lights-on not after lights-off, or a
            bound outside the recording (its first epoch onset to its last epoch end).
    """
    off = None if lights_off is None else parse_time_of_night(lights_off, recording_start, "lights-off")
    on = None if lights_on is None else parse_time_of_night(lights_on, recording_start, "lights-on")
    t = np.asarray(onset_s, dtype=np.float64)
    first, end = (float(t[0]), float(t[-1]) + epoch_s) if t.size else (0.0, 0.0)
    if off is not None and on is not None and on <= off:
        raise InputError(None, f"lights-on ({lights_on}, {on:.0f} s) is not after lights-off ({lights_off}, {off:.0f} s)")
    for label, raw, v in (("lights-off", lights_off, off), ("lights-on", lights_on, on)):
        if v is not None and not first <= v <= end:
            raise InputError(None, f"{label} ({raw}) is {v:.0f} s from the recording start, outside the recording "
                                   f"({first:.0f}-{end:.0f} s)")
    return off, on
