"""load_psg / iter_psg_chunks on real EDF files written by tests/sleep/synthetic.py."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.sleep.edf import DEFAULT_CHANNELS, iter_psg_chunks, load_psg, resample, resolve_channels
from neurotrio.sleep.edfheader import read_edf_header
from tests.sleep.synthetic import write_synthetic_psg


@pytest.fixture(scope="module")
def psg_path(tmp_path_factory):
    return write_synthetic_psg(tmp_path_factory.mktemp("edf") / "night.edf", n_epochs=20)


def test_load_mixed_rates_to_100hz(psg_path):
    psg = load_psg(psg_path)
    assert psg.data.shape == (4, 20 * 3000) and psg.data.dtype == np.float32
    assert psg.channels == DEFAULT_CHANNELS and psg.source_channels == DEFAULT_CHANNELS
    assert psg.native_sfreq_hz == (100.0, 100.0, 100.0, 1.0)
    assert psg.n_epochs() == 20 and psg.epochs().shape == (20, 4, 3000)
    assert psg.start is not None and (psg.start.hour, psg.start.minute) == (22, 0)
    # microvolts: the synthetic wake EMG envelope is 30 uV, N3 delta is 80 uV in amplitude
    assert abs(psg.data[3, :3000].mean() - 30.0) < 3.0
    n3 = psg.epochs()[5, 0]
    assert 50 < n3.std() < 70  # 80/sqrt(2) plus noise


def test_header_matches_file(psg_path):
    header = read_edf_header(psg_path)
    assert header.n_records == 20 and header.record_s == 30.0
    assert [s.n_samples for s in header.signals] == [3000, 3000, 3000, 30]
    assert header.file_bytes == header.header_bytes + 20 * header.record_bytes


def test_resample_up_is_linear_and_holds_the_end():
    y = resample(np.array([[0.0, 1.0, 3.0]]), 1.0, 100.0)
    assert y.shape == (1, 300)
    np.testing.assert_allclose(y[0, [0, 50, 100, 150, 200, 299]], [0.0, 0.5, 1.0, 2.0, 3.0, 3.0])


def test_resample_down_is_anti_aliased():
    t = np.arange(2000) / 200.0
    slow, fast = np.sin(2 * np.pi * 5 * t), np.sin(2 * np.pi * 80 * t)
    y = resample(np.stack([slow, fast]), 200.0, 100.0)
    assert y.shape == (2, 1000)
    np.testing.assert_allclose(y[0, 50:-50], np.sin(2 * np.pi * 5 * np.arange(1000) / 100.0)[50:-50], atol=0.02)
    assert y[1, 50:-50].std() < 0.05  # 80 Hz is above the new Nyquist (50 Hz): removed, not aliased to 20 Hz


@pytest.mark.parametrize("sfreq_hz", [100, 200])
def test_chunks_equal_whole_load(tmp_path, sfreq_hz):
    path = write_synthetic_psg(tmp_path / "n.edf", n_epochs=20, sfreq_hz=sfreq_hz)
    whole = load_psg(path)
    chunks = list(iter_psg_chunks(path, chunk_epochs=7))
    assert [c.shape for c in chunks] == [(4, 21000), (4, 21000), (4, 18000)]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole.data, atol=1e-3)


def test_time_span(psg_path):
    whole = load_psg(psg_path)
    part = load_psg(psg_path, start_s=60, stop_s=150)
    assert part.offset_s == 60 and part.data.shape == (4, 9000)
    np.testing.assert_allclose(part.data, whole.data[:, 6000:15000], atol=1e-3)


def test_uniform_rate_file_written_by_mne(tmp_path):
    path = write_synthetic_psg(tmp_path / "u.edf", n_epochs=3, emg_sfreq_hz=100)
    psg = load_psg(path)
    assert psg.native_sfreq_hz == (100.0,) * 4 and psg.data.shape == (4, 9000)


def test_channel_matching_case_aliases_and_user_map(psg_path, tmp_path):
    whole = load_psg(psg_path)
    lower = load_psg(psg_path, channels=("eeg fpz-cz", "EMG SUBMENTAL"))
    np.testing.assert_array_equal(lower.data, whole.data[[0, 3]])
    mapped = load_psg(psg_path, channels=("EEG Fpz-Cz",), aliases={"EEG Fpz-Cz": "EEG Pz-Oz"})
    assert mapped.channels == ("EEG Fpz-Cz",) and mapped.source_channels == ("EEG Pz-Oz",)
    np.testing.assert_array_equal(mapped.data[0], whole.data[1])
    other = write_synthetic_psg(tmp_path / "o.edf", n_epochs=2, channels=("Fpz-Cz", "Pz-Oz", "EOG", "EMG chin"))
    assert load_psg(other).source_channels == ("Fpz-Cz", "Pz-Oz", "EOG", "EMG chin")
    assert resolve_channels(["A", "EOG(L)"], ["EOG horizontal"], "x.edf") == ["EOG(L)"]


def test_bdf_is_read_through_mne_like_the_edf(psg_path, tmp_path):
    import edfio

    edf = edfio.read_edf(psg_path)
    signals = [edfio.BdfSignal(s.data, s.sampling_frequency, label=s.label, physical_dimension="uV",
                               physical_range=(s.physical_min, s.physical_max)) for s in edf.signals]
    edfio.Bdf(signals, data_record_duration=edf.data_record_duration).write(tmp_path / "night.bdf")
    assert read_edf_header(tmp_path / "night.bdf").is_bdf
    bdf = load_psg(tmp_path / "night.bdf")
    assert bdf.native_sfreq_hz == (100.0, 100.0, 100.0, 1.0)
    np.testing.assert_allclose(bdf.data, load_psg(psg_path).data, atol=0.05)  # 24-bit vs 16-bit steps
