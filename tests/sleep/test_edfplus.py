"""EDF+D: every data record on its own onset (time-keeping TALs); pieces staged apart, gaps left empty."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep.edf import load_psg, open_edf
from neurotrio.sleep.edfheader import read_edf_header
from neurotrio.sleep.edfplus import record_onsets
from neurotrio.sleep.model import SleepModel, ULWSleepNet, save_model
from neurotrio.sleep.score import stage_night
from tests.sleep.synthetic import DEFAULT_CHANNELS, write_synthetic_psg


def as_edf_plus(src, dst):
    """Rewrite an EDF file as EDF+C (edfio adds the EDF Annotations signal with the time-keeping TALs)."""
    import edfio

    edf = edfio.read_edf(src)
    signals = [edfio.EdfSignal(sig.data, sig.sampling_frequency, label=sig.label, physical_dimension="uV",
                               physical_range=(sig.physical_min, sig.physical_max)) for sig in edf.signals]
    edfio.Edf(signals, data_record_duration=edf.data_record_duration, annotations=[],
              starttime=edf.starttime, recording=edfio.Recording(startdate=edf.startdate)).write(dst)
    return dst


def rewrite_onsets(src, dst, onsets, kind: str = "EDF+D"):
    """Copy an edfio-written EDF+C file, giving record r the time-keeping onset ``onsets[r]`` (None: no TAL)."""
    header = read_edf_header(src)
    data = bytearray(src.read_bytes())
    data[192:236] = kind.ljust(44).encode()
    ann = next(i for i, s in enumerate(header.signals) if s.is_annotation)
    first = header.header_bytes + sum(s.n_samples for s in header.signals[:ann]) * 2
    size = header.signals[ann].n_samples * 2
    for r, onset in enumerate(onsets):
        tal = b"" if onset is None else f"+{onset:g}\x14\x14\x00".encode()
        at = first + r * header.record_bytes
        data[at:at + size] = tal.ljust(size, b"\x00")
    dst.write_bytes(bytes(data))
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("edfd")
    cont = as_edf_plus(write_synthetic_psg(d / "plain.edf", n_epochs=8, seed=4), d / "cont.edf")
    assert read_edf_header(cont).edf_plus == "EDF+C"
    # records 0-2 from 0 s, then a 100-s gap, then 3-7 (a 10-s piece shorter than an epoch would also do)
    onsets = [0, 30, 60, 190, 220, 250, 280, 310]
    gap = rewrite_onsets(cont, d / "gap.edf", onsets)
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = ULWSleepNet().eval()
    net.in_scale.fill_(20.0)
    model = save_model(SleepModel(net, DEFAULT_CHANNELS, "fixed"), d / "m.safetensors")
    return cont, gap, onsets, model


def test_record_onsets_come_from_the_time_keeping_annotations(files) -> None:
    cont, gap, onsets, _ = files
    np.testing.assert_array_equal(record_onsets(read_edf_header(cont)), np.arange(8) * 30.0)
    np.testing.assert_array_equal(record_onsets(read_edf_header(gap)), onsets)
    reader = open_edf(gap)
    assert [(p.onset_s, p.data_s, p.duration_s) for p in reader.pieces] == [(0, 0, 90), (190, 90, 150)]


def test_each_piece_is_staged_on_its_real_onset_and_equals_the_same_samples_continuous(files) -> None:
    cont, gap, onsets, model = files
    joined = stage_night(cont, model)
    split = stage_night(gap, model)
    np.testing.assert_array_equal(split.onset_s, onsets)  # epoch 3 at 190 s, not 90 s: no epoch in the gap
    assert split.segments == [(0.0, 90.0), (190.0, 150.0)]
    # the pieces are resampled apart (no context across the gap): identical here, all channels being
    # at their native rate except the 1-Hz EMG envelope, which is held at the piece edge
    assert np.abs(split.proba - joined.proba).max() < 0.05
    np.testing.assert_allclose(split.proba[:2], joined.proba[:2], atol=1e-6)


def test_continuous_readers_refuse_a_file_with_gaps(files) -> None:
    _, gap, _, _ = files
    with pytest.raises(InputError, match=r"gap.edf: EDF\+D recording with acquisition gaps \(90-190 s\)"):
        load_psg(gap)


def test_missing_or_backward_time_keeping_is_refused(files, tmp_path) -> None:
    cont, _, onsets, _ = files
    no_tal = rewrite_onsets(cont, tmp_path / "notal.edf", [*onsets[:5], None, *onsets[6:]])
    with pytest.raises(InputError, match=r"notal.edf: EDF\+D data record 6 has no time-keeping annotation"):
        stage_night(no_tal)
    back = rewrite_onsets(cont, tmp_path / "back.edf", [0, 30, 60, 75, 120, 150, 180, 210])
    with pytest.raises(InputError, match=r"back.edf: data record 4 starts at 75 s, before record 3 ends \(90 s\)"):
        stage_night(back)


def test_edf_plus_c_whose_onsets_jump_is_staged_on_the_onsets_with_a_warning(files, tmp_path, caplog) -> None:
    cont, _, onsets, model = files
    lying = rewrite_onsets(cont, tmp_path / "lying.edf", onsets, kind="EDF+C")
    with caplog.at_level("WARNING"):
        night = stage_night(lying, model)
    np.testing.assert_array_equal(night.onset_s, onsets)
    assert "header says EDF+C but the record onsets jump 1 time(s)" in caplog.text


def test_mangled_time_keeping_is_refused_cleanly(files, tmp_path) -> None:
    """Random bytes written over the EDF Annotations signal: an InputError or a valid reading, nothing else."""
    from neurotrio.core.errors import NeurotrioError

    _, gap, _, _ = files
    header = read_edf_header(gap)
    ann = next(i for i, s in enumerate(header.signals) if s.is_annotation)
    first = header.header_bytes + sum(s.n_samples for s in header.signals[:ann]) * 2
    rng = np.random.default_rng(0)
    base = gap.read_bytes()
    for k in range(40):
        data = bytearray(base)
        r = int(rng.integers(header.n_records))
        at = first + r * header.record_bytes + int(rng.integers(8))
        data[at:at + 4] = bytes(rng.choice(list(b"+-.0123456789\x14\x00x "), 4).tolist())
        path = tmp_path / f"m{k}.edf"
        path.write_bytes(bytes(data))
        try:
            reader = open_edf(path)
        except NeurotrioError:
            continue
        onsets = [p.onset_s for p in reader.pieces]
        assert onsets == sorted(onsets) and all(np.isfinite(onsets))


def test_an_mne_raw_of_an_edf_plus_d_file_gets_its_pieces_back(files) -> None:
    """MNE 1.13 joins the records of an EDF+D file silently; the Raw is put back on the file's clock."""
    import mne

    _, gap, onsets, model = files
    raw = mne.io.read_raw_edf(gap, preload=True, verbose="error")
    assert raw.n_times == 8 * 3000 and not len(raw.annotations)  # joined, no BAD_ACQ_SKIP
    night = stage_night(raw, model)
    np.testing.assert_array_equal(night.onset_s, onsets)
    with pytest.raises(InputError, match=r"gap.edf: this Raw comes from an EDF\+D file with 1 acquisition gap"):
        stage_night(raw.copy().crop(0, 200), model)
