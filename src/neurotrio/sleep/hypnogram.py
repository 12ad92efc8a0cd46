"""Hypnograms: read EDF+ sleep-stage annotations, turn them into per-epoch labels, write them back.

Stage codes are indices into :data:`STAGES` (W=0, N1=1, N2=2, N3=3, REM=4); :data:`UNKNOWN` (-1) marks
epochs that are unscored ("Sleep stage ?"), movement time, or not covered by any stage annotation.
R&K stages 3 and 4 both become N3 (AASM).

An expert hypnogram in any accepted layout is read by
:func:`neurotrio.sleep.hypnogram_formats.read_expert_hypnogram` into an :class:`ExpertHypnogram` (its own
clock start and stage intervals); :func:`align_to_epochs` puts it on a recording's epochs by clock time
(both defined in :mod:`neurotrio.sleep.hypnogram_align`, re-exported here).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.core.io import atomic_path
from neurotrio.sleep.hypnogram_align import (  # re-exported: the expert-hypnogram API lives there
    ACCEPTED_LAYOUTS,
    ANONYMOUS_DATE,
    GRID_TOLERANCE,
    UNKNOWN,
    ExpertHypnogram,
    StageInterval,
    align_to_epochs,
    expert_period,
    refuse_layout,
    scoring_epoch_s,
    start_offset_s,
)
from neurotrio.sleep.spec import STAGES

__all__ = ["STAGES", "UNKNOWN", "stage_code", "read_hypnogram", "stage_labels", "covered_epochs", "check_coverage",
           "write_annotations_edf", "write_hypnogram_edf", "read_mne_csv", "ACCEPTED_LAYOUTS", "ANONYMOUS_DATE", "GRID_TOLERANCE",
           "ExpertHypnogram", "StageInterval", "align_to_epochs", "expert_period", "refuse_layout",
           "scoring_epoch_s", "start_offset_s"]

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
    if path.suffix.lower() == ".csv":  # MNE reads its CSV with pandas, which is not a dependency
        out = read_mne_csv(path)[1]
    else:
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


def read_mne_csv(path: str | Path) -> tuple[dt.datetime | None, list[Annotation]]:
    """Read MNE's annotation CSV (``onset,duration,description[,ch_names,...]``) with the standard library.

    MNE writes onsets as seconds, or, for annotations with an ``orig_time``, as date-times
    (``2021-03-04 22:00:00.000000``); then, as ``mne.read_annotations`` does, the first row's time is the
    start and onsets count from it. Written by hand because MNE's own reader needs pandas.

    Returns:
        (start or None, ``[(onset_s, duration_s, description), ...]`` in file order).

    Raises:
        InputError: naming the file: no onset/duration/description header, a short row, a bad number or time.
    """
    import csv

    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if not {"onset", "duration", "description"} <= set(header):
        raise InputError(path, "not an MNE annotation CSV: the first line must name onset, duration, description")
    io_, id_, ix = header.index("onset"), header.index("duration"), header.index("description")
    start, out = None, []
    for n, row in enumerate(rows[1:], 2):
        if len(row) < len(header):
            raise InputError(path, f"line {n}: expected {len(header)} fields ({','.join(header)}), got {len(row)}")
        try:
            onset = row[io_].strip()
            if re.match(r"^\d{4}-\d\d-\d\d", onset):
                t = dt.datetime.fromisoformat(onset)
                t = t if t.tzinfo is None else t.astimezone(dt.timezone.utc).replace(tzinfo=None)
                start = start or t
                onset_s = (t - start).total_seconds()
            else:
                onset_s = float(onset)
            duration = float(row[id_])
        except ValueError:
            raise InputError(path, f"line {n}: not a number or date-time: {row[io_][:40]!r}, {row[id_][:20]!r}") from None
        if not (np.isfinite(onset_s) and np.isfinite(duration)):
            raise InputError(path, f"line {n}: onset and duration must be finite")
        out.append((onset_s, duration, row[ix].strip()))
    return start, out


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

