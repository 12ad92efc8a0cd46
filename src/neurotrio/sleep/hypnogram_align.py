"""Expert hypnograms on the recording's clock: the :class:`ExpertHypnogram` record and its alignment.

:func:`neurotrio.sleep.hypnogram_formats.read_expert_hypnogram` reads any accepted layout into an
:class:`ExpertHypnogram`; :func:`align_to_epochs` puts it on a recording's staged epochs by clock time and
:func:`expert_period` checks that it covers the analysed period (lights-off to lights-on). Everything
here is also importable from :mod:`neurotrio.sleep.hypnogram`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.spec import STAGES

UNKNOWN = -1  # stage code of an epoch not scored (unscored, movement, artefact, "?", not covered)


ANONYMOUS_DATE = dt.date(1985, 1, 1)  # EDF+ spec 2.1.3.3: the start date of an anonymised recording
GRID_TOLERANCE = 0.1  # fraction of an epoch a stage boundary may sit off the recording's epoch grid

StageInterval = tuple[float, float, int]  # (onset_s, duration_s, stage code with UNKNOWN for "not scored")


@dataclass(frozen=True)
class ExpertHypnogram:
    """An expert's scoring as read from a file, on the hypnogram's own clock.

    Attributes:
        start: the hypnogram's clock start: an EDF+ header's start, the ``orig_time`` of MNE annotations,
            the first clock time of a CSV/text layout, the NSRR "Recording Start Time"; None when the
            layout has none (then it is defined to start with the recording, see :func:`align_to_epochs`).
        annotations: ``(onset_s, duration_s, code)`` with onsets in seconds from ``start`` (from the
            recording start when ``start`` is None), codes 0..4 or ``UNKNOWN`` (-1) for unscored,
            movement, artefact and "?"; a zero duration means one scoring epoch.
        source: where it was read from (a path, or "mne.Annotations").
        format: the layout read ("edf+", "mne-csv", "mne-txt", "mne-fif", "mne-annotations",
            "stage-list", "events-csv", "nsrr-xml", "profusion-xml").
        epoch_s: the expert's scoring epoch when the layout states it (a stage list's stated epoch, the
            XML ``EpochLength``); None when it is inferred from the intervals.
        clock_only: ``start`` holds a time of day without a real date (NSRR ``ClockTime``, a text clock
            column, an EDF+ start dated 01.01.85): aligned by time of day, within 12 h of the recording.
    """

    start: dt.datetime | None
    annotations: list[StageInterval]
    source: str
    format: str
    epoch_s: float | None = None
    clock_only: bool = False

    def span_s(self) -> tuple[float, float]:
        """(first onset, last end) of the stage intervals, s from the hypnogram's start."""
        step = self.epoch_s or 30.0
        return (min(o for o, _, _ in self.annotations),
                max(o + (d if d > 0 else step) for o, d, _ in self.annotations))


