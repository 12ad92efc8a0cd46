"""Malformed inputs for ULW-SleepNet (`neurotrio sleep score|train`): EDF files, hypnograms, model files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs.cases import BadInput, Payload

_NS = 4  # signals in the synthetic PSG (DEFAULT_CHANNELS)


def _psg(path: Path, n_epochs: int = 4, **kw) -> Path:
    from tests.sleep.synthetic import write_synthetic_psg

    return write_synthetic_psg(path, n_epochs=n_epochs, **kw)


def _patch(path: Path, offset: int, width: int, text: str) -> Path:
    data = bytearray(path.read_bytes())
    data[offset:offset + width] = text.ljust(width)[:width].encode("latin-1")
    path.write_bytes(bytes(data))
    return path


def _signal_field(field: str, signal: int, ns: int = _NS) -> tuple[int, int]:
    """(byte offset, width) of one signal's header field."""
    widths = {"label": 16, "transducer": 80, "unit": 8, "physical_min": 8, "physical_max": 8, "digital_min": 8,
              "digital_max": 8, "prefiltering": 80, "n_samples": 8, "reserved": 32}
    pos = 256
    for name, w in widths.items():
        if name == field:
            return pos + signal * w, w
        pos += ns * w
    raise KeyError(field)


def _score(tmp: Path, psg: Path, name: str, problem: str, *extra: str) -> BadInput:
    out = tmp / "out"
    return BadInput(["sleep", "score", str(psg), "--out", str(out), "--no-plot", *extra], name, problem, out)


def edf_truncated(tmp: Path) -> BadInput:
    psg = _psg(tmp / "cut.edf")
    psg.write_bytes(psg.read_bytes()[:-5000])
    return _score(tmp, psg, "cut.edf", r"truncated or corrupt EDF: the header says 4 data records")


def edf_header_only(tmp: Path) -> BadInput:
    psg = _psg(tmp / "headonly.edf")
    psg.write_bytes(psg.read_bytes()[:256 * (_NS + 1)])
    return _score(tmp, psg, "headonly.edf", r"truncated or corrupt EDF.*0 whole records")


def edf_cut_inside_header(tmp: Path) -> BadInput:
    psg = _psg(tmp / "stub.edf")
    psg.write_bytes(psg.read_bytes()[:600])
    return _score(tmp, psg, "stub.edf", r"truncated: the header of 4 signals needs 1280 bytes")


def edf_not_edf(tmp: Path) -> BadInput:
    psg = tmp / "notes.edf"
    psg.write_text("these are not EDF bytes\n" * 40)
    return _score(tmp, psg, "notes.edf", r"not an EDF/BDF file")


def edf_empty_file(tmp: Path) -> BadInput:
    psg = tmp / "empty.edf"
    psg.write_bytes(b"")
    return _score(tmp, psg, "empty.edf", r"not an EDF file: only 0 bytes")


def edf_record_count_not_a_number(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "nrec.edf"), 236, 8, "abc")
    return _score(tmp, psg, "nrec.edf", r"corrupt EDF header: the number of data records is 'abc'")


def edf_header_size_disagrees(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "hsize.edf"), 184, 8, "768")
    return _score(tmp, psg, "hsize.edf", r"corrupt EDF header: 4 signals need a 1280-byte header, the header says 768")


def edf_zero_samples_per_record(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "zerons.edf"), *_signal_field("n_samples", 1), "0")
    return _score(tmp, psg, "zerons.edf", r"corrupt EDF header: signal 'EEG Pz-Oz' has 0 samples per record")


def edf_inverted_digital_range(tmp: Path) -> BadInput:
    psg = tmp / "digi.edf"
    _psg(psg)
    off, w = _signal_field("digital_min", 0)
    _patch(psg, off, w, "32767")
    return _score(tmp, psg, "digi.edf", r"corrupt EDF header: signal 'EEG Fpz-Cz' .* digital range 32767\.\.")


def edf_record_duration_zero(tmp: Path) -> BadInput:
    """A header whose duration and samples disagree: 3000 samples per record in records of 0 s."""
    psg = _patch(_psg(tmp / "dur0.edf"), 244, 8, "0")
    return _score(tmp, psg, "dur0.edf", r"corrupt EDF header: data records of 0 s cannot hold")


