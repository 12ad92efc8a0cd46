"""Hypnograms: read EDF+ sleep-stage annotations, turn them into per-epoch labels, write them back.

Stage codes are indices into :data:`STAGES` (W=0, N1=1, N2=2, N3=3, REM=4); :data:`UNKNOWN` (-1) marks
epochs that are unscored ("Sleep stage ?"), movement time, or not covered by any stage annotation.
R&K stages 3 and 4 both become N3 (AASM).

An expert hypnogram in any accepted layout is read by
:func:`neurotrio.sleep.hypnogram_formats.read_expert_hypnogram` into an :class:`ExpertHypnogram` (its own
clock start and stage intervals); :func:`align_to_epochs` puts it on a recording's epochs by clock time.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.core.io import atomic_path

STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")
UNKNOWN = -1

Annotation = tuple[float, float, str]  # (onset_s, duration_s, description)

_CODES = {
    "w": 0, "wake": 0, "0": 0,
    "1": 1, "n1": 1, "s1": 1,
    "2": 2, "n2": 2, "s2": 2,
    "3": 3, "4": 3, "n3": 3, "n4": 3, "s3": 3, "s4": 3, "sws": 3,
    "r": 4, "rem": 4, "5": 4,
    "?": UNKNOWN, "unknown": UNKNOWN, "unscored": UNKNOWN, "movement time": UNKNOWN, "movement": UNKNOWN,
    "m": UNKNOWN, "mt": UNKNOWN, "artifact": UNKNOWN, "artefact": UNKNOWN,
}
_PREFIX = re.compile(r"^(sleep[ _-]?stage|stage)[ _:-]*")
_MNE_TEXT_FORMATS = (".csv", ".txt", ".fif")  # annotation files MNE writes; everything else must be EDF+
_WRITE_LABELS = ("Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage R")


def stage_code(description: str) -> int | None:
    """Stage code of one annotation text, or ``None`` when it is not a sleep-stage annotation.

    Accepts Sleep-EDF's R&K texts ("Sleep stage W/1/2/3/4/R/?", "Movement time") and AASM-like labels
    ("W", "N1", "N2", "N3", "R", "REM", "Sleep stage N2", "Stage 2", ...), case-insensitively.

    Example:
        >>> stage_code("Sleep stage 4"), stage_code("REM"), stage_code("Movement time"), stage_code("Arousal")
        (3, 4, -1, None)
    """
    text = _PREFIX.sub("", description.strip().lower()).strip()
    return _CODES.get(text)


def read_hypnogram(path: str | Path) -> list[Annotation]:
    """Read every annotation of an EDF+ hypnogram file.

    Args:
        path: an EDF+ file whose annotations carry the sleep stages (e.g. Sleep-EDF's ``*-Hypnogram.edf``);
            MNE's own annotation files (``.csv``, ``.txt``, ``.fif``) are read too.

    Returns:
        ``[(onset_s, duration_s, description), ...]`` in file order, onsets relative to the recording start.

    Raises:
        InputError: the file is missing, is not a readable EDF+ file, or holds no sleep-stage annotation.
    """
    import mne

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "hypnogram file not found")
    if path.suffix.lower() not in _MNE_TEXT_FORMATS:
        from neurotrio.sleep.edfheader import read_edf_header

        read_edf_header(path)  # refuses non-EDF, corrupt or truncated files with a clear message
    try:
        annotations = mne.read_annotations(path)
    except Exception as exc:  # MNE raises many types on foreign or corrupt files
        raise InputError(path, f"not a readable EDF+ hypnogram ({type(exc).__name__}: {exc})") from exc
    out = [(float(o), float(d), str(t)) for o, d, t in zip(annotations.onset, annotations.duration,
                                                          annotations.description)]
    if not any(stage_code(t) is not None for _, _, t in out):
        found = sorted({t for _, _, t in out})[:8]
        raise InputError(path, "no sleep-stage annotations (expected e.g. 'Sleep stage W', 'N2', 'REM'); "
                               f"found: {', '.join(found) if found else 'no annotations at all'}. "
                               "Is this the PSG file instead of the hypnogram?")
    return out


def stage_labels(annotations: Sequence[Annotation], n_epochs: int, epoch_s: float = 30.0) -> np.ndarray:
    """Per-epoch stage codes from stage annotations.

    Epoch ``i`` spans ``[i * epoch_s, (i + 1) * epoch_s)`` and takes the stage of the annotation that
    covers its midpoint; an annotation of zero duration labels one epoch. Non-stage annotations
    (arousals, lights off, ...) are ignored.

    Args:
        annotations: ``(onset_s, duration_s, description)`` triples.
        n_epochs: number of epochs of the recording.
        epoch_s: epoch length, s.

    Returns:
        int64 array (n_epochs,) of codes in 0..4 or ``UNKNOWN`` (S3+S4 -> N3; movement, "?" and
        uncovered epochs -> ``UNKNOWN``).
    """
    y = np.full(n_epochs, UNKNOWN, dtype=np.int64)
    for onset, duration, text in annotations:
        code = stage_code(text)
        if code is None:
            continue
        duration = duration if duration > 0 else epoch_s
        first = max(int(np.ceil(onset / epoch_s - 0.5)), 0)
        stop = min(int(np.ceil((onset + duration) / epoch_s - 0.5)), n_epochs)
        if stop > first:
            y[first:stop] = code
    return y


def covered_epochs(annotations: Sequence[Annotation], n_epochs: int, epoch_s: float = 30.0) -> np.ndarray:
    """Boolean (n_epochs,): which epochs lie under some stage annotation (scored, "?" or movement)."""
    covered = np.zeros(n_epochs, dtype=bool)
    for onset, duration, text in annotations:
        if stage_code(text) is None:
            continue
        duration = duration if duration > 0 else epoch_s
        first = max(int(np.ceil(onset / epoch_s - 0.5)), 0)
        covered[first:max(int(np.ceil((onset + duration) / epoch_s - 0.5)), first)] = True
    return covered


def check_coverage(annotations: Sequence[Annotation], n_epochs: int, path: str | Path,
                   epoch_s: float = 30.0) -> None:
    """Raise unless the hypnogram covers every whole epoch of the recording.

    Rule: each of the ``n_epochs`` whole epochs of the PSG (a trailing partial epoch is ignored) must lie
    under a stage annotation; "Sleep stage ?" and "Movement time" count as covering (they are explicit
    "not scored" marks, and Sleep-EDF hypnograms often end with a long "?" span), and annotations
    reaching past the end of the PSG are fine. At least one epoch must be scored W..REM.

    Raises:
        InputError: naming ``path``, with the first uncovered epochs and the scored span.
    """
    covered = covered_epochs(annotations, n_epochs, epoch_s)
    stage_spans = [(o, o + max(d, epoch_s if d <= 0 else d)) for o, d, t in annotations if stage_code(t) is not None]
    span = (f"its stage annotations span {min(s for s, _ in stage_spans):.0f}-{max(e for _, e in stage_spans):.0f} s"
            if stage_spans else "it has no stage annotations")
    if not covered.all():
        missing = np.flatnonzero(~covered)
        raise InputError(path, f"hypnogram does not cover the recording: {missing.size} of {n_epochs} "
                               f"30-s epochs are unscored (first at {missing[0] * epoch_s:.0f} s); the PSG lasts "
                               f"{n_epochs * epoch_s:.0f} s but {span}. Is it the hypnogram of this recording?")
    if not (stage_labels(annotations, n_epochs, epoch_s) >= 0).any():
        raise InputError(path, f"hypnogram scores no epoch of the recording as W, N1, N2, N3 or REM ({span})")


def write_annotations_edf(path: str | Path, annotations: Sequence[Annotation],
                          start: dt.datetime | None = None) -> Path:
    """Write annotations as an annotations-only EDF+ file (atomically).

    Args:
        path: output ``.edf`` path.
        annotations: ``(onset_s, duration_s, description)`` triples.
        start: recording start for the header (an anonymised 1985-01-01 00:00 when ``None``).

    Returns:
        ``Path(path)``.
    """
    import edfio

    kwargs = {}
    if start is not None:
        kwargs = {"starttime": start.time().replace(microsecond=0),
                  "recording": edfio.Recording(startdate=start.date())}
    edf = edfio.Edf([], annotations=[edfio.EdfAnnotation(float(o), float(d), str(t)) for o, d, t in annotations],
                    **kwargs)
    with atomic_path(path) as tmp:
        edf.write(tmp)
    return Path(path)


def write_hypnogram_edf(path: str | Path, stages: Sequence[str | int], epoch_s: float = 30.0,
                        start: dt.datetime | None = None) -> Path:
    """Write a hypnogram as an EDF+ annotation file that MNE and EDFbrowser read.

    Runs of equal stages are merged into one annotation. Labels are AASM-style "Sleep stage W",
    "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage R" and "Sleep stage ?" for unknown;
    :func:`read_hypnogram` and :func:`stage_code` read them back.

    Args:
        path: output ``.edf`` path (written atomically).
        stages: one stage per epoch, as names ("W", "N1", "N2", "N3", "REM"/"R", "?") or codes (0..4, -1).
        epoch_s: epoch length, s.
        start: recording start for the header.

    Returns:
        ``Path(path)``.

    Example:
        >>> write_hypnogram_edf("night.hypnogram.edf", ["W", "W", "N1", "N2"])  # doctest: +SKIP
    """
    annotations: list[Annotation] = []
    for i, stage in enumerate(stages):
        code = int(stage) if isinstance(stage, (int, np.integer)) else stage_code(str(stage))
        if code is None or not UNKNOWN <= code < len(STAGES):
            raise ValueError(f"unknown stage {stage!r} at epoch {i}; allowed: {', '.join(STAGES)}, '?', 0..4, -1")
        label = "Sleep stage ?" if code == UNKNOWN else _WRITE_LABELS[code]
        if annotations and annotations[-1][2] == label:
            onset, duration, _ = annotations[-1]
            annotations[-1] = (onset, duration + epoch_s, label)
        else:
            annotations.append((i * epoch_s, epoch_s, label))
    return write_annotations_edf(path, annotations, start=start)


# --- expert hypnograms on the recording's clock ------------------------------------------------------------

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
                                             "recording's start so the two can be aligned")
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
    given is the recording's first epoch onset / last epoch end, except when the hypnogram starts later
    than the recording by its own clock (scoring began at lights-off, as labs often export it): then the
    expert's scored span (first stage interval start, last end) gives the missing bounds. Every staged
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
    later = hyp.start is not None and offset + first > GRID_TOLERANCE * epoch_s
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
