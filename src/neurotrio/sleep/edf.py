"""Reading polysomnography (PSG) EDF/EDF+/BDF files through MNE, channel mapping and resampling.

The header is checked from its own bytes first (MNE reads a truncated file without complaint), then the
requested channels are found by name (or by signal number when a label repeats) and read with
``mne.io.read_raw_edf(..., preload=False)``, one call per native sampling rate so that MNE never
resamples, and only the requested time span is read. MNE's warnings are passed on (logged), never
silenced. Every channel is then brought to ``sfreq_hz`` (100 Hz by default) as
:mod:`neurotrio.sleep.signals` describes (raw EMG for an EMG input becomes Sleep-EDF's 1-Hz RMS
envelope, :mod:`neurotrio.sleep.emg`).

EDF+D files are read on their own clock: each data record's onset comes from its time-keeping
annotation (:mod:`neurotrio.sleep.edfplus`), and the recording is a list of contiguous pieces. Scoring
(:func:`neurotrio.sleep.score.stage_night`) stages each piece on its real onset; :func:`load_psg` and
:func:`iter_psg_chunks`, which return one continuous array, refuse a file with gaps.

Signals are returned in microvolts (the EDF unit field is honoured: uV, mV, V, nV).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.channels import (
    CHANNEL_ALIASES,
    DEFAULT_CHANNELS,
    MIN_WAVEFORM_HZ,
    _check_waveform_rates,
    check_alias_names,
    resolve_channels,
    resolve_signals,
)
from neurotrio.sleep.edfheader import EdfHeader, read_edf_header
from neurotrio.sleep.edfplus import pieces_of, record_onsets
from neurotrio.sleep.signals import ChannelReader, check_amplitude, check_finite, resample, unit_scale

__all__ = ["DEFAULT_CHANNELS", "CHANNEL_ALIASES", "MIN_WAVEFORM_HZ", "PSG", "check_alias_names", "resolve_channels",
           "resolve_signals", "resample", "load_psg", "iter_psg_chunks", "open_edf"]

log = logging.getLogger(__name__)

# units MNE converts to volts (case-sensitive, as in mne.io.edf 1.13); others are returned as stored
_MNE_SCALED = frozenset({"\u03bcV", "\u00b5V", "\x83\xcaV", "uV", "mV"})
_BLOCK_S = 3600.0  # load_psg reads this much at a time


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


def _reader_warnings(name: str | Path, caught: list, library: str) -> None:
    """Re-emit a reader's warnings as log warnings naming the file; only filter-metadata notes are demoted.

    MNE warns, for instance, when it substitutes a range for an undefined calibration; MNE and edfio warn
    when the file holds more records than the header says: such warnings must reach the user, never be
    silenced.
    """
    for w in caught:
        text = " ".join(str(w.message).split())
        harmless = any(k in text for k in _HARMLESS_MNE)
        (log.debug if harmless else log.warning)("%s: %s: %s", Path(str(name)).name, library, text)


_HARMLESS_MNE = ("highpass filter", "lowpass filter", "Highpass cutoff frequency",
                 "Channel names are not unique")  # filter metadata; duplicates: resolved by index here


class _Reader(ChannelReader):
    """Opened EDF/BDF: the header checks, channel choice (by signal number when labels repeat) and the
    record onsets of EDF+ files (:mod:`neurotrio.sleep.edfplus`) are done here; a library reads the samples.

    EDF: edfio (a dependency already, for writing hypnograms) reads each requested signal by its index
    from a memory map of the data records, only the records asked for. Chosen over MNE for EDF because it
    needs no label matching (repeated labels are a non-issue), touches only the model's channels once, at
    their native rate, and spares a fresh ``score`` MNE's I/O import (~0.5 s); the reading of a 22-h
    night drops from ~0.8 s to ~0.15 s (this 2-core CPU, loaded). BDF: MNE, one lazy raw per native rate
    (edfio would load a BDF whole).
    """

    def __init__(self, path: str | Path, channels: Sequence[str], sfreq_hz: float,
                 aliases: Mapping[str, str] | None):
        self.path = self.name = Path(path)
        self.header: EdfHeader = read_edf_header(self.path)
        signals = [(i, s) for i, s in enumerate(self.header.signals) if not s.is_annotation]
        if not signals:
            raise InputError(self.path, "has no signals, only annotations (is it a hypnogram, not a PSG?)")
        if not channels:
            raise InputError(self.path, "no channels requested")
        self.channels = tuple(channels)
        index = resolve_signals([s.label for s in self.header.signals], channels, self.path, aliases,
                                skip=[i for i, s in enumerate(self.header.signals) if s.is_annotation])
        chosen = [self.header.signals[i] for i in index]
        self.labels = [s.label for s in chosen]
        _check_calibration(self.path, self.channels, index, chosen, self.header.n_records)
        self.sfreq_hz = float(sfreq_hz)
        self.rates = [s.sfreq_hz for s in chosen]
        _check_waveform_rates(self.path, self.channels, self.labels, self.rates)
        self.units = [s.unit for s in chosen]
        self.source_index = list(index)
        self.pieces = pieces_of(self.header, record_onsets(self.header))
        self.start = self.header.start
        self.joined_s = self.header.duration_s
        try:
            if self.header.is_bdf:
                self.scale = [1e6 if s.unit in _MNE_SCALED else (unit_scale(s.unit) or 1.0) for s in chosen]
                self._open_mne(signals)
            else:
                self.scale = [unit_scale(s.unit) or 1.0 for s in chosen]
                self._open_edfio()
        except InputError:
            raise
        except Exception as exc:  # the readers raise many types on corrupt headers
            raise InputError(self.path, f"cannot be read as EDF ({type(exc).__name__}: {exc})") from exc
        self._plan()

    def _open_edfio(self) -> None:
        import warnings

        import edfio

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            edf = edfio.read_edf(self.path, lazy_load_data=True, header_encoding="latin-1")
        _reader_warnings(self.path, caught, "edfio")
        by_index = [i for i, s in enumerate(self.header.signals) if not s.is_annotation]
        if len(edf.signals) != len(by_index):
            raise ValueError(f"edfio found {len(edf.signals)} signals, the header {len(by_index)}")
        self._signals = dict(zip(by_index, edf.signals))
        self._edf = edf  # keeps the memory map open

    def _open_mne(self, signals: Sequence[tuple[int, object]]) -> None:
        import warnings

        import mne

        reader = mne.io.read_raw_bdf if self.header.is_bdf else mne.io.read_raw_edf
        self._raws: dict[float, tuple[object, dict[int, int]]] = {}
        for rate in sorted(set(self.rates)):
            names = list(dict.fromkeys(lab for lab, r in zip(self.labels, self.rates) if r == rate))
            # MNE keeps, in file order, every signal whose label is included (repeated labels renamed)
            members = [i for i, s in signals if s.label in names]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                raw = reader(self.path, include=names, preload=False, verbose="warning")
            _reader_warnings(self.path, caught, "MNE")
            if len(raw.ch_names) != len(members):
                raise ValueError(f"MNE opened {len(raw.ch_names)} channels for {len(members)} signals")
            self._raws[rate] = (raw, {sig: k for k, sig in enumerate(members)})

    def _get(self, rate: float, sources: list[int], a: int, b: int) -> np.ndarray:
        b = max(a, min(b, int(round(self.joined_s * rate))))
        if self.header.is_bdf:
            raw, col = self._raws[rate]
            return raw.get_data(picks=[col[s] for s in sources], start=a, stop=min(b, raw.n_times))
        rows = [self._signals[s].get_data_slice(a / rate, b / rate) for s in sources]
        return rows[0][None] if len(rows) == 1 else np.stack(rows)

    def _read_into(self, rate: float, source: int, a: int, b: int, scale: float, out: np.ndarray) -> None:
        if self.header.is_bdf:
            return super()._read_into(rate, source, a, b, scale, out)
        # EDF's calibration, physical = (d - dmin) * (pmax - pmin) / (dmax - dmin) + pmin, applied in float32
        # straight into ``out`` (the same numbers as edfio's float64 calibration, to float32 rounding)
        s = self.header.signals[source]
        gain = (s.physical_max - s.physical_min) / (s.digital_max - s.digital_min)
        b = max(a, min(b, int(round(self.joined_s * rate))))
        d = self._signals[source].get_digital_slice(a / rate, b / rate)
        n = min(d.size, out.size)
        np.multiply(d[:n], np.float32(gain * scale), out=out[:n], casting="unsafe")
        out[:n] += np.float32((s.physical_min - s.digital_min * gain) * scale)
        if n < out.size:
            out[n:] = out[n - 1] if n else 0.0


def _check_calibration(path: Path, channels: Sequence[str], index: Sequence[int], chosen: Sequence,
                       n_records: int) -> None:
    """Refuse a signal read for the model whose physical range cannot convert samples to a unit.

    MNE substitutes a range of 1 when the physical minimum equals the maximum (and warns): the channel
    then holds numbers of the wrong size, and the model stages REM far too often. EDF (Kemp et al. 1992)
    defines physical = (digital - dmin) * (pmax - pmin) / (dmax - dmin) + pmin, undefined here.
    """
    for name, i, s in zip(channels, index, chosen):
        if not (math.isfinite(s.physical_min) and math.isfinite(s.physical_max)):
            raise InputError(path, f"channel '{s.label}' ({name}) holds {n_records * s.n_samples} NaN/infinite "
                                   f"values: signal {i + 1}'s physical range {s.physical_min:g}..{s.physical_max:g} "
                                   "in the EDF header is not finite (calibration undefined)")
        if s.physical_min == s.physical_max:
            raise InputError(path, f"channel '{s.label}' ({name}): signal {i + 1}'s physical minimum equals its "
                                   f"maximum ({s.physical_min:g} {s.unit}) in the EDF header, so its samples "
                                   "cannot be converted to a unit (calibration undefined); fix the header or "
                                   f"map another channel with --channel '{name}=LABEL'")


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
    reader = open_edf(path, channels, sfreq_hz, aliases)
    _refuse_gaps(reader, "load_psg")
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
        reader.read(float(t0), t1, 0.0, reader.duration_s, out=data[:, a:a + int(round((t1 - t0) * reader.sfreq_hz))])
    check_finite(data, reader.channels, reader.labels, reader.path, check_flat=True)
    check_amplitude(data, reader.channels, reader.labels, reader.path, reader.units)
    return PSG(data=data, sfreq_hz=reader.sfreq_hz, channels=reader.channels, start=reader.start,
               path=reader.path, source_channels=tuple(reader.labels), offset_s=float(start_s),
               native_sfreq_hz=tuple(reader.rates))


def _refuse_gaps(reader: _Reader, what: str) -> None:
    if len(reader.pieces) > 1:
        gaps = ", ".join(f"{a.onset_s + a.duration_s:g}-{b.onset_s:g} s" for a, b in zip(reader.pieces, reader.pieces[1:]))
        raise InputError(reader.path, f"{reader.header.edf_plus or 'EDF'} recording with acquisition gaps ({gaps}): "
                                      f"{what} returns one continuous signal and would join the pieces; stage it "
                                      "with neurotrio.sleep.score.stage_night (each piece on its real onset)")


def open_edf(path: str | Path, channels: Sequence[str] = DEFAULT_CHANNELS, sfreq_hz: float = 100.0,
             aliases: Mapping[str, str] | None = None) -> _Reader:
    """Open an EDF/EDF+/BDF file for reading ``channels`` (header, calibration and channels checked).

    Returns:
        A :class:`~neurotrio.sleep.signals.ChannelReader` (its ``pieces`` hold the EDF+D record onsets).

    Raises:
        InputError, ConfigError: as :func:`load_psg` (before any sample is read).
    """
    return _Reader(path, channels, sfreq_hz, aliases)


def iter_psg_chunks(path: str | Path, channels: Sequence[str] = DEFAULT_CHANNELS, sfreq_hz: float = 100.0,
                    chunk_epochs: int = 120, aliases: Mapping[str, str] | None = None,
                    epoch_s: float = 30.0) -> Iterator[np.ndarray]:
    """Read a long continuous PSG in epoch-aligned chunks with bounded memory.

    Yields float32 arrays (n_channels, chunk_epochs * epoch_s * sfreq_hz) in uV covering consecutive whole
    epochs from the recording start; the last chunk holds the remaining whole epochs (a trailing partial
    epoch is dropped). Concatenated, the chunks equal ``load_psg(...).epochs()`` up to float rounding:
    each chunk is resampled with a few seconds of context on either side.

    Raises:
        InputError: as :func:`load_psg`, checked before the first chunk (an EDF+D file with gaps is
            refused: see :func:`neurotrio.sleep.signals.iter_chunks`, which follows the pieces); NaN
            values when met; a channel flat over the whole recording after the last chunk.
    """
    from neurotrio.sleep.signals import iter_chunks

    reader = open_edf(path, channels, sfreq_hz, aliases)
    _refuse_gaps(reader, "iter_psg_chunks")
    for chunk, _ in iter_chunks(reader, epoch_s, chunk_epochs):
        yield chunk
