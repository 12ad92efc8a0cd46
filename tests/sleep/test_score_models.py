"""The embedded models for fewer modalities: the choice by channels present, the one-line refusal, and
the in-sample notice read from a model's own metadata."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep.embedded import (
    EMBEDDED,
    choose_embedded,
    embedded_model,
    in_sample_note,
    model_metadata,
    trained_epochs_in,
)
from neurotrio.sleep.onnx_model import load_onnx_model


def has(*labels: str):
    return lambda name: name in labels


def test_every_embedded_model_is_shipped_with_its_onnx_twin_and_inputs() -> None:
    for m in EMBEDDED:
        assert m.onnx.is_file() and m.weights.is_file(), m.name
        onnx = load_onnx_model(m.onnx)
        assert onnx.channels == m.channels and onnx.config.n_chans == len(m.channels)
        meta = model_metadata(onnx)
        assert "SC4001" in meta["trained_on"]
    assert [m.name for m in EMBEDDED] == ["psg", "eeg-eog", "eeg"]


def test_the_model_with_the_most_inputs_present_is_chosen() -> None:
    full = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental")
    assert choose_embedded(has(*full)).name == "psg"
    assert choose_embedded(has("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")).name == "eeg-eog"  # no EMG
    assert choose_embedded(has("EEG Fpz-Cz", "EMG submental")).name == "eeg"  # no EOG
    assert choose_embedded(has("EEG Fpz-Cz")).name == "eeg"


def test_no_model_fits_is_one_line_naming_missing_channels_and_models() -> None:
    with pytest.raises(InputError) as exc:
        choose_embedded(has("EOG horizontal", "EMG submental"), "band.edf")
    text = str(exc.value)
    assert "\n" not in text and text.startswith("band.edf: channels missing: EEG Fpz-Cz")
    for m in EMBEDDED:
        assert f"{m.name} ({', '.join(m.channels)})" in text
    with pytest.raises(InputError, match="embedded models"):
        embedded_model("nope")


def test_trained_epochs_are_found_on_the_clock_from_the_models_metadata() -> None:
    seen = {"record": "X1", "recording": "X1-PSG.edf", "start": "2000-01-01T22:00:00", "span_s": [600.0, 1200.0]}
    model = SimpleNamespace(metadata={"model_metadata": {"trained_epochs": seen}})  # as an ONNX model holds it
    onset = np.arange(60) * 30.0
    got = trained_epochs_in(model, dt.datetime(2000, 1, 1, 22, 0, 0), onset)
    assert np.flatnonzero(got).tolist() == list(range(20, 40))
    # a cut of the same night starting 10 min later keeps the clock: its epochs 0..19 were seen
    cut = trained_epochs_in(model, dt.datetime(2000, 1, 1, 22, 10, 0), onset)
    assert np.flatnonzero(cut).tolist() == list(range(0, 20))
    assert not trained_epochs_in(model, None, onset).any()  # no clock: nothing claimed
    assert not trained_epochs_in(SimpleNamespace(metadata={}), dt.datetime(2000, 1, 1, 22), onset).any()
    note = in_sample_note(model, 20, 60)
    assert note.startswith("20 of the 60 compared epochs were this model's training") and "X1-PSG.edf" in note


def test_the_embedded_models_record_where_they_were_trained() -> None:
    for m in EMBEDDED:
        seen = model_metadata(load_onnx_model(m.onnx)).get("trained_epochs")
        if seen is None:
            pytest.skip(f"{m.name}: trained before the span was recorded")
        start = dt.datetime.fromisoformat(seen["start"])
        assert seen["record"] == "SC4001" and seen["span_s"][1] == 41400.0
        onset = np.arange(2650) * 30.0
        assert trained_epochs_in(load_onnx_model(m.onnx), start, onset).sum() == seen["n_epochs"] == 419


def test_score_says_why_a_model_with_fewer_inputs_was_chosen(tmp_path) -> None:
    from neurotrio.sleep.score import score_recording
    from tests.sleep.synthetic import write_synthetic_psg

    eeg_eog = write_synthetic_psg(tmp_path / "band.edf", n_epochs=3, channels=("EEG Fpz-Cz", "EOG horizontal"))
    res = score_recording(eeg_eog)
    assert res.model == ("the embedded model 'eeg-eog' (EEG Fpz-Cz, EOG horizontal); chosen because EEG Pz-Oz, "
                         "EMG submental are not in the file")
    full = write_synthetic_psg(tmp_path / "full.edf", n_epochs=3)
    assert "chosen because" not in score_recording(full).model


def test_a_model_name_that_is_neither_a_file_nor_embedded_lists_the_embedded_ones(tmp_path, capsys) -> None:
    from neurotrio.cli import main
    from tests.sleep.synthetic import write_synthetic_psg

    psg = write_synthetic_psg(tmp_path / "n.edf", n_epochs=2)
    assert main(["sleep", "score", str(psg), "--model", "psg2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --model 'psg2' is neither a model file") and err.count("\n") == 1
    assert "eeg-eog (EEG Fpz-Cz, EOG horizontal)" in err


def test_embedded_names_work_in_every_entry_point(capsys) -> None:
    """`score --model eeg` takes a name; SleepStager and `sleep info` take the same names."""
    from neurotrio.cli import main
    from neurotrio.sleep.stream import SleepStager

    assert SleepStager(model="eeg").model.channels == ("EEG Fpz-Cz",)
    assert main(["sleep", "info", "--model", "eeg-eog"]) == 0
    assert "EEG Fpz-Cz, EOG horizontal" in capsys.readouterr().out
