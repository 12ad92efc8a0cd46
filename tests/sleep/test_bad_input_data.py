"""Each bad input gives an InputError that names the file and the problem."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep.edf import iter_psg_chunks, load_psg
from neurotrio.sleep.hypnogram import read_hypnogram
from neurotrio.sleep.sleepedf import Record, prepare_record
from tests.sleep.synthetic import DEFAULT_START, write_synthetic_hypnogram, write_synthetic_psg


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return write_synthetic_psg(tmp_path_factory.mktemp("bad") / "good.edf", n_epochs=6)


def _patch_field(src, dst, offset, width, text):
    data = bytearray(src.read_bytes())
    data[offset:offset + width] = text.ljust(width).encode()
    dst.write_bytes(bytes(data))
    return dst


def test_truncated_edf(good, tmp_path):
    bad = tmp_path / "trunc.edf"
    bad.write_bytes(good.read_bytes()[:50_000])
    for call in (lambda: load_psg(bad), lambda: next(iter_psg_chunks(bad))):
        with pytest.raises(InputError, match=r"trunc.edf: truncated or corrupt EDF: the header says 6 data "
                                             r"records .* the file holds 50000 bytes \(2 whole records\)"):
            call()


def test_corrupt_edf_header(good, tmp_path):
    bad = _patch_field(good, tmp_path / "corrupt.edf", 236, 8, "abc")  # number of data records
    with pytest.raises(InputError, match="corrupt.edf: corrupt EDF header: the number of data records is 'abc'"):
        load_psg(bad)
    text = tmp_path / "notes.edf"
    text.write_text("these are not EDF bytes " * 20)
    with pytest.raises(InputError, match="notes.edf: not an EDF/BDF file"):
        load_psg(text)


def test_missing_channel(good):
    with pytest.raises(InputError) as err:
        load_psg(good, channels=("EEG C4-M1",))
    msg = str(err.value)
    assert msg.startswith("good.edf: channel 'EEG C4-M1' not in the file")
    assert "Available: EEG Fpz-Cz, EEG Pz-Oz, EOG horizontal, EMG submental" in msg
    assert "--channel 'EEG C4-M1=LABEL'" in msg


def test_recording_shorter_than_one_epoch(tmp_path):
    short = write_synthetic_psg(tmp_path / "short.edf", stages=["W", "W"], epoch_s=10)
    with pytest.raises(InputError, match="short.edf: recording lasts 20 s, shorter than one 30-s epoch"):
        load_psg(short)


def test_nan_channel(good, tmp_path):
    # physical minimum of signal 2 ('EEG Pz-Oz'): field starts at 256 + ns*(16+80+8) + 8
    bad = _patch_field(good, tmp_path / "nan.edf", 256 + 4 * 104 + 8, 8, "nan")
    with pytest.raises(InputError, match=r"nan.edf: channel 'EEG Pz-Oz' \(EEG Pz-Oz\) holds 18000 NaN"):
        load_psg(bad)


def test_flat_channel(tmp_path):
    import edfio

    rng = np.random.default_rng(0)
    signals = [edfio.EdfSignal(rng.standard_normal(9000) * 20, 100, label="EEG Fpz-Cz", physical_dimension="uV"),
               edfio.EdfSignal(np.full(9000, 5.0), 100, label="EEG Pz-Oz", physical_dimension="uV",
                               physical_range=(-100, 100))]
    path = tmp_path / "flat.edf"
    edfio.Edf(signals, data_record_duration=30).write(path)
    with pytest.raises(InputError, match=r"flat.edf: channel 'EEG Pz-Oz' \(EEG Pz-Oz\) is flat: constant 5"):
        load_psg(path, channels=("EEG Fpz-Cz", "EEG Pz-Oz"))
    with pytest.raises(InputError, match="flat.edf: .* is flat"):
        list(iter_psg_chunks(path, channels=("EEG Fpz-Cz", "EEG Pz-Oz"), chunk_epochs=1))
    assert load_psg(path, channels=("EEG Fpz-Cz",)).data.shape == (1, 9000)


def test_hypnogram_not_covering_recording(good, tmp_path):
    hyp = write_synthetic_hypnogram(tmp_path / "short-Hypnogram.edf", ["W", "N1", "N2", "N2"])
    with pytest.raises(InputError, match=r"short-Hypnogram.edf: hypnogram does not cover the recording: 2 of 6 "
                                         r"30-s epochs are unscored \(first at 120 s\)"):
        prepare_record(Record("SC4001", 0, 1, good, hyp))


def test_wrong_or_unreadable_hypnogram(good, tmp_path):
    with pytest.raises(InputError, match="good.edf: no sleep-stage annotations .* PSG file instead"):
        read_hypnogram(good)  # the PSG given as hypnogram
    junk = tmp_path / "junk-Hypnogram.edf"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(InputError, match="junk-Hypnogram.edf: not an EDF"):
        prepare_record(Record("SC4001", 0, 1, good, junk))
    with pytest.raises(InputError, match="absent-Hypnogram.edf: hypnogram file not found"):
        read_hypnogram(tmp_path / "absent-Hypnogram.edf")
    assert DEFAULT_START.year == 2020