def _naive(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is None else t.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _clock(t: dt.datetime | None, clock_only: bool = False) -> str:
    if t is None:
        return "unknown"
    return t.strftime("%H:%M:%S") if clock_only or t.date() == ANONYMOUS_DATE else t.strftime("%Y-%m-%d %H:%M:%S")


def start_offset_s(hyp: ExpertHypnogram, psg_start: dt.datetime | None, path: str | Path | None = None) -> float:
    """Seconds from the recording's start to the hypnogram's time zero.

    Rules: both starts known -> their difference (timezone-aware times are compared in UTC); the hypnogram
    (or the recording) has only a time of day (``clock_only``, or an EDF+ anonymised date 01.01.85) -> the
    difference of the times of day, taken within 12 h; the hypnogram has no start -> 0 (every accepted
    layout without a clock counts from the recording start: MNE onsets in seconds, stage lists, NSRR
    ``Start``).

    Raises:
        InputError: the hypnogram has a clock start but the recording's start is unknown.
    """
    if hyp.start is None:
        return 0.0
    if psg_start is None:
        raise InputError(path or hyp.source, f"the hypnogram starts at {_clock(hyp.start, hyp.clock_only)} by its "
                                             "own clock but the recording's start time is unknown; give the "
                                             "recording's start so the two can be aligned (Python: raw.set_meas_date(...) "
                                             "or PSGArray(start=...))")
    a, b = _naive(hyp.start), _naive(psg_start)
    if hyp.clock_only or ANONYMOUS_DATE in (a.date(), b.date()):
        diff = (dt.datetime.combine(b.date(), a.time()) - b).total_seconds()
        return (diff + 43200.0) % 86400.0 - 43200.0
    return (a - b).total_seconds()


def _intervals(hyp: ExpertHypnogram, offset_s: float, epoch_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    step = hyp.epoch_s or epoch_s
    starts = np.array([o for o, _, _ in hyp.annotations], dtype=np.float64) + offset_s
    ends = starts + np.array([d if d > 0 else step for _, d, _ in hyp.annotations], dtype=np.float64)
    codes = np.array([c for _, _, c in hyp.annotations], dtype=np.int64)
    return starts, ends, codes


def scoring_epoch_s(hyp: ExpertHypnogram) -> float | None:
    """The expert's scoring epoch: the stated one, else the GCD of the interval durations and onset steps.

    Onsets and durations are rounded to 1 ms; a Sleep-EDF hypnogram (runs of 30-s epochs) gives 30.
    """
    if hyp.epoch_s:
        return float(hyp.epoch_s)
    first = min(o for o, _, _ in hyp.annotations)
    ms = [round(d * 1000) for _, d, _ in hyp.annotations] + [round((o - first) * 1000) for o, _, _ in hyp.annotations]
    g = 0
    for v in ms:
        g = math.gcd(g, abs(v))
    return g / 1000.0 if g else None


def _check_grid(starts: np.ndarray, ends: np.ndarray, onset: np.ndarray, epoch_s: float, path: str | Path,
                hyp: ExpertHypnogram, psg_start: dt.datetime | None, hyp_epoch: float) -> None:
    tol = GRID_TOLERANCE * epoch_s
    bounds = np.unique(np.concatenate([starts, ends]))
    i = np.searchsorted(onset, bounds, side="right") - 1
    ok = i >= 0
    into = np.where(ok, bounds - onset[np.clip(i, 0, None)], -1.0)
    cut = ok & (into > tol) & (into < epoch_s - tol)
    if cut.any():
        k = int(np.flatnonzero(cut)[0])
        raise InputError(path, f"the expert's {hyp_epoch:g}-s epochs do not line up with the recording's "
                               f"{epoch_s:g}-s epochs: a stage boundary {bounds[k]:.1f} s after the recording "
                               f"start lies {into[k]:.1f} s into an epoch (hypnogram starts "
                               f"{_clock(hyp.start, hyp.clock_only)}, recording {_clock(psg_start)}); each "
                               "compared epoch would mix two expert epochs")


def align_to_epochs(hyp: ExpertHypnogram, psg_start: dt.datetime | None, onset_s: np.ndarray, epoch_s: float = 30.0,
                    path: str | Path | None = None) -> np.ndarray:
    """The expert's stage for each staged epoch of a recording, aligned by clock time.

    Alignment: the hypnogram's time zero sits :func:`start_offset_s` seconds after the recording's start
    (never "both start at sample 0" unless the layout has no clock and is defined that way). Each staged
    epoch ``[t, t + epoch_s)`` takes the stage that covers the greatest part of it (AASM Manual v2.6,
    "Scoring of sleep stages", general rule: "when two or more stages coexist during a single epoch,
    assign the stage comprising the greatest portion of the epoch"); time the expert did not score counts
    as ``UNKNOWN``; a tie gives ``UNKNOWN`` (the epoch is not compared). This resamples 5-, 10-, 15- or
    20-s scoring to 30-s epochs: 20-s epochs never tie (each 30-s epoch holds 20 s of one and 10 s of
    another); with 5-s epochs a 3-3 split ties. When the expert's epoch is the recording's epoch (or a
    multiple), the stage boundaries must lie on the recording's epoch grid (within 10 % of an epoch),
    else the hypnogram is refused: each compared epoch would straddle two expert epochs.

    Args:
        hyp: the expert hypnogram (:func:`neurotrio.sleep.hypnogram_formats.read_expert_hypnogram`).
        psg_start: the recording's start (its EDF header), or None when unknown.
        onset_s: float (n_epochs,), increasing: each staged epoch's onset in seconds from ``psg_start``
            (they jump over the gaps of an EDF+D file).
        epoch_s: the recording's epoch length, s.
        path: the file named in errors (default ``hyp.source``).

    Returns:
        int64 (n_epochs,): 0..4, or ``UNKNOWN`` where the expert has no stage (unscored, movement, "?",
        gaps, outside the scored span, ties).

    Raises:
        InputError: naming the file: a clock start without the recording's, no overlap with the
            recording, a misaligned epoch grid, or no epoch scored W..REM.
    """
    path = path or hyp.source
    onset = np.asarray(onset_s, dtype=np.float64).ravel()
    if onset.size and np.any(np.diff(onset) < epoch_s - 1e-6):
        raise ValueError(f"onset_s must increase by at least epoch_s ({epoch_s:g} s) from one epoch to the next")
    if not hyp.annotations:
        raise InputError(path, "the hypnogram holds no sleep-stage annotation")
    offset = start_offset_s(hyp, psg_start, path)
    starts, ends, codes = _intervals(hyp, offset, epoch_s)
    labels = np.full(onset.size, UNKNOWN, dtype=np.int64)
    if onset.size == 0:
        return labels
    rec_end = onset[-1] + epoch_s
    if ends.max() <= onset[0] or starts.min() >= rec_end:
        raise InputError(path, f"the hypnogram does not overlap the recording: its stages span "
                               f"{starts.min():.0f}..{ends.max():.0f} s from the recording start (hypnogram "
                               f"starts {_clock(hyp.start, hyp.clock_only)}, recording {_clock(psg_start)}), "
                               f"the recording lasts {onset[0]:.0f}..{rec_end:.0f} s")
    hyp_epoch = scoring_epoch_s(hyp)
    if hyp_epoch is not None and abs(hyp_epoch / epoch_s - round(hyp_epoch / epoch_s)) < 1e-6 and hyp_epoch >= epoch_s:
        _check_grid(starts, ends, onset, epoch_s, path, hyp, psg_start, hyp_epoch)
    acc = np.zeros((onset.size, len(STAGES) + 1))  # column 0: not scored; 1..5: W..REM
    for s, e, c in zip(starts, ends, codes):
        i0 = int(np.searchsorted(onset + epoch_s, s, side="right"))
        i1 = int(np.searchsorted(onset, e, side="left"))
        if i1 > i0:
            t = onset[i0:i1]
            acc[i0:i1, int(c) + 1] += np.minimum(e, t + epoch_s) - np.maximum(s, t)
    acc[:, 0] += np.clip(epoch_s - acc.sum(1), 0.0, None)
    best = acc.max(1, keepdims=True)
    unique = (acc >= best - 1e-6).sum(1) == 1
    labels[unique] = acc[unique].argmax(1) - 1
    if not (labels >= 0).any():
        raise InputError(path, f"the hypnogram scores no epoch of the recording as W, N1, N2, N3 or REM (its stages "
                               f"span {starts.min():.0f}..{ends.max():.0f} s from the recording start)")
    return labels


ACCEPTED_LAYOUTS = ("EDF+ annotations (.edf, .bdf, .rec)",
                    "MNE annotations (.csv/.txt with onset,duration,description; .fif)",
                    "a per-epoch stage list (.txt/.csv/.tsv/.hyp: one stage per line or a 'stage' column, "
                    "with its epoch length stated)",
                    "NSRR XML of scored events (.xml, as SHHS/MESA share them)")


def refuse_layout(path: str | Path, why: str) -> InputError:
    """The one-line error for a hypnogram layout that is not read, listing :data:`ACCEPTED_LAYOUTS`."""
    return InputError(path, f"{why}; accepted hypnogram layouts: {'; '.join(ACCEPTED_LAYOUTS)}")


def expert_period(hyp: ExpertHypnogram, psg_start: dt.datetime | None, onset_s: np.ndarray, epoch_s: float = 30.0,
                  lights_off_s: float | None = None, lights_on_s: float | None = None,
                  path: str | Path | None = None) -> tuple[float, float]:
    """The period on which the expert is compared, and the check that the expert covers it.

    Rule: the period is ``[lights_off_s, lights_on_s]`` (seconds from the recording start). A bound not
    given is the recording's first epoch onset / last epoch end, except when the expert's first stage
    interval starts after the recording's first epoch, by the hypnogram's clock or by its first onset
    (scoring began at lights-off, as labs often export it): then the expert's scored span (first stage
    interval start, last end) gives the missing bounds. Every staged
    epoch whose middle lies in the period must lie under an expert interval (a "?", movement or unscored
    interval counts: it is an explicit "not scored" mark); a hypnogram that starts with the recording and
    stops early is refused, unless ``lights_on_s`` says the scoring ends there.

    Returns:
        (lights_off_s, lights_on_s) of the compared period.

    Raises:
        InputError: naming the file: the hypnogram leaves epochs of the period uncovered (message
            "hypnogram does not cover the recording: k of n 30-s epochs are unscored ...").
    """
    path = path or hyp.source
    onset = np.asarray(onset_s, dtype=np.float64).ravel()
    offset = start_offset_s(hyp, psg_start, path)
    first, last = hyp.span_s()
    later = offset + first > onset[0] + GRID_TOLERANCE * epoch_s
    off = lights_off_s if lights_off_s is not None else (max(offset + first, onset[0]) if later else onset[0])
    on = lights_on_s if lights_on_s is not None else (min(offset + last, onset[-1] + epoch_s) if later
                                                      else onset[-1] + epoch_s)
    mid = onset + epoch_s / 2
    inside = (mid >= off) & (mid < on)
    covered = align_to_epochs(ExpertHypnogram(hyp.start, [(o, d, 0) for o, d, _ in hyp.annotations], hyp.source,
                                              hyp.format, hyp.epoch_s, hyp.clock_only),
                              psg_start, onset, epoch_s, path) >= 0
    missing = np.flatnonzero(inside & ~covered)
    if missing.size:
        span = f"its stages span {offset + first:.0f}-{offset + last:.0f} s of the recording"
        raise InputError(path, f"hypnogram does not cover the recording: {missing.size} of {int(inside.sum())} "
                               f"{epoch_s:g}-s epochs are unscored (first at {onset[missing[0]]:.0f} s); the "
                               f"analysed period is {off:.0f}-{on:.0f} s but {span}. Is it the hypnogram of this "
                               "recording? If the expert scored only part of it, give lights-off/lights-on")
    return float(off), float(on)
