"""Reading polysomnography (PSG) EDF/EDF+/BDF files through MNE, channel mapping and resampling.

The header is checked from its own bytes first (MNE reads a truncated file without complaint), then the
requested channels are found by name and read with ``mne.io.read_raw_edf(..., preload=False)``, one call
per native sampling rate so that MNE never resamples, and only the requested time span is read.
Every channel is then brought to ``sfreq_hz`` (100 Hz by default):

- same rate: unchanged;
- lower rate (Sleep-EDF's 1-Hz EMG envelope): linear interpolation between the samples, each sample
  placed at its own time ``k / rate`` and the last one held to the end. It neither rings nor overshoots
  (unlike FFT resampling, which MNE would apply), keeps an envelope non-negative, and is exact across
  chunk boundaries;
- higher rate (e.g. 256 Hz EEG): ``scipy.signal.resample_poly`` (polyphase FIR with a Kaiser window,
  anti-aliased).

Signals are returned in microvolts (channels whose EDF unit is not a voltage keep their own unit).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.edfheader import EdfHeader, read_edf_header

log = logging.getLogger(__name__)

DEFAULT_CHANNELS: tuple[str, ...] = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental")

# Other names under which the default channels appear in other recordings (tried after exact and
# case-insensitive matches of the requested name, in this order).
CHANNEL_ALIASES: dict[str, tuple[str, ...]] = {
    "EEG Fpz-Cz": ("Fpz-Cz", "EEG Fpz-Cz-Ref", "EEG FPZ-CZ", "Fpz"),
    "EEG Pz-Oz": ("Pz-Oz", "EEG Pz-Oz-Ref", "EEG PZ-OZ", "Pz"),
    "EOG horizontal": ("EOG", "HEOG", "EOG(L)", "EOG LOC-A2", "E1-M2", "LOC-A2", "LOC"),
    "EMG submental": ("EMG", "EMG chin", "Chin EMG", "Chin1-Chin2", "EMG Chin1-Chin2", "CHIN"),
}
# units MNE converts to volts (case-sensitive, as in mne.io.edf); other units are returned as stored
_VOLT_UNITS = frozenset({"\u03bcV", "\u00b5V", "\x83\xcaV", "uV", "mV", "V"})
_BLOCK_S = 3600.0  # load_psg reads this much at a time
_MARGIN_S = 2.0  # context read on each side of a chunk so that resampling is seamless


@dataclass(frozen=True)
class PSG:
    """One recording, every channel resampled to ``sfreq_hz``.

    Attributes:
        data: float32 (n_channels, n_samples), microvolts.
        sfreq_hz: sampling rate of ``data``, Hz.
        channels: the requested channel names, in the order of ``data``'s rows.
        start: recording start from the EDF header (UTC, as MNE reads it), or None.
        path: the EDF file.
        source_channels: the file's labels that were read for each row.
        offset_s: time of ``data[:, 0]`` from the recording start, s.
    """

    data: np.ndarray
    sfreq_hz: float
    channels: tuple[str, ...]
    start: datetime | None
    path: Path
    source_channels: tuple[str, ...] = ()
    offset_s: float = 0.0
    native_sfreq_hz: tuple[float, ...] = field(default=())

    @property
    def duration_s(self) -> float:
        """Length of ``data``, s."""
        return self.data.shape[1] / self.sfreq_hz

    def n_epochs(self, epoch_s: float = 30.0) -> int:
        """Number of whole epochs of ``epoch_s`` seconds (a trailing partial epoch is not counted)."""
        return int(self.data.shape[1] // int(round(epoch_s * self.sfreq_hz)))

    def epochs(self, epoch_s: float = 30.0) -> np.ndarray:
        """A view of the whole epochs: float32 (n_epochs, n_channels, epoch_s * sfreq_hz)."""
        n_per = int(round(epoch_s * self.sfreq_hz))
        n = self.n_epochs(epoch_s)
        return self.data[:, : n * n_per].reshape(len(self.channels), n, n_per).transpose(1, 0, 2)


def resolve_channels(available: Sequence[str], requested: Sequence[str], path: str | Path,
                     aliases: Mapping[str, str] | None = None) -> list[str]:
    """Find the file label to read for each requested channel name.

    Order of matching for each name: the user's ``aliases`` (requested name -> file label), the exact
    label, the label ignoring case and spaces, then the built-in :data:`CHANNEL_ALIASES`.

    Raises:
        InputError: a channel is missing; the message lists the file's channels and how to map one.
    """
    def norm(name: str) -> str:
        return "".join(name.lower().split())

    by_norm = {norm(a): a for a in reversed(available)}
    aliases = dict(aliases or {})
    out = []
    for name in requested:
        target = aliases.get(name, name)
        candidates = [target] if name in aliases else [target, *CHANNEL_ALIASES.get(name, ())]
        found = next((by_norm[norm(c)] for c in candidates if norm(c) in by_norm), None)
        if found is None:
            what = f"channel '{target}' (mapped from '{name}')" if name in aliases else f"channel '{name}'"
            raise InputError(path, f"{what} not in the file. Available: {', '.join(available)}. "
                                   f"Map one with --channel '{name}=LABEL' (Python: aliases={{'{name}': 'LABEL'}}) "
                                   "or choose other channels with --channels.")
        out.append(found)
    return out


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


MIN_WAVEFORM_HZ = 50.0
"""Lowest native rate accepted for EEG and EOG channels: sleep EEG carries spindles (11-16 Hz) and the
model reads 100-Hz input, so a slower channel cannot hold what the model needs. EMG is exempt: Sleep-EDF
stores it as a 1-Hz envelope."""


def _check_waveform_rates(path: Path, channels: Sequence[str], labels: Sequence[str],
                          rates: Sequence[float]) -> None:
    for name, label, rate in zip(channels, labels, rates):
        kind = next((k for k in ("EEG", "EOG") if k in f"{name} {label}".upper()), None)
        if kind and rate < MIN_WAVEFORM_HZ:
            raise InputError(path, f"channel '{label}' is sampled at {rate:g} Hz; {kind} needs at least "
                                   f"{MIN_WAVEFORM_HZ:g} Hz (sampling rate too low for sleep staging)")


class _Reader:
    """Opened EDF: resolved channels grouped by native rate, one MNE raw per group (lazy, no preload)."""

    def __init__(self, path: str | Path, channels: Sequence[str], sfreq_hz: float,
                 aliases: Mapping[str, str] | None):
        import mne

        self.path = Path(path)
        self.header: EdfHeader = read_edf_header(self.path)
        signals = [s for s in self.header.signals if not s.is_annotation]
        if not signals:
            raise InputError(self.path, "has no signals, only annotations (is it a hypnogram, not a PSG?)")
        if not channels:
            raise InputError(self.path, "no channels requested")
        self.channels = tuple(channels)
        self.labels = resolve_channels([s.label for s in signals], channels, self.path, aliases)
        by_label = {s.label: s for s in reversed(signals)}
        self.sfreq_hz = float(sfreq_hz)
        self.rates = [by_label[lab].sfreq_hz for lab in self.labels]
        _check_waveform_rates(self.path, self.channels, self.labels, self.rates)
        self.scale = [1e6 if by_label[lab].unit in _VOLT_UNITS else 1.0 for lab in self.labels]
        reader = mne.io.read_raw_bdf if self.header.is_bdf else mne.io.read_raw_edf
        self.groups: dict[float, tuple[list[int], object]] = {}
        try:
            for rate in sorted(set(self.rates)):
                rows = [i for i, r in enumerate(self.rates) if r == rate]
                names = list(dict.fromkeys(self.labels[i] for i in rows))
                raw = reader(self.path, include=names, preload=False, verbose="error")
                self.groups[rate] = (rows, raw)
        except Exception as exc:  # MNE raises many types on corrupt headers
            raise InputError(self.path, f"cannot be read as EDF ({type(exc).__name__}: {exc})") from exc
        self.duration_s = self.header.duration_s
        first_raw = next(iter(self.groups.values()))[1]
        self.start = first_raw.info["meas_date"]

    def read(self, t0_s: float, t1_s: float, out: np.ndarray | None = None) -> np.ndarray:
        """Channels resampled to ``sfreq_hz`` over [t0_s, t1_s): float32 (n_channels, n_samples), uV.

        ``out``, when given, is a float32 (n_channels, n_samples) array (or view) filled in place.
        """
        n_out = int(round((t1_s - t0_s) * self.sfreq_hz))
        if out is None:
            out = np.empty((len(self.labels), n_out), dtype=np.float32)
        for rate, (rows, raw) in self.groups.items():
            pad = 0.0 if rate == self.sfreq_hz else _MARGIN_S
            a = int(round(max(t0_s - pad, 0.0) * rate))
            b = min(int(np.ceil((t1_s + pad) * rate)), raw.n_times)
            block = raw.get_data(picks=[self.labels[i] for i in rows], start=a, stop=b)
            if rate == self.sfreq_hz:
                y = block[:, :n_out]
            else:
                lead = int(round((t0_s - a / rate) * self.sfreq_hz))
                y = resample(block, rate, self.sfreq_hz, n_out=lead + n_out)[:, lead:]
            if y.shape[1] < n_out:  # a signal ends early: hold its last value
                y = np.pad(y, ((0, 0), (0, n_out - y.shape[1])), mode="edge")
            for k, i in enumerate(rows):
                np.multiply(y[k], self.scale[i], out=out[i], casting="same_kind")
        return out


def _check_values(data: np.ndarray, channels: Sequence[str], labels: Sequence[str], path: Path,
                  check_flat: bool) -> None:
    for row, name, label in zip(data, channels, labels):
        bad = ~np.isfinite(row)
        if bad.any():
            raise InputError(path, f"channel '{label}' ({name}) holds {int(bad.sum())} NaN/infinite values "
                                   f"(first at {np.flatnonzero(bad)[0]} samples): check its physical and "
                                   "digital range in the EDF header, or choose another channel")
        if check_flat and row.size and row.min() == row.max():
            raise InputError(path, f"channel '{label}' ({name}) is flat: constant {float(row[0]):.6g} uV over "
                                   "the whole recording (disconnected electrode?); map another channel with "
                                   f"--channel '{name}=LABEL'")


def load_psg(path: str | Path, channels: Sequence[str] = DEFAULT_CHANNELS, sfreq_hz: float = 100.0,
             aliases: Mapping[str, str] | None = None, start_s: float = 0.0, stop_s: float | None = None,
             epoch_s: float = 30.0) -> PSG:
    """Load the requested channels of a PSG, resampled to ``sfreq_hz``.

    Args:
        path: EDF, EDF+ or BDF file.
        channels: channel names to read, in order (matched as :func:`resolve_channels` describes).
        sfreq_hz: output sampling rate, Hz.
        aliases: user mapping requested name -> file label, e.g. ``{"EEG Fpz-Cz": "C4-M1"}``.
        start_s: first second to read (from the recording start).
        stop_s: end of the span to read, s (default: end of the recording).
        epoch_s: epoch length, s; a recording shorter than one epoch is refused.

    Returns:
        A :class:`PSG` with ``data`` float32 (n_channels, round((stop_s - start_s) * sfreq_hz)) in uV.

    Raises:
        InputError: missing/truncated/corrupt file, missing channel, recording shorter than one epoch,
            NaN or flat channel (flat: one constant value over the whole span read).

    Example:
        >>> psg = load_psg("SC4001E0-PSG.edf")  # doctest: +SKIP
        >>> psg.data.shape, psg.n_epochs()       # doctest: +SKIP
        ((4, 7950000), 2650)
    """
    reader = _Reader(path, channels, sfreq_hz, aliases)
    if reader.duration_s < epoch_s:
        raise InputError(reader.path, f"recording lasts {reader.duration_s:g} s, shorter than one "
                                      f"{epoch_s:g}-s epoch")
    stop_s = reader.duration_s if stop_s is None else min(float(stop_s), reader.duration_s)
    if not 0.0 <= start_s < stop_s:
        raise InputError(reader.path, f"empty time span {start_s:g}-{stop_s:g} s "
                                      f"(the recording lasts {reader.duration_s:g} s)")
    # read in blocks of an hour: faster than one huge MNE read and keeps float64 temporaries small
    n_out = int(round((stop_s - start_s) * reader.sfreq_hz))
    data = np.empty((len(reader.labels), n_out), dtype=np.float32)
    for t0 in np.arange(float(start_s), stop_s, _BLOCK_S):
        a = int(round((t0 - start_s) * reader.sfreq_hz))
        t1 = min(t0 + _BLOCK_S, stop_s)
        reader.read(float(t0), t1, out=data[:, a:a + int(round((t1 - t0) * reader.sfreq_hz))])
    _check_values(data, reader.channels, reader.labels, reader.path, check_flat=True)
    return PSG(data=data, sfreq_hz=reader.sfreq_hz, channels=reader.channels, start=reader.start,
               path=reader.path, source_channels=tuple(reader.labels), offset_s=float(start_s),
               native_sfreq_hz=tuple(reader.rates))


def iter_psg_chunks(path: str | Path, channels: Sequence[str] = DEFAULT_CHANNELS, sfreq_hz: float = 100.0,
                    chunk_epochs: int = 120, aliases: Mapping[str, str] | None = None,
                    epoch_s: float = 30.0) -> Iterator[np.ndarray]:
    """Read a long PSG in epoch-aligned chunks with bounded memory.

    Yields float32 arrays (n_channels, chunk_epochs * epoch_s * sfreq_hz) in uV covering consecutive whole
    epochs from the recording start; the last chunk holds the remaining whole epochs (a trailing partial
    epoch is dropped). Concatenated, the chunks equal ``load_psg(...).epochs()`` up to float rounding:
    each chunk is resampled with a few seconds of context on either side.

    Raises:
        InputError: as :func:`load_psg`, checked before the first chunk; NaN values when met; a channel
            flat over the whole recording after the last chunk.
    """
    if chunk_epochs < 1:
        raise ValueError(f"chunk_epochs must be >= 1, got {chunk_epochs}")
    reader = _Reader(path, channels, sfreq_hz, aliases)
    n_epochs = int(reader.duration_s // epoch_s)
    if n_epochs < 1:
        raise InputError(reader.path, f"recording lasts {reader.duration_s:g} s, shorter than one "
                                      f"{epoch_s:g}-s epoch")
    lo = np.full(len(reader.labels), np.inf)
    hi = np.full(len(reader.labels), -np.inf)
    for first in range(0, n_epochs, chunk_epochs):
        last = min(first + chunk_epochs, n_epochs)
        chunk = reader.read(first * epoch_s, last * epoch_s)
        _check_values(chunk, reader.channels, reader.labels, reader.path, check_flat=False)
        lo, hi = np.minimum(lo, chunk.min(axis=1)), np.maximum(hi, chunk.max(axis=1))
        if last == n_epochs and (lo == hi).any():
            i = int(np.flatnonzero(lo == hi)[0])
            _check_values(np.full((1, 2), lo[i], np.float32), [reader.channels[i]], [reader.labels[i]],
                          reader.path, check_flat=True)
        yield chunk
