"""Nights given as an mne.io.Raw or a NumPy array (PSGArray) stage like the EDF file; units are checked;
SleepStager takes the ONNX default model and refuses volts pushed as microvolts."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.sleep.edf import load_psg
from neurotrio.sleep.score import stage_night, stage_recording
from neurotrio.sleep.sources import PSGArray, has_channel
from neurotrio.sleep.stream import SleepStager
from tests.sleep.synthetic import write_synthetic_psg


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A 6-epoch synthetic night at one rate (EMG as a 100-Hz envelope) and its staging from the file."""
    path = write_synthetic_psg(tmp_path_factory.mktemp("src") / "n.edf", n_epochs=6, emg_sfreq_hz=100, seed=7)
    return path, stage_night(path)


def test_mne_raw_stages_like_the_file(night) -> None:
    import mne

    path, want = night
    raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
    got = stage_night(raw)
    np.testing.assert_allclose(got.proba, want.proba, atol=1e-5)
    np.testing.assert_array_equal(got.onset_s, want.onset_s)
    assert got.start == want.start and got.channels == want.channels


def test_cropped_raw_keeps_its_clock(night) -> None:
    """A Raw cropped by 60 s starts 60 s later on the clock; its epochs are the file's epochs 2.. (a start
    taken from meas_date alone would put every epoch 60 s early and misalign any expert hypnogram)."""
    import datetime as dt

    import mne

    path, want = night
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error").crop(tmin=60.0)
    got = stage_night(raw)
    assert got.start == want.start + dt.timedelta(seconds=60)
    np.testing.assert_array_equal(got.onset_s, want.onset_s[2:] - 60.0)
    # the first epoch lacks the filters' left context (EMG envelope), later ones match the file's
    np.testing.assert_allclose(got.proba[1:], want.proba[3:], atol=1e-3)


def test_duplicate_labels_are_told_apart_by_signal_number(night) -> None:
    path, _ = night
    got = stage_night(path, aliases={"EEG Fpz-Cz": "#2", "EEG Pz-Oz": "#2"})
    assert [c["signal"] for c in got.channels][:2] == [2, 2]
    assert got.channels[2]["signal"] != 2


def test_numpy_array_in_volts_or_microvolts(night) -> None:
    path, want = night
    psg = load_psg(path, channels=("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"))
    names = list(psg.source_channels)
    got = stage_night(PSGArray(psg.data, 100.0, names))
    np.testing.assert_allclose(got.proba, want.proba, atol=1e-5)
    volts = stage_night(PSGArray(psg.data * 1e-6, 100.0, names, unit="V"))
    np.testing.assert_allclose(volts.proba, want.proba, atol=1e-4)
    # volts given as microvolts (MNE's get_data() default): refused, naming the channel and its amplitude
    with pytest.raises(InputError, match=r"array input: channel 'EEG Fpz-Cz' \(EEG Fpz-Cz\) \(declared unit 'uV'\): "
                                         r"median amplitude [0-9.e-]+ uV is below 0.05 uV.*look like volts"):
        stage_night(PSGArray(psg.data * 1e-6, 100.0, names))
    with pytest.raises(TypeError, match=r"PSGArray\(data, sfreq_hz, ch_names"):
        stage_recording(psg.data)
    with pytest.raises(InputError, match="unknown unit 'furlong'"):
        stage_night(PSGArray(psg.data, 100.0, names, unit="furlong"))


def test_raw_acquisition_skips_are_gaps(night) -> None:
    import mne

    path, want = night
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    raw.set_annotations(mne.Annotations([60.0], [30.0], ["BAD_ACQ_SKIP"], orig_time=raw.annotations.orig_time))
    got = stage_night(raw)
    np.testing.assert_array_equal(got.onset_s, [0, 30, 90, 120, 150])
    assert got.segments == [(0.0, 60.0), (90.0, 90.0)]


def test_has_channel_applies_mapping_and_aliases(night) -> None:
    path, _ = night
    present = has_channel(path, {"EMG submental": "EMG submental"})
    assert present("EEG Fpz-Cz") and present("EMG submental") and not present("EEG C4-M1")


def test_streaming_with_the_default_onnx_model_and_units(night) -> None:
    path, want = night
    data = load_psg(path).data
    stager = SleepStager()  # the embedded ONNX twin, as `score` uses
    assert type(stager.model).__name__ == "OnnxSleepModel"
    batch = stage_night(path, stager.model)
    got = stager.push(data)
    np.testing.assert_allclose(np.stack([e.proba for e in got]), batch.proba, atol=1e-5)
    in_volts = SleepStager(unit="V")
    np.testing.assert_allclose(np.stack([e.proba for e in in_volts.push(data * 1e-6)]), batch.proba, atol=1e-4)
    with pytest.raises(InputError, match=r"channel 'EEG Fpz-Cz' .*median amplitude .* look like volts"):
        SleepStager().push(data * 1e-6)
    with pytest.raises(ConfigError, match="unit must be one of"):
        SleepStager(unit="furlong")
    assert want.proba.shape == batch.proba.shape


def test_has_channel_raises_for_a_mapping_that_points_nowhere(night) -> None:
    path, _ = night
    present = has_channel(path, {"EEG Fpz-Cz": "EEG C4-M1"})
    assert present("EOG horizontal")
    with pytest.raises(InputError, match=r"n.edf: channel 'EEG C4-M1' \(mapped from 'EEG Fpz-Cz'\) not in the file"):
        present("EEG Fpz-Cz")
