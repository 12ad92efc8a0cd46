"""Small, seeded, real-format sleep recordings for tests: an EDF PSG and a Sleep-EDF-style hypnogram.

The PSG's signals differ by stage in ways a sleep stager can learn (alpha and high EMG in wake, theta in
N1, spindles in N2, large delta in N3, sawtooth theta with rapid eye movements and low EMG in REM).

Uniform sampling rates are written with MNE (``RawArray`` + ``mne.export.export_raw(fmt="edf")``).
MNE's ``RawArray`` holds one sampling rate, so a PSG with a 1-Hz EMG envelope (as in every Sleep-EDF
cassette file) is written with edfio, the EDF library MNE's exporter itself uses, which stores each
signal at its own rate: the file has the same layout as Sleep-EDF's (30-s data records, EMG 30 samples
per record).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurotrio.sleep.edf import DEFAULT_CHANNELS
from neurotrio.sleep.hypnogram import write_annotations_edf

DEFAULT_START = dt.datetime(2020, 1, 1, 22, 0, 0)
CYCLE = ("W", "W", "N1", "N2", "N2", "N3", "N3", "N2", "REM", "REM")
RK_LABELS = {"W": "Sleep stage W", "N1": "Sleep stage 1", "N2": "Sleep stage 2", "N3": "Sleep stage 3",
             "N4": "Sleep stage 4", "REM": "Sleep stage R", "R": "Sleep stage R", "?": "Sleep stage ?",
             "M": "Movement time"}
# per stage: (eeg rhythm Hz, eeg amplitude uV, eog amplitude uV, emg level uV)
_STAGE_SIGNAL = {"W": (10.0, 20.0, 60.0, 30.0), "N1": (6.0, 25.0, 30.0, 15.0), "N2": (6.0, 20.0, 10.0, 10.0),
                 "N3": (1.0, 80.0, 5.0, 8.0), "REM": (3.0, 25.0, 90.0, 2.0)}


def default_stages(n_epochs: int) -> list[str]:
    """A deterministic stage sequence that cycles through all five stages (wake first)."""
    return [CYCLE[i % len(CYCLE)] for i in range(n_epochs)]


def _canonical(stage: str) -> str:
    return {"R": "REM", "N4": "N3", "?": "W", "M": "W"}.get(stage, stage)


def _epoch_signals(stage: str, kind: str, sfreq_hz: float, epoch_s: float, rng: np.random.Generator) -> np.ndarray:
    """One epoch of one channel kind ('eeg', 'eog', 'emg') in microvolts at ``sfreq_hz``."""
    rhythm_hz, eeg_amp, eog_amp, emg_level = _STAGE_SIGNAL[_canonical(stage)]
    n = int(round(epoch_s * sfreq_hz))
    t = np.arange(n) / sfreq_hz
    noise = rng.standard_normal(n)
    if kind == "emg":
        return emg_level * (1.0 + 0.3 * noise) if sfreq_hz < 10 else emg_level * noise
    if kind == "eog":
        if _canonical(stage) == "REM":  # rapid eye movements: steps every ~2 s
            steps = np.repeat(rng.choice([-1.0, 1.0], size=n // int(2 * sfreq_hz) + 1), int(2 * sfreq_hz))[:n]
            return eog_amp * steps + 5.0 * noise
        return eog_amp * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi)) + 5.0 * noise
    x = eeg_amp * np.sin(2 * np.pi * rhythm_hz * t + rng.uniform(0, 2 * np.pi)) + 8.0 * noise
    if _canonical(stage) == "N2":  # two sleep spindles (13 Hz, 1 s)
        for centre in rng.uniform(3, epoch_s - 3, size=2):
            env = np.exp(-0.5 * ((t - centre) / 0.25) ** 2)
            x += 40.0 * env * np.sin(2 * np.pi * 13.0 * t)
    return x


def _kind(channel: str) -> str:
    name = channel.upper()
    return "emg" if "EMG" in name else "eog" if "EOG" in name else "eeg"


def write_synthetic_psg(path: str | Path, n_epochs: int = 20, channels: Sequence[str] = DEFAULT_CHANNELS,
                        sfreq_hz: float = 100, emg_sfreq_hz: float = 1, seed: int = 0,
                        stages: Sequence[str] | None = None, epoch_s: float = 30.0,
                        start: dt.datetime = DEFAULT_START) -> Path:
    """Write a synthetic PSG as a real EDF file.

    Args:
        path: output ``.edf`` path.
        n_epochs: number of 30-s epochs (ignored when ``stages`` is given).
        channels: channel labels; a label containing "EMG" is sampled at ``emg_sfreq_hz``.
        sfreq_hz: sampling rate of the other channels, Hz.
        emg_sfreq_hz: sampling rate of EMG channels, Hz (1 Hz = an envelope, as in Sleep-EDF).
        seed: random seed.
        stages: one stage per epoch ("W", "N1", "N2", "N3", "REM"; "?" and "M" give wake-like signal);
            default ``default_stages(n_epochs)``.
        epoch_s: epoch length, s (may be < 30 to make a recording shorter than one epoch).
        start: recording start written into the header.

    Returns:
        ``Path(path)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stages = list(stages) if stages is not None else default_stages(n_epochs)
    rng = np.random.default_rng(seed)
    rates = [emg_sfreq_hz if _kind(ch) == "emg" else sfreq_hz for ch in channels]
    data = [np.concatenate([_epoch_signals(s, _kind(ch), fs, epoch_s, rng) for s in stages])
            for ch, fs in zip(channels, rates)]
    if len(set(rates)) == 1:
        import mne

        info = mne.create_info(list(channels), float(sfreq_hz), ch_types="eeg")
        raw = mne.io.RawArray(np.asarray(data) * 1e-6, info, verbose="error")
        raw.set_meas_date(start.replace(tzinfo=dt.timezone.utc))
        mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
        return path
    import edfio

    signals = [edfio.EdfSignal(x.astype(np.float64), fs, label=ch, physical_dimension="uV",
                               physical_range=(float(x.min()) - 1.0, float(x.max()) + 1.0))
               for ch, fs, x in zip(channels, rates, data)]
    record_s = epoch_s if all(abs(epoch_s * fs - round(epoch_s * fs)) < 1e-9 for fs in rates) else None
    edf = edfio.Edf(signals, data_record_duration=record_s, starttime=start.time(),
                    recording=edfio.Recording(startdate=start.date()))
    edf.write(path)
    return path


