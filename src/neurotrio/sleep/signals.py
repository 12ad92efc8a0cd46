"""Reading the model's channels from any PSG source: contiguous pieces, resampling, units, raw EMG.

A source (an EDF file, an ``mne.io.Raw``, a NumPy array) is read through :class:`ChannelReader`: each
model input is one row, read from one source channel at that channel's native rate and brought to the
model's rate:

- same rate: unchanged;
- lower rate (Sleep-EDF's 1-Hz EMG envelope): linear interpolation between the samples, each sample
  placed at its own time ``k / rate`` and the last one held to the end. It neither rings nor overshoots
  (unlike FFT resampling, which MNE would apply), keeps an envelope non-negative, and is exact across
  chunk boundaries;
- higher rate (e.g. 256 Hz EEG): ``scipy.signal.resample_poly`` (polyphase FIR with a Kaiser window,
  anti-aliased);
- raw EMG for an EMG input (native rate above :data:`~neurotrio.sleep.emg.RAW_EMG_MIN_HZ`): turned into
  the 1-Hz RMS envelope Sleep-EDF stores (:func:`neurotrio.sleep.emg.rms_envelope`), then interpolated
  as above.

A recording is a list of contiguous :class:`Piece` s (one for a continuous file; several for an EDF+D
file with acquisition gaps). Reads never cross a piece's edge: resampling context stops there too.

Values come out in microvolts: each source declares its channels' units and :func:`unit_scale` converts
them; :func:`check_amplitude` refuses data whose amplitude shows the declared unit is wrong (volts
pushed as microvolts stage every epoch as REM).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.emg import is_raw_emg, looks_like_envelope, rms_envelope

log = logging.getLogger(__name__)

MARGIN_S = 2.0
"""Context read on each side of a chunk (inside its piece) so that resampling is seamless."""

_UNITS_TO_UV = {"uv": 1.0, "\u00b5v": 1.0, "\u03bcv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}
AMPLITUDE_UV = (0.05, 5000.0)
"""Accepted amplitude of a channel, uV: its median absolute value (or, if larger, its median absolute
deviation) must reach 0.05 uV, and its median absolute deviation must stay below 5000 uV. Sleep EEG, EOG
and chin EMG (raw, or as Sleep-EDF's RMS envelope, median ~1-5 uV) sit between about 1 and 200 uV;
0.05 uV is below one 16-bit step of a typical +-1000 uV EDF channel, and 5 mV is far above any scalp
signal. Data in volts read as uV (~1e-5) or in nanovolts fall outside."""


def unit_scale(unit: str) -> float | None:
    """Factor from a declared unit to microvolts ("uV", "µV", "mV", "V", "nV", any case); None if unknown."""
    u = unit.strip().replace("\x83\xca", "\u00b5").lower()  # MNE's note: some writers encode mu so
    return _UNITS_TO_UV.get(u)


def resample(x: np.ndarray, from_hz: float, to_hz: float, n_out: int | None = None) -> np.ndarray:
    """Resample a (n_channels, n_samples) block from ``from_hz`` to ``to_hz`` (see the module docstring).

    Args:
        x: array (n_channels, n_samples); sample ``k`` is at time ``k / from_hz``.
        from_hz: native rate, Hz.
        to_hz: target rate, Hz.
        n_out: number of output samples (default ``floor(n_samples * to_hz / from_hz)``).

    Returns:
        float64 (n_channels, n_out); output sample ``j`` is at time ``j / to_hz``.
    """
    if n_out is None:
        n_out = int(np.floor(x.shape[1] * to_hz / from_hz + 1e-9))
    if from_hz == to_hz:
        return np.asarray(x[:, :n_out], dtype=np.float64)
    if from_hz < to_hz:
        factor = to_hz / from_hz
        if factor == int(factor) and x.shape[1] >= 2:  # integer up-factor: same values as np.interp, faster
            k = int(factor)
            frac = np.arange(k) / k
            y = (x[:, :-1, None] + np.diff(x, axis=1)[:, :, None] * frac).reshape(x.shape[0], -1)
            y = np.concatenate([y, np.repeat(x[:, -1:], max(n_out - y.shape[1], 0), axis=1)], axis=1)
            return y[:, :n_out]
        t_new = np.arange(n_out) / to_hz
        t_old = np.arange(x.shape[1]) / from_hz
        return np.stack([np.interp(t_new, t_old, row) for row in x])
    from scipy.signal import resample_poly

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    y = resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator, axis=1)
    if y.shape[1] < n_out:
        y = np.pad(y, ((0, 0), (0, n_out - y.shape[1])), mode="edge")
    return y[:, :n_out]


@dataclass(frozen=True)
class Piece:
    """One contiguous stretch of a recording.

    Attributes:
        onset_s: its start from the recording start (real clock, gaps included), s.
        data_s: where its first sample sits in the source's joined data, s.
        duration_s: its length, s.
    """

    onset_s: float
    data_s: float
    duration_s: float


class ChannelReader:
    """Rows of model inputs read from source channels, resampled to ``sfreq_hz``, in microvolts.

    Subclasses fill, in ``__init__``: ``name`` (the path or a description, for error messages),
    ``channels`` (model input names), ``labels`` (source labels read), ``rates`` (native Hz per row),
    ``scale`` (factor to uV per row), ``units`` (declared unit per row, for messages), ``sfreq_hz``,
    ``pieces``, ``start`` and ``source_index`` (which source channel each row reads; one channel may feed
    several rows), then call :meth:`_plan`; and implement :meth:`_get` (and, for speed, :meth:`_read_into`).
    """

    name: str | Path | None
    channels: tuple[str, ...]
    labels: list[str]
    rates: list[float]
    scale: list[float]
    sfreq_hz: float
    pieces: list[Piece]
    source_index: list[int]
    start: object = None

    def _plan(self) -> None:
        """Group rows by native rate; mark raw-EMG rows (turned into an RMS envelope).

        A fast EMG channel is probed (up to three 60-s windows spread over the recording) to tell raw EMG
        from an envelope stored at a high rate (:func:`neurotrio.sleep.emg.looks_like_envelope`).
        """
        self.envelope = []
        for c, lab, r, src in zip(self.channels, self.labels, self.rates, self.source_index):
            raw = is_raw_emg(c, lab, r)
            if raw:
                joined = sum(p.duration_s for p in self.pieces)
                windows = sorted({int(round(f * max(joined - 60.0, 0.0) * r)) for f in (0.0, 1 / 3, 2 / 3)})
                probe = np.concatenate([self._get(r, [src], a, a + int(60 * r))[0] for a in windows])
                raw = not looks_like_envelope(probe, r)
            self.envelope.append(raw)
        self.groups: dict[float, list[int]] = {}
        for i, rate in enumerate(self.rates):
            self.groups.setdefault(rate, []).append(i)

    def _get(self, rate: float, sources: list[int], a: int, b: int) -> np.ndarray:
        """Samples ``a:b`` (native rate, joined data) of the source channels ``sources``: float64, as stored."""
        raise NotImplementedError

    @property
    def channel_info(self) -> list[dict]:
        """For each model input: {"input", "label", "signal", "sfreq_hz", "alias", "conversion"}.

        ``signal`` is the 1-based number of the source signal (the ``#N`` of ``--channel NAME=#N``), so
        that two signals with the same label can be told apart in the report.
        """
        return [{"input": c, "label": lab, "signal": src + 1, "sfreq_hz": float(r), "alias": lab != c,
                 "conversion": "raw EMG -> 1-Hz RMS envelope" if env else None}
                for c, lab, src, r, env in zip(self.channels, self.labels, self.source_index, self.rates,
                                               self.envelope)]

    @property
    def duration_s(self) -> float:
        """Recording length on the real clock (first piece start to last piece end), s."""
        return max((p.onset_s + p.duration_s for p in self.pieces), default=0.0)

    def read(self, t0_s: float, t1_s: float, lo_s: float = 0.0, hi_s: float | None = None,
             out: np.ndarray | None = None) -> np.ndarray:
        """Rows over [t0_s, t1_s) of the joined data, at ``sfreq_hz``: float32 (n_rows, n), uV.

        Context for resampling is read only within [lo_s, hi_s) (the piece holding the span).
        ``out``, when given, is a float32 (n_rows, n) array (or view) filled in place.
        """
        n_out = int(round((t1_s - t0_s) * self.sfreq_hz))
        if out is None:
            out = np.empty((len(self.labels), n_out), dtype=np.float32)
        for rate, rows in self.groups.items():
            if rate == self.sfreq_hz:  # at the model's rate: straight into ``out`` (no float64 copy)
                a = int(round(t0_s * rate))
                b = a + n_out if hi_s is None else min(a + n_out, int(round(hi_s * rate)))
                for i in rows:
                    if not self.envelope[i]:
                        self._read_into(rate, self.source_index[i], a, b, self.scale[i], out[i])
                rows = [i for i in rows if self.envelope[i]]
                if not rows:
                    continue
            a = int(round(max(t0_s - MARGIN_S, lo_s) * rate))
            b = int(np.ceil((t1_s + MARGIN_S) * rate))
            if hi_s is not None:
                b = min(b, int(round(hi_s * rate)))
            uniq = list(dict.fromkeys(self.source_index[i] for i in rows))
            block = self._get(rate, uniq, a, b)
            where = {s: k for k, s in enumerate(uniq)}
            plain = [i for i in rows if not self.envelope[i]]
            if plain:
                lead = int(round((t0_s - a / rate) * self.sfreq_hz))
                sub = block[[where[self.source_index[i]] for i in plain]]
                y = resample(sub, rate, self.sfreq_hz, n_out=lead + n_out)[:, lead:]
                if y.shape[1] < n_out:  # a signal ends early: hold its last value
                    y = np.pad(y, ((0, 0), (0, n_out - y.shape[1])), mode="edge")
                for k, i in enumerate(plain):
                    np.multiply(y[k], self.scale[i], out=out[i], casting="same_kind")
            for i in rows:
                if self.envelope[i]:
                    t_out = t0_s + np.arange(n_out) / self.sfreq_hz
                    y = rms_envelope(block[where[self.source_index[i]]], rate, a / rate, t_out)
                    np.multiply(y, self.scale[i], out=out[i], casting="same_kind")
        return out

    def _read_into(self, rate: float, source: int, a: int, b: int, scale: float, out: np.ndarray) -> None:
        """Samples ``a:b`` of one source channel times ``scale`` into the float32 row ``out`` (its length is
        the span wanted; when the source ends early its last value is held)."""
        x = self._get(rate, [source], a, b)[0]
        n = min(x.size, out.size)
        np.multiply(x[:n], scale, out=out[:n], casting="same_kind")
        if n < out.size:
            out[n:] = out[n - 1] if n else 0.0

def check_finite(data: np.ndarray, channels: Sequence[str], labels: Sequence[str], name: str | Path | None,
                 check_flat: bool) -> None:
    """Refuse NaN/infinite values, and (``check_flat``) a channel holding one constant value.

    Raises:
        InputError: naming the channel and the problem.
    """
    for row, ch, label in zip(data, channels, labels):
        bad = ~np.isfinite(row)
        if bad.any():
            raise InputError(name, f"channel '{label}' ({ch}) holds {int(bad.sum())} NaN/infinite values "
                                   f"(first at {np.flatnonzero(bad)[0]} samples): check its physical and "
                                   "digital range in the EDF header, or choose another channel")
        if check_flat and row.size and row.min() == row.max():
            raise InputError(name, f"channel '{label}' ({ch}) is flat: constant {float(row[0]):.6g} uV over "
                                   "the whole recording (disconnected electrode?); map another channel with "
                                   f"--channel '{ch}=LABEL'")


def check_amplitude(data: np.ndarray, channels: Sequence[str], labels: Sequence[str],
                    name: str | Path | None, units: Sequence[str] | None = None) -> None:
    """Refuse a channel whose amplitude is outside :data:`AMPLITUDE_UV` (a wrong or undeclared unit).

    Args:
        data: (n_channels, n) values as read, uV.
        channels, labels: model input names and source labels, per row.
        name: file or source, for the message.
        units: declared unit per row (for the message).

    Raises:
        InputError: one line naming the channel, its median absolute deviation and the likely unit.
    """
    lo, hi = AMPLITUDE_UV
    step = max(1, data.shape[1] // 50_000)  # a median over 50 000 evenly spaced samples is plenty
    for k, (row, ch, label) in enumerate(zip(data, channels, labels)):
        x = np.asarray(row[::step], dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size == 0:
            continue
        level = float(np.median(np.abs(x)))
        mad = float(np.median(np.abs(x - np.median(x))))
        if max(level, mad) == 0.0 or (max(level, mad) >= lo and mad <= hi):
            continue  # (a flat channel is refused by check_finite over the whole night)
        declared = f" (declared unit '{units[k]}')" if units else ""
        if mad > hi:
            what = f"median absolute deviation {mad:.3g} uV is above {hi:g} uV"
            guess = "nanovolts or raw counts"
        else:
            what = f"median amplitude {level:.3g} uV is below {lo:g} uV"
            guess = "volts" if max(level, mad) < 1e-3 else "millivolts"
        raise InputError(name, f"channel '{label}' ({ch}){declared}: {what}, outside sleep EEG/EOG/EMG; the "
                               f"data look like {guess}: declare the right unit (e.g. PSGArray(..., unit='V'), "
                               "SleepStager(unit='V')) or convert to uV")


def iter_chunks(reader: ChannelReader, epoch_s: float = 30.0,
                chunk_epochs: int = 240) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every whole epoch of every piece of a recording, in chunks of at most ``chunk_epochs`` epochs.

    Epochs are cut within each piece from its own start (a trailing partial epoch of a piece is
    dropped, never joined with the next piece); nothing is invented in a gap.

    Yields:
        (chunk float32 (n_rows, n * epoch_s * sfreq_hz) in uV, onset_s float64 (n,)): the epochs' onsets
        on the recording's clock.

    Raises:
        InputError: no whole epoch at all; NaN values when met; a wrong unit (amplitude) on the first
            chunk; a channel flat over the whole recording after the last chunk.
    """
    if chunk_epochs < 1:
        raise ValueError(f"chunk_epochs must be >= 1, got {chunk_epochs}")
    counts = [int(p.duration_s / epoch_s + 1e-9) for p in reader.pieces]
    if sum(counts) < 1:
        raise InputError(reader.name, f"recording lasts {reader.duration_s:g} s, shorter than one "
                                      f"{epoch_s:g}-s epoch")
    lo = np.full(len(reader.labels), np.inf)
    hi = np.full(len(reader.labels), -np.inf)
    units = getattr(reader, "units", None)
    first_chunk = True
    for piece, n_epochs in zip(reader.pieces, counts):
        if n_epochs == 0:
            log.warning("%s: piece at %g s lasts %g s, shorter than one %g-s epoch: not staged",
                        Path(str(reader.name)).name, piece.onset_s, piece.duration_s, epoch_s)
            continue
        for first in range(0, n_epochs, chunk_epochs):
            last = min(first + chunk_epochs, n_epochs)
            chunk = reader.read(piece.data_s + first * epoch_s, piece.data_s + last * epoch_s,
                                piece.data_s, piece.data_s + piece.duration_s)
            check_finite(chunk, reader.channels, reader.labels, reader.name, check_flat=False)
            if first_chunk:
                check_amplitude(chunk, reader.channels, reader.labels, reader.name, units)
                first_chunk = False
            lo, hi = np.minimum(lo, chunk.min(axis=1)), np.maximum(hi, chunk.max(axis=1))
            yield chunk, piece.onset_s + np.arange(first, last) * float(epoch_s)
    if (lo == hi).any():
        i = int(np.flatnonzero(lo == hi)[0])
        check_finite(np.full((1, 2), lo[i], np.float32), [reader.channels[i]], [reader.labels[i]],
                     reader.name, check_flat=True)