def edf_record_duration_nan(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "durnan.edf"), 244, 8, "nan")
    return _score(tmp, psg, "durnan.edf", r"corrupt EDF header: the data record duration is nan s")


def edf_eeg_at_7_hz(tmp: Path) -> BadInput:
    """EEG sampled at 7 Hz: its 3.5-Hz Nyquist limit cannot carry the 100-Hz signal the model needs."""
    channels = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental")
    psg = _psg(tmp / "slow7.edf", channels=channels, sfreq_hz=7, emg_sfreq_hz=1)
    return _score(tmp, psg, "slow7.edf", r"(7 Hz|sampling rate)")


def edf_nan_channel(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "nanchan.edf"), *_signal_field("physical_min", 1), "nan")
    return _score(tmp, psg, "nanchan.edf", r"channel 'EEG Pz-Oz' .* NaN/infinite values")


def edf_inf_channel(tmp: Path) -> BadInput:
    psg = _patch(_psg(tmp / "infchan.edf"), *_signal_field("physical_max", 2), "inf")
    return _score(tmp, psg, "infchan.edf", r"channel 'EOG horizontal' .* NaN/infinite values")


def edf_flat_channel(tmp: Path) -> BadInput:
    import edfio

    rng = np.random.default_rng(0)
    sigs = [edfio.EdfSignal(rng.standard_normal(12000) * 20, 100, label=ch, physical_dimension="uV")
            for ch in ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")]
    sigs.append(edfio.EdfSignal(np.full(12000, 3.0), 100, label="EMG submental", physical_dimension="uV",
                                physical_range=(-100, 100)))
    psg = tmp / "flat.edf"
    edfio.Edf(sigs, data_record_duration=30).write(psg)
    return _score(tmp, psg, "flat.edf", r"channel 'EMG submental' .* is flat: constant 3")


def edf_shorter_than_one_epoch(tmp: Path) -> BadInput:
    psg = _psg(tmp / "short.edf", n_epochs=1, epoch_s=20.0, emg_sfreq_hz=100)
    return _score(tmp, psg, "short.edf", r"recording lasts 20 s, shorter than one 30-s epoch")


def edf_missing_channel(tmp: Path) -> BadInput:
    psg = _psg(tmp / "chans.edf")
    return _score(tmp, psg, "chans.edf", r"channel 'EEG C4-M1' \(mapped from 'EEG Fpz-Cz'\) not in the file",
                  "--channel", "EEG Fpz-Cz=EEG C4-M1")


def hypnogram_not_covering(tmp: Path) -> BadInput:
    from tests.sleep.synthetic import write_synthetic_hypnogram

    psg = _psg(tmp / "night.edf", n_epochs=6)
    hyp = write_synthetic_hypnogram(tmp / "part-Hypnogram.edf", ["W", "N1", "N2"])
    return _score(tmp, psg, "part-Hypnogram.edf", r"hypnogram does not cover the recording: 3 of 6",
                  "--reference", str(hyp))


def hypnogram_is_a_psg(tmp: Path) -> BadInput:
    psg = _psg(tmp / "night.edf")
    other = _psg(tmp / "other-PSG.edf")
    return _score(tmp, psg, "other-PSG.edf", r"no sleep-stage annotations", "--reference", str(other))


def hypnogram_truncated(tmp: Path) -> BadInput:
    from tests.sleep.synthetic import write_synthetic_hypnogram

    psg = _psg(tmp / "night.edf")
    hyp = write_synthetic_hypnogram(tmp / "cut-Hypnogram.edf", ["W", "N1", "N2", "REM"])
    hyp.write_bytes(hyp.read_bytes()[:-100])
    return _score(tmp, psg, "cut-Hypnogram.edf", r"truncated", "--reference", str(hyp))


def sleep_model_pickle_payload(tmp: Path) -> BadInput:
    psg = _psg(tmp / "night.edf")
    bad = tmp / "evil.safetensors"
    bad.write_bytes(pickle.dumps(Payload(str(tmp / "pwned"))))
    return _score(tmp, psg, "evil.safetensors", r"not a safetensors model file", "--model", str(bad))


def sleep_model_torch_pickle(tmp: Path) -> BadInput:
    import torch

    psg = _psg(tmp / "night.edf")
    bad = tmp / "model.pt"
    torch.save({"state": Payload(str(tmp / "pwned"))}, bad)
    return _score(tmp, psg, "model.pt", r"not a safetensors model file", "--model", str(bad))


def sleep_model_wrong_architecture(tmp: Path) -> BadInput:
    import torch

    from neurotrio.core.checkpoint import save_weights

    psg = _psg(tmp / "night.edf")
    other = save_weights(torch.nn.Linear(3, 2), tmp / "mer.safetensors", metadata={"architecture": "mpfnet"})
    return _score(tmp, psg, "mer.safetensors", r"not a ULW-SleepNet model file", "--model", str(other))


def sleep_train_psg_without_hypnogram(tmp: Path) -> BadInput:
    root = tmp / "sleep-edf" / "sleep-cassette"
    _psg(root / "SC4001E0-PSG.edf")
    out = tmp / "run"
    return BadInput(["sleep", "train", "--data", str(tmp / "sleep-edf"), "--protocol", "within-recording",
                     "--epochs", "1", "--device", "cpu", "--out", str(out)],
                    "SC4001E0-PSG.edf", r"no hypnogram SC4001\?\?-Hypnogram.edf beside it", out)


def sleep_train_truncated_psg(tmp: Path) -> BadInput:
    from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram

    root = tmp / "sleep-edf" / "sleep-cassette"
    stages = default_stages(8)
    psg = _psg(root / "SC4001E0-PSG.edf", stages=stages)
    psg.write_bytes(psg.read_bytes()[:-3000])
    write_synthetic_hypnogram(root / "SC4001EC-Hypnogram.edf", stages)
    out = tmp / "run"
    return BadInput(["sleep", "train", "--data", str(tmp / "sleep-edf"), "--protocol", "within-recording",
                     "--epochs", "1", "--device", "cpu", "--out", str(out)],
                    "SC4001E0-PSG.edf", r"truncated or corrupt EDF", out)


# every case of this system; the id is the generator's name
SLEEP_CASES = [
    pytest.param(edf_truncated, id="edf-truncated"),
    pytest.param(edf_header_only, id="edf-header-only"),
    pytest.param(edf_cut_inside_header, id="edf-cut-inside-header"),
    pytest.param(edf_not_edf, id="edf-not-edf"),
    pytest.param(edf_empty_file, id="edf-empty-file"),
    pytest.param(edf_record_count_not_a_number, id="edf-record-count-not-a-number"),
    pytest.param(edf_header_size_disagrees, id="edf-header-size-disagrees"),
    pytest.param(edf_zero_samples_per_record, id="edf-zero-samples-per-record"),
    pytest.param(edf_inverted_digital_range, id="edf-inverted-digital-range"),
    pytest.param(edf_record_duration_zero, id="edf-record-duration-zero"),
    pytest.param(edf_record_duration_nan, id="edf-record-duration-nan"),
    pytest.param(edf_eeg_at_7_hz, id="edf-eeg-at-7-hz"),
    pytest.param(edf_nan_channel, id="edf-nan-channel"),
    pytest.param(edf_inf_channel, id="edf-inf-channel"),
    pytest.param(edf_flat_channel, id="edf-flat-channel"),
    pytest.param(edf_shorter_than_one_epoch, id="edf-shorter-than-one-epoch"),
    pytest.param(edf_missing_channel, id="edf-missing-channel"),
    pytest.param(hypnogram_not_covering, id="hypnogram-not-covering"),
    pytest.param(hypnogram_is_a_psg, id="hypnogram-is-a-psg"),
    pytest.param(hypnogram_truncated, id="hypnogram-truncated"),
    pytest.param(sleep_model_pickle_payload, id="sleep-model-pickle-payload"),
    pytest.param(sleep_model_torch_pickle, id="sleep-model-torch-pickle"),
    pytest.param(sleep_model_wrong_architecture, id="sleep-model-wrong-architecture"),
    pytest.param(sleep_train_psg_without_hypnogram, id="sleep-train-psg-without-hypnogram"),
    pytest.param(sleep_train_truncated_psg, id="sleep-train-truncated-psg"),
]