def write_synthetic_hypnogram(path: str | Path, stages: Sequence[str], epoch_s: float = 30,
                              start: dt.datetime = DEFAULT_START, tail_unknown_s: float = 0.0) -> Path:
    """Write a Sleep-EDF-style hypnogram (EDF+ annotations "Sleep stage W/1/2/3/4/R/?", "Movement time").

    Runs of equal stages are merged into one annotation, as in Sleep-EDF's files.

    Args:
        path: output ``.edf`` path.
        stages: one stage per epoch: "W", "N1", "N2", "N3" (written "Sleep stage 3"), "N4"
            ("Sleep stage 4"), "REM" or "R", "?" (unscored), "M" (movement time).
        epoch_s: epoch length, s.
        start: recording start written into the header.
        tail_unknown_s: length of a trailing "Sleep stage ?" span, as Sleep-EDF files often have, s.

    Returns:
        ``Path(path)``.
    """
    annotations: list[tuple[float, float, str]] = []
    for i, stage in enumerate(stages):
        label = RK_LABELS[stage]
        if annotations and annotations[-1][2] == label:
            onset, duration, _ = annotations[-1]
            annotations[-1] = (onset, duration + epoch_s, label)
        else:
            annotations.append((i * epoch_s, epoch_s, label))
    if tail_unknown_s > 0:
        annotations.append((len(stages) * epoch_s, tail_unknown_s, "Sleep stage ?"))
    return write_annotations_edf(path, annotations, start=start)
