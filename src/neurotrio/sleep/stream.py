"""Streaming sleep staging: push samples as they arrive, get a stage for each completed 30-s epoch.

Example:
    >>> stager = SleepStager()                       # embedded default model (ONNX), 4 channels at 100 Hz
    >>> for block in acquisition():                  # doctest: +SKIP
    ...     for ep in stager.push(block):            # block: (4, n) microvolts, any n
    ...         print(ep.index, ep.stage, ep.proba.max())

Samples pushed in another unit are declared with ``unit`` (``SleepStager(unit="V")`` for MNE's
``get_data()``); the first completed epoch is checked against the microvolt range of sleep signals
(:func:`neurotrio.sleep.signals.check_amplitude`), so volts pushed as microvolts are refused instead of
staged as REM. The EMG input is expected as Sleep-EDF's RMS envelope brought to the stream's rate (raw
chin EMG is converted by the file readers, :mod:`neurotrio.sleep.emg`, not here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.sleep.signals import check_amplitude, resample, unit_scale
from neurotrio.sleep.spec import STAGES


@dataclass(frozen=True)
class EpochStage:
    """The stage of one completed epoch.

    Attributes:
        index: epoch number since the start (or the last :meth:`SleepStager.reset`).
        onset_s: epoch onset from the start of the stream, s.
        stage: stage name ("W", "N1", "N2", "N3", "REM").
        code: stage code 0..4.
        proba: float32 (5,) class probabilities.
    """

    index: int
    onset_s: float
    stage: str
    code: int
    proba: np.ndarray


class SleepStager:
    """Stage a live recording epoch by epoch with a ULW-SleepNet model.

    Samples are buffered per channel; every time a whole epoch is available it is staged at once.
    With the model's own rate, the stages equal those of batch scoring of the same samples
    (:func:`neurotrio.sleep.score.predict_proba`). At another input rate, each completed epoch is
    resampled on its own (the data layer's method: polyphase FIR down, linear interpolation up), so
    results near epoch edges can differ slightly from resampling the whole recording at once.

    Args:
        model: a loaded model (torch :class:`~neurotrio.sleep.model.SleepModel` or
            :class:`~neurotrio.sleep.onnx_model.OnnxSleepModel`), a model file (``.onnx`` runs in
            onnxruntime, ``.safetensors`` in torch), or None for the embedded default (its ONNX twin, as
            ``score`` uses). Models trained with per-recording normalisation cannot stream (their
            statistics need the whole night).
        sfreq_hz: rate of the pushed samples, Hz (default: the model's, 100 Hz); ``epoch_s * sfreq_hz``
            must be a whole number.
        unit: unit of the pushed samples, one for all channels or one per channel: "uV" (default), "mV",
            "V" or "nV"; converted to uV.

    Raises:
        ConfigError: a "recording"-normalised model, a rate that does not divide into epochs, an unknown
            unit.
        CheckpointError: unreadable model file.
    """

    def __init__(self, model: Any = None, sfreq_hz: float | None = None,
                 unit: str | Sequence[str] = "uV"):
        from neurotrio.sleep.score import load_any_model

        self.model = load_any_model(model)
        cfg = self.model.config
        if self.model.normalization == "recording":
            raise ConfigError("this model normalises each recording by its whole-night statistics, which a "
                              "stream does not have; use a model trained with normalization=fixed")
        self.sfreq_hz = float(sfreq_hz or cfg.sfreq_hz)
        n_in = cfg.epoch_s * self.sfreq_hz
        if self.sfreq_hz <= 0 or abs(n_in - round(n_in)) > 1e-6:
            raise ConfigError(f"sfreq_hz={self.sfreq_hz:g} Hz gives {n_in:g} samples per {cfg.epoch_s:g}-s epoch; "
                              "it must be a whole number")
        self.samples_per_epoch = int(round(n_in))
        units = [unit] * cfg.n_chans if isinstance(unit, str) else list(unit)
        scales = [unit_scale(u) for u in units]
        if len(units) != cfg.n_chans or None in scales:
            raise ConfigError(f"unit must be one of 'uV', 'mV', 'V', 'nV', once or per channel "
                              f"({cfg.n_chans}); got {unit!r}")
        self.units = units
        self._scale = np.asarray(scales, np.float32)[:, None]
        self.reset()

    @property
    def n_channels(self) -> int:
        return self.model.config.n_chans

    @property
    def pending_samples(self) -> int:
        """Samples buffered towards the next epoch."""
        return self._buffer.shape[1]

    def reset(self) -> None:
        """Forget buffered samples and restart epoch numbering (a new recording)."""
        self._buffer = np.zeros((self.n_channels, 0), np.float32)
        self._next_index = 0
        self._checked = False

    def push(self, samples: np.ndarray) -> list[EpochStage]:
        """Add samples and stage every epoch they complete.

        Args:
            samples: (n_channels, n) array in ``unit`` (microvolts by default) at ``sfreq_hz``, channels
                in the model's order (``self.model.channels``); n may be anything, including 0.

        Returns:
            One :class:`EpochStage` per newly completed epoch, in time order (often empty).

        Raises:
            InputError: wrong shape, non-finite values, or (on the first completed epoch) an amplitude
                outside the microvolt range of sleep signals (wrong unit).
        """
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise InputError(None, f"pushed samples must be (n_channels={self.n_channels}, n) for channels "
                                   f"{', '.join(self.model.channels)}; got shape {x.shape}")
        if not np.isfinite(x).all():
            raise InputError(None, f"pushed samples hold {int((~np.isfinite(x)).sum())} NaN/infinite values")
        self._buffer = np.concatenate([self._buffer, (x * self._scale).astype(np.float32)], axis=1)
        n_done = self._buffer.shape[1] // self.samples_per_epoch
        if n_done == 0:
            return []
        cut = n_done * self.samples_per_epoch
        if not self._checked:
            check_amplitude(self._buffer[:, :cut], self.model.channels, self.model.channels, None, self.units)
            self._checked = True
        block = self._buffer[:, :cut].reshape(self.n_channels, n_done, self.samples_per_epoch).transpose(1, 0, 2)
        self._buffer = self._buffer[:, cut:].copy()
        return self._stage(block)

    def _stage(self, epochs: np.ndarray) -> list[EpochStage]:
        from neurotrio.sleep.score import predict_proba

        cfg = self.model.config
        if self.samples_per_epoch != cfg.n_times:
            epochs = np.stack([resample(e, self.sfreq_hz, cfg.sfreq_hz, n_out=cfg.n_times) for e in epochs])
        proba = predict_proba(self.model, [np.ascontiguousarray(epochs, dtype=np.float32)], 16, workers=1)
        out = []
        for p in proba:
            code = int(p.argmax())
            out.append(EpochStage(self._next_index, self._next_index * cfg.epoch_s, STAGES[code], code, p))
            self._next_index += 1
        return out
