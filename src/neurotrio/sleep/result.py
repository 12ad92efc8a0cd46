"""What scoring a night gives back: :class:`ScoreResult` (stages on the recording's clock, statistics,
agreement with an expert, the channels read and the files written). Torch- and MNE-free."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurotrio.sleep.spec import STAGES


@dataclass
class ScoreResult:
    """The staged night.

    Attributes:
        stages: int64 (n_epochs,), stage codes 0..4 (W, N1, N2, N3, REM).
        proba: float32 (n_epochs, 5), class probabilities.
        onset_s: float64 (n_epochs,), true epoch onsets from the recording start, s. In an EDF+D file
            they jump over the acquisition gaps (no epoch is invented there).
        start: the recording's start (clock), or None when the source has none.
        epoch_s: epoch length, s.
        channels: for every model input, what was read: ``{"input", "label", "sfreq_hz", "alias",
            "conversion"}`` (``alias``: True when the label read differs from the input's name, e.g. ``Fpz``
            read as ``EEG Fpz-Cz``; ``conversion``: e.g. "raw EMG -> 1-Hz RMS envelope", or None).
        segments: contiguous pieces of the recording as ``(onset_s, duration_s)``.
        model: the model used (embedded model name or file).
        reference: int64 (n_epochs,) expert labels aligned to the epochs (-1: unscored), or None.
        compared: indices of the epochs compared with the expert, or None.
        lights_off_s, lights_on_s: the analysed period, s from the start (None: the whole recording).
        statistics: sleep statistics of the analysed period: ``{"predicted": {...}, "expert": {...}}``
            (see :func:`neurotrio.sleep.statistics.sleep_statistics`).
        metrics: agreement with the reference hypnogram (accuracy, macro_f1, kappa, confusion_matrix,
            n compared epochs), or None.
        notes: remarks printed with the results (e.g. epochs the model was trained on).
        files: written outputs by kind ("csv", "edf", "png", "json", "stats"); empty when nothing written.
        seconds: wall time of each step, s.
    """

    stages: np.ndarray
    proba: np.ndarray
    onset_s: np.ndarray
    start: dt.datetime | None = None
    epoch_s: float = 30.0
    channels: list[dict[str, Any]] = field(default_factory=list)
    segments: list[tuple[float, float]] = field(default_factory=list)
    model: str = ""
    reference: np.ndarray | None = None
    compared: np.ndarray | None = None
    lights_off_s: float | None = None
    lights_on_s: float | None = None
    statistics: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def stage_names(self) -> list[str]:
        return [STAGES[i] for i in self.stages]

    def clock(self) -> list[str]:
        """ISO clock time of every epoch's onset (``YYYY-MM-DDTHH:MM:SS``; empty strings without a start)."""
        if self.start is None:
            return [""] * int(self.stages.size)
        return [(self.start + dt.timedelta(seconds=float(t))).isoformat(timespec="seconds") for t in self.onset_s]
