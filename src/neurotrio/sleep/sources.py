"""What a night can be given as: an EDF/EDF+/BDF path, an ``mne.io.Raw``, or a NumPy array (:class:`PSGArray`).

:func:`open_psg` turns any of them into a :class:`~neurotrio.sleep.signals.ChannelReader` for the model's
inputs, with the same channel matching (:func:`neurotrio.sleep.edf.resolve_signals`), resampling, raw-EMG
envelope and unit checks in every case, so that ``stage_night(raw)`` and ``stage_night("night.edf")``
stage the same samples the same way.

- A path is read by :func:`neurotrio.sleep.edf.open_edf` (EDF+D record onsets honoured).
- An ``mne.io.BaseRaw`` (what YASA users hold): channels whose unit MNE records as volts (EEG, EOG,
  EMG...) are converted to uV; other channels are taken as uV. Spans annotated ``BAD_ACQ_SKIP`` (MNE's
  mark of an acquisition gap) are gaps: the pieces between them are staged on their own onsets. A Raw
  read by MNE from an EDF+D file with gaps (MNE 1.13 joins its records silently) gets the file's pieces
  back from the file's time-keeping annotations, or is refused if it was cropped or resampled since.
  ``start`` is ``raw.info["meas_date"]`` without its time zone (MNE stores an EDF's clock as UTC), plus
  ``raw.first_time`` for a cropped Raw (meas_date stays the clock time of the original first sample).
- A :class:`PSGArray`: data with its rate, channel names and declared unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.channels import _check_waveform_rates, resolve_signals
from neurotrio.sleep.edf import open_edf
from neurotrio.sleep.signals import ChannelReader, Piece, unit_scale


@dataclass
class PSGArray:
    """A night held in memory, for :func:`neurotrio.sleep.score.stage_night` and ``SleepStager``.

    Attributes:
        data: (n_channels, n_samples) array, one row per channel, all at ``sfreq_hz``.
        sfreq_hz: sampling rate, Hz.
        ch_names: one name per row (matched to the model's inputs like EDF labels are).
        unit: unit of every row, or one per row: "uV" (default), "mV", "V" (MNE's ``get_data()``) or
            "nV". Values are checked against the microvolt range of sleep signals after conversion.
        start: recording start (clock time), or None.

    Example:
        >>> night = PSGArray(raw.get_data(), raw.info["sfreq"], raw.ch_names, unit="V")  # doctest: +SKIP
    """

    data: np.ndarray
    sfreq_hz: float
    ch_names: Sequence[str]
    unit: str | Sequence[str] = "uV"
    start: datetime | None = None


class _ArrayReader(ChannelReader):
    """Rows read from a 2-D array (PSGArray) or an MNE Raw, at one native rate."""

    def __init__(self, get: Any, n_times: int, rate: float, names: Sequence[str], units: Sequence[str],
                 scales: Sequence[float], channels: Sequence[str], sfreq_hz: float,
                 aliases: Mapping[str, str] | None, name: str, start: datetime | None, pieces: list[Piece]):
        self.name = name
        self.channels = tuple(channels)
        if not self.channels:
            raise InputError(name, "no channels requested")
        index = resolve_signals(list(names), self.channels, name, aliases)
        self.source_index = index
        self.labels = [names[i] for i in index]
        self.rates = [float(rate)] * len(index)
        _check_waveform_rates(Path(name), self.channels, self.labels, self.rates)
        self.units = [units[i] for i in index]
        self.scale = [float(scales[i]) for i in index]
        self.sfreq_hz = float(sfreq_hz)
        self.start = start
        self.pieces = pieces
        self._fetch = get
        self._n_times = n_times
        self._plan()

    def _get(self, rate: float, sources: list[int], a: int, b: int) -> np.ndarray:
        return np.asarray(self._fetch(sources, a, min(max(a, b), self._n_times)), dtype=np.float64)


def _array_reader(arr: PSGArray, channels: Sequence[str], sfreq_hz: float,
                  aliases: Mapping[str, str] | None) -> _ArrayReader:
    name = "array input"
    data = np.asarray(arr.data)
    names = [str(c) for c in arr.ch_names]
    if data.ndim != 2 or data.shape[0] != len(names):
        raise InputError(name, f"data must be (n_channels={len(names)}, n_samples) for channels "
                               f"{', '.join(names)}; got shape {data.shape}")
    if not arr.sfreq_hz or arr.sfreq_hz <= 0:
        raise InputError(name, f"sampling rate must be positive, got {arr.sfreq_hz!r}")
    units = [arr.unit] * len(names) if isinstance(arr.unit, str) else [str(u) for u in arr.unit]
    if len(units) != len(names):
        raise InputError(name, f"{len(units)} units for {len(names)} channels")
    scales = []
    for ch, u in zip(names, units):
        f = unit_scale(u)
        if f is None:
            raise InputError(name, f"channel '{ch}': unknown unit {u!r}; use 'uV', 'mV', 'V' or 'nV'")
        scales.append(f)
    n = data.shape[1]
    pieces = [Piece(0.0, 0.0, n / float(arr.sfreq_hz))]
    return _ArrayReader(lambda rows, a, b: data[rows, a:b], n, arr.sfreq_hz, names, units, scales, channels,
                        sfreq_hz, aliases, name, arr.start, pieces)


def _raw_pieces(raw: Any) -> list[Piece]:
    """Contiguous pieces of an MNE Raw: its span minus ``BAD_ACQ_SKIP`` annotations (time from its first sample)."""
    total = raw.n_times / raw.info["sfreq"]
    ann = raw.annotations
    offset = raw.first_time if ann.orig_time is not None else 0.0
    skips = sorted((float(o) - offset, float(o) - offset + float(d)) for o, d, desc
                   in zip(ann.onset, ann.duration, ann.description) if str(desc).upper().startswith("BAD_ACQ_SKIP"))
    pieces, t = [], 0.0
    for a, b in skips:
        a, b = max(a, 0.0), min(b, total)
        if a > t:
            pieces.append(Piece(t, t, a - t))
        t = max(t, b)
    if t < total:
        pieces.append(Piece(t, t, total - t))
    return pieces


def _raw_reader(raw: Any, channels: Sequence[str], sfreq_hz: float,
                aliases: Mapping[str, str] | None) -> _ArrayReader:
    from mne.io.constants import FIFF

    names = list(raw.ch_names)
    volts = [ch["unit"] == FIFF.FIFF_UNIT_V for ch in raw.info["chs"]]
    units = ["V" if v else "uV (assumed: MNE records no voltage unit)" for v in volts]
    scales = [1e6 if v else 1.0 for v in volts]
    fname = raw.filenames[0] if getattr(raw, "filenames", None) and raw.filenames[0] else None
    name = str(fname) if fname else "mne Raw"
    start = raw.info["meas_date"]
    # meas_date is the clock time of the ORIGINAL first sample; a cropped Raw starts first_time later
    start = start.replace(tzinfo=None) + timedelta(seconds=float(raw.first_time)) if start is not None else None
    pieces = _edf_plus_d_pieces(raw, fname) or _raw_pieces(raw)
    return _ArrayReader(lambda rows, a, b: raw.get_data(picks=rows, start=a, stop=b), raw.n_times,
                        raw.info["sfreq"], names, units, scales, channels, sfreq_hz, aliases, name, start, pieces)


def _edf_plus_d_pieces(raw: Any, fname: Any) -> list[Piece] | None:
    """The pieces of the EDF+D file a Raw was read from, when MNE joined them (it ignores record onsets).

    Returns None when the Raw does not come from an EDF+D file with gaps.

    Raises:
        InputError: the Raw was read from such a file but cropped or resampled since: its samples can no
            longer be put back on the file's clock.
    """
    if not fname or Path(str(fname)).suffix.lower() not in (".edf", ".bdf") or not Path(str(fname)).is_file():
        return None
    from neurotrio.sleep.edfheader import read_edf_header
    from neurotrio.sleep.edfplus import pieces_of, record_onsets

    header = read_edf_header(fname)
    if header.edf_plus != "EDF+D":
        return None
    pieces = pieces_of(header, record_onsets(header))
    if len(pieces) < 2:
        return None
    if raw.first_samp != 0 or abs(raw.n_times / raw.info["sfreq"] - header.duration_s) > 1e-6:
        raise InputError(fname, f"this Raw comes from an EDF+D file with {len(pieces) - 1} acquisition gap(s), "
                                "which MNE joins as if continuous, and was cropped or resampled since: its samples "
                                "cannot be put back on the recording's clock; stage the file's path instead")
    return pieces


def open_psg(psg: Any, channels: Sequence[str], sfreq_hz: float,
             aliases: Mapping[str, str] | None = None) -> ChannelReader:
    """A reader of ``channels`` from a path, an ``mne.io.BaseRaw`` or a :class:`PSGArray`.

    Raises:
        InputError: unreadable source, missing/ambiguous channel, undefined calibration, unknown unit.
        ConfigError: a mapping for a name that is not among ``channels``.
        TypeError: any other kind of ``psg`` (the message lists the accepted ones).
    """
    if isinstance(psg, (str, Path)):
        return open_edf(psg, channels, sfreq_hz, aliases)
    if isinstance(psg, PSGArray):
        return _array_reader(psg, channels, sfreq_hz, aliases)
    try:
        import mne
    except ImportError:  # pragma: no cover - mne is a dependency
        mne = None
    if mne is not None and isinstance(psg, mne.io.BaseRaw):
        return _raw_reader(psg, channels, sfreq_hz, aliases)
    if isinstance(psg, np.ndarray):
        raise TypeError("a NumPy array needs its rate and channel names: pass "
                        "PSGArray(data, sfreq_hz, ch_names, unit='uV') (neurotrio.sleep.sources.PSGArray)")
    raise TypeError(f"cannot stage a {type(psg).__name__}: give an EDF/BDF path, an mne.io.Raw or a "
                    "neurotrio.sleep.sources.PSGArray")


def source_labels(psg: Any) -> tuple[list[str], list[int]]:
    """Every channel label a source holds, in order, and the indices that are not data (EDF Annotations)."""
    if isinstance(psg, (str, Path)):
        from neurotrio.sleep.edfheader import read_edf_header

        signals = read_edf_header(psg).signals
        return [s.label for s in signals], [i for i, s in enumerate(signals) if s.is_annotation]
    if isinstance(psg, PSGArray):
        return [str(c) for c in psg.ch_names], []
    return list(getattr(psg, "ch_names", [])), []


def has_channel(psg: Any, aliases: Mapping[str, str] | None = None) -> Callable[[str], bool]:
    """A predicate telling whether a model input name can be read from ``psg`` (mapping and aliases applied).

    A name whose label is carried by several signals counts as present (reading it then asks to choose).
    A name the user mapped explicitly to a label (or ``#N``) that the source lacks is an error, not an
    absence: the predicate raises it.

    Raises:
        InputError: unreadable file (read once, here); from the predicate, a mapping that points nowhere.
    """
    from neurotrio.core.errors import ConfigError

    labels, skip = source_labels(psg)
    aliases = dict(aliases or {})
    where = psg if isinstance(psg, (str, Path)) else None

    def check(name: str) -> bool:
        mapping = {name: aliases[name]} if name in aliases else None
        try:
            resolve_signals(labels, [name], where, mapping, skip=skip)
        except ConfigError:
            return False
        except InputError as exc:
            if mapping is not None and "carried by signals" not in str(exc):
                raise
            return "carried by signals" in str(exc)
        return True

    return check
