"""Which file channel feeds which model input: one label for several inputs, signal numbers, unknown
mappings, repeated labels, undefined calibration, units from the EDF header."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.sleep.edf import load_psg, resolve_signals
from neurotrio.sleep.score import stage_night
from tests.sleep.synthetic import DEFAULT_CHANNELS, write_synthetic_psg


@pytest.fixture(scope="module")
def psg(tmp_path_factory):
    return write_synthetic_psg(tmp_path_factory.mktemp("ch") / "night.edf", n_epochs=4, seed=2)


def _edf(path, labels, units=None, ranges=None, n=9000, scale=1.0):
    import edfio

    rng = np.random.default_rng(0)
    sigs = [edfio.EdfSignal(rng.standard_normal(n) * 20 * scale, 100, label=lab, physical_dimension=(units or {}).get(lab, "uV"),
                            physical_range=(ranges or {}).get(lab, (-200.0, 200.0))) for lab in labels]
    edfio.Edf(sigs, data_record_duration=30).write(path)
    return path


def test_one_file_channel_feeds_several_inputs(psg) -> None:
    whole = load_psg(psg)
    both = load_psg(psg, channels=DEFAULT_CHANNELS[:2],
                    aliases={"EEG Fpz-Cz": "EEG Pz-Oz", "EEG Pz-Oz": "EEG Pz-Oz"})
    assert both.source_channels == ("EEG Pz-Oz", "EEG Pz-Oz")
    np.testing.assert_array_equal(both.data[0], whole.data[1])
    np.testing.assert_array_equal(both.data[1], whole.data[1])


def test_single_channel_recording_mapped_to_two_eeg_inputs(tmp_path) -> None:
    """As pyEDFlib's one-channel test recordings: --channel 'EEG Fpz-Cz=Fp1' --channel 'EEG Pz-Oz=Fp1'."""
    path = _edf(tmp_path / "one.edf", ["Fp1"])
    psg = load_psg(path, channels=DEFAULT_CHANNELS[:2], aliases={"EEG Fpz-Cz": "Fp1", "EEG Pz-Oz": "Fp1"})
    assert psg.source_channels == ("Fp1", "Fp1") and np.array_equal(psg.data[0], psg.data[1])


def test_mapping_a_name_the_model_does_not_take_is_refused(psg) -> None:
    with pytest.raises(ConfigError, match=r"--channel maps 'EEG C4', which the model does not take; its inputs are: "
                                          r"EEG Fpz-Cz, EEG Pz-Oz, EOG horizontal, EMG submental"):
        stage_night(psg, aliases={"EEG C4": "EEG Fpz-Cz"})


def test_signal_numbers(psg) -> None:
    labels = ["EEG Fpz-Cz", "EEG Fpz-Cz", "EDF Annotations"]
    assert resolve_signals(labels, ["X"], "f.edf", {"X": "#2"}, skip=[2]) == [1]
    with pytest.raises(InputError, match=r"f.edf: label 'EEG Fpz-Cz' \(for input 'EEG Fpz-Cz'\) is carried by "
                                         r"signals 1 and 2"):
        resolve_signals(labels, ["EEG Fpz-Cz"], "f.edf", skip=[2])
    for bad in ("#3", "#0", "#x"):
        with pytest.raises(InputError, match=f"--channel 'X={bad}': no data signal number"):
            resolve_signals(labels, ["X"], "f.edf", {"X": bad}, skip=[2])
    # case-insensitive duplicates are duplicates too
    with pytest.raises(InputError, match="carried by signals 1 and 2"):
        resolve_signals(["EEG FPZ-CZ", "EEG Fpz-Cz"], ["EEG Fpz-Cz"], "f.edf")


def test_alias_substitution_is_reported(tmp_path) -> None:
    path = _edf(tmp_path / "short-names.edf", ["Fpz", "Pz", "EOG", "Chin"])
    torch = pytest.importorskip("torch")
    from neurotrio.sleep.model import SleepModel, ULWSleepNet, save_model

    torch.manual_seed(0)
    model = save_model(SleepModel(ULWSleepNet().eval(), DEFAULT_CHANNELS, "fixed"), tmp_path / "m.safetensors")
    night = stage_night(path, model, aliases={"EMG submental": "Chin"})
    assert [(c["input"], c["label"], c["alias"]) for c in night.channels] == [
        ("EEG Fpz-Cz", "Fpz", True), ("EEG Pz-Oz", "Pz", True), ("EOG horizontal", "EOG", True),
        ("EMG submental", "Chin", True)]
    # raw chin EMG at 100 Hz for the EMG input becomes the envelope, and says so
    assert night.channels[3]["conversion"] == "raw EMG -> 1-Hz RMS envelope"
    assert night.channels[0]["conversion"] is None and night.channels[0]["sfreq_hz"] == 100.0


def test_undefined_calibration_of_a_channel_read_is_refused(tmp_path) -> None:
    path = _edf(tmp_path / "cal.edf", ["EEG Fpz-Cz", "EEG Pz-Oz"])
    data = bytearray(path.read_bytes())
    ns = int(data[252:256].decode())
    at = 256 + ns * (16 + 80 + 8) + 8  # physical minimum of signal 2
    data[at:at + 8] = b"200     "  # equal to its physical maximum
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"cal.edf: channel 'EEG Pz-Oz' \(EEG Pz-Oz\): signal 2's physical minimum "
                                         r"equals its maximum \(200 uV\)"):
        load_psg(path, channels=("EEG Fpz-Cz", "EEG Pz-Oz"))
    # a channel that is not read does not stop the others
    assert load_psg(path, channels=("EEG Fpz-Cz",)).data.shape == (1, 9000)


@pytest.mark.parametrize("unit, factor", [("mV", 1e-3), ("V", 1e-6), ("nV", 1e3)])
def test_edf_units_are_converted_or_refused(tmp_path, unit, factor) -> None:
    ref = load_psg(_edf(tmp_path / "uv.edf", ["EEG Fpz-Cz"]), channels=("EEG Fpz-Cz",))
    path = _edf(tmp_path / f"{unit}.edf", ["EEG Fpz-Cz"], units={"EEG Fpz-Cz": unit},
                ranges={"EEG Fpz-Cz": (-200.0 * factor, 200.0 * factor)}, scale=factor)
    got = load_psg(path, channels=("EEG Fpz-Cz",))
    np.testing.assert_allclose(got.data, ref.data, rtol=1e-4, atol=0.01)
    wrong = _edf(tmp_path / f"wrong-{unit}.edf", ["EEG Fpz-Cz"], units={"EEG Fpz-Cz": "uV"},
                 ranges={"EEG Fpz-Cz": (-200.0 * factor, 200.0 * factor)}, scale=factor)
    # the same numbers declared as uV: far too small (mV, V) or too large (nV), refused naming the channel
    with pytest.raises(InputError, match=r"wrong-.*channel 'EEG Fpz-Cz' .*declared unit 'uV'.*(median amplitude|"
                                         r"median absolute deviation)"):
        load_psg(wrong, channels=("EEG Fpz-Cz",))
