"""Raw chin EMG becomes Sleep-EDF's 1-Hz RMS envelope (neurotrio.sleep.emg), and stages like it.

The night test builds, from the shared case base.edf (a cut of Sleep-EDF SC4001), a raw-EMG version:
200-Hz noise in the EMG band (20-90 Hz) whose RMS follows the file's envelope. Skipped without
../shared/cases.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from neurotrio.sleep import signals
from neurotrio.sleep.emg import is_raw_emg, looks_like_envelope, rms_envelope
from neurotrio.sleep.score import stage_night

CASES = Path(os.environ.get("NEUROTRIO_SHARED_CASES",
                            Path(__file__).resolve().parents[2] / ".." / "shared" / "cases")).resolve() / "sleep"


def emg_like(envelope: np.ndarray, fs: float, seed: int = 0) -> np.ndarray:
    """Noise in the EMG band (20-90 Hz) at ``fs`` whose RMS follows a 1-Hz ``envelope`` (sample k at k s)."""
    rng = np.random.default_rng(seed)
    n = int(envelope.size * fs)
    noise = sosfiltfilt(butter(4, [20, 90], "bandpass", fs=fs, output="sos"), rng.standard_normal(n))
    noise /= noise.std()
    return noise * np.interp(np.arange(n) / fs, np.arange(envelope.size), np.clip(envelope, 0, None))


def test_envelope_of_raw_emg_recovers_its_rms() -> None:
    env = 3.0 + 2.0 * np.sin(2 * np.pi * np.arange(120) / 40.0)  # uV rms, slow
    raw = emg_like(env, 256.0)
    got = rms_envelope(raw, 256.0, 0.0, np.arange(5, 115, 0.01))
    want = np.interp(np.arange(5, 115, 0.01), np.arange(120), env)
    assert np.abs(got / want - 1).mean() < 0.05 and np.abs(got / want - 1).max() < 0.25
    # a constant (disconnected) channel stays constant, so the flat-channel check reports it
    np.testing.assert_array_equal(rms_envelope(np.full(2560, 3.0), 256.0, 0.0, np.arange(3, 6.0)), 3.0)


def test_envelope_or_waveform() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(60 * 200) / 200.0
    assert not looks_like_envelope(emg_like(np.full(60, 3.0), 200.0), 200.0)  # raw EMG
    assert looks_like_envelope(3.0 + np.sin(2 * np.pi * 0.05 * t), 200.0)  # a slow envelope at 200 Hz
    assert looks_like_envelope(rng.standard_normal(1200), 20.0)  # 20 Hz cannot hold EMG above 16 Hz


def test_which_channels_are_raw_emg() -> None:
    assert is_raw_emg("EMG submental", "Chin1-Chin2", 256.0)
    assert is_raw_emg("EMG submental", "EMG submental", 100.0)
    assert not is_raw_emg("EMG submental", "EMG submental", 1.0)  # Sleep-EDF's envelope
    assert not is_raw_emg("EEG Fpz-Cz", "EEG Fpz-Cz", 256.0)


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    if not CASES.is_dir():
        pytest.skip(f"shared sleep cases not found at {CASES} (set NEUROTRIO_SHARED_CASES)")
    import edfio

    d = tmp_path_factory.mktemp("emg")
    with gzip.open(CASES / "base.edf.gz", "rb") as src, open(d / "base.edf", "wb") as dst:
        shutil.copyfileobj(src, dst)
    edf = edfio.read_edf(d / "base.edf")
    sig = {s.label: s for s in edf.signals}
    raw = emg_like(sig["EMG submental"].data, 200.0)
    lim = float(np.abs(raw).max()) * 1.01
    out = [edfio.EdfSignal(sig[lab].data, 100, label=lab, physical_dimension="uV",
                           physical_range=(sig[lab].physical_min, sig[lab].physical_max))
           for lab in ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")]
    out.append(edfio.EdfSignal(raw, 200, label="EMG submental", physical_dimension="uV", physical_range=(-lim, lim)))
    edfio.Edf(out, data_record_duration=30).write(d / "raw-emg.edf")
    return d / "base.edf", d / "raw-emg.edf"


@pytest.mark.realdata
def test_raw_emg_night_stages_like_its_envelope_night(nights, monkeypatch) -> None:
    base, raw = nights
    want = stage_night(base).proba.argmax(1)
    night = stage_night(raw)
    assert night.channels[3]["conversion"] == "raw EMG -> 1-Hz RMS envelope" and night.channels[3]["sfreq_hz"] == 200
    agree = (night.proba.argmax(1) == want).mean()
    assert agree >= 0.95, agree  # 239 of 240 epochs here
    # chunk edges do not matter: the envelope is computed with context across chunks
    np.testing.assert_allclose(stage_night(raw, chunk_epochs=7).proba, night.proba, atol=1e-4)
    # fed raw (no conversion), the same night is mostly staged REM: the conversion is what makes it work
    monkeypatch.setattr(signals, "is_raw_emg", lambda *a: False)
    assert (stage_night(raw).proba.argmax(1) == want).mean() < 0.6


@pytest.mark.realdata
def test_an_envelope_brought_to_100_hz_is_not_taken_for_raw_emg(nights) -> None:
    """MNE reads Sleep-EDF whole at 100 Hz (its 1-Hz EMG envelope upsampled), as YASA users load it."""
    import mne

    base, _ = nights
    raw = mne.io.read_raw_edf(base, preload=True, verbose="error")
    assert raw.info["sfreq"] == 100.0
    night = stage_night(raw)
    assert night.channels[3]["sfreq_hz"] == 100.0 and night.channels[3]["conversion"] is None
    assert (night.proba.argmax(1) == stage_night(base).proba.argmax(1)).mean() >= 0.95


@pytest.mark.realdata
@pytest.mark.parametrize("fs", [200, 512])
def test_white_noise_emg_at_clinical_rates_stages_like_the_envelope(nights, tmp_path, fs) -> None:
    """Plain white noise (no band limit) times the envelope: 236/240 epochs agree at 200 Hz, 239/240 at 512."""
    import edfio

    base, _ = nights
    edf = edfio.read_edf(base)
    sig = {s.label: s for s in edf.signals}
    env = np.clip(sig["EMG submental"].data, 0, None)
    n = env.size * fs
    raw = np.random.default_rng(1).standard_normal(n) * np.interp(np.arange(n) / fs, np.arange(env.size), env)
    lim = float(np.abs(raw).max()) * 1.01
    out = [edfio.EdfSignal(sig[lab].data, 100, label=lab, physical_dimension="uV",
                           physical_range=(sig[lab].physical_min, sig[lab].physical_max))
           for lab in ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")]
    out.append(edfio.EdfSignal(raw, fs, label="EMG submental", physical_dimension="uV", physical_range=(-lim, lim)))
    edfio.Edf(out, data_record_duration=30).write(tmp_path / "white.edf")
    agree = (stage_night(tmp_path / "white.edf").proba.argmax(1) == stage_night(base).proba.argmax(1)).mean()
    assert agree >= 0.95, agree
