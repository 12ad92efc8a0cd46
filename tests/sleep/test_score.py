"""Scoring a night: outputs (CSV, EDF+, PNG, JSON), the expert comparison, chunked staging, bad references."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from neurotrio.core.errors import InputError
from neurotrio.core.metrics import cohen_kappa, confusion_matrix
from neurotrio.sleep.edf import DEFAULT_CHANNELS, load_psg
from neurotrio.sleep.model import SleepModel, ULWSleepNet, load_model, save_model
from neurotrio.sleep.score import predict_proba, reference_labels, score_recording, stage_recording
from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram, write_synthetic_psg

STAGES5 = ["W", "N1", "N2", "N3", "REM"]


def make_model(path, normalization: str = "fixed", seed: int = 0):
    torch.manual_seed(seed)
    net = ULWSleepNet().eval()
    net.in_scale.fill_(20.0)
    return save_model(SleepModel(net, DEFAULT_CHANNELS, normalization), path)


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    d = tmp_path_factory.mktemp("night")
    stages = ["W"] * 4 + default_stages(20)[2:] + ["W"] * 4  # 26 epochs
    psg = write_synthetic_psg(d / "night.edf", stages=stages, seed=1)
    hyp = write_synthetic_hypnogram(d / "hyp.edf", stages, tail_unknown_s=600)
    return psg, hyp, stages, make_model(d / "m.safetensors")


def test_score_writes_all_outputs_that_read_back(night, tmp_path) -> None:
    import mne

    psg, _, stages, model = night
    res = score_recording(psg, model, tmp_path / "out")
    assert res.stages.shape == (len(stages),) and res.proba.shape == (len(stages), 5)
    np.testing.assert_allclose(res.proba.sum(1), 1.0, atol=1e-5)
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"night.hypnogram.csv", "night.hypnogram.edf",
                                                              "night.hypnogram.png", "night.score.json",
                                                              "night.stats.csv"}
    rows = list(csv.DictReader(open(res.files["csv"])))
    assert list(rows[0]) == ["epoch", "onset_s", "clock_time", "stage", "p_W", "p_N1", "p_N2", "p_N3", "p_REM"]
    assert len(rows) == len(stages) and float(rows[3]["onset_s"]) == 90.0
    assert rows[3]["clock_time"] == "2020-01-01T22:01:30"  # synthetic recordings start 2020-01-01 22:00:00
    assert [r["stage"] for r in rows] == res.stage_names
    ann = mne.read_annotations(res.files["edf"])
    back, end = [], 0.0
    for onset, dur, desc in zip(ann.onset, ann.duration, ann.description):
        assert onset == pytest.approx(end)  # consecutive runs of equal stages
        back += [desc.replace("Sleep stage ", "").replace("R", "REM")] * int(round(dur / 30))
        end = onset + dur
    assert back == res.stage_names
    assert res.files["png"].read_bytes()[:4] == b"\x89PNG"


def test_reference_comparison_matches_hand_computed_metrics(night) -> None:
    psg, hyp, stages, model = night
    res = score_recording(psg, model, None, reference=hyp, trim_wake_min=None)
    y = np.array([STAGES5.index(s) for s in stages])
    cm = confusion_matrix(y, res.stages, 5)
    assert res.metrics["n"] == len(stages)
    assert res.metrics["kappa"] == pytest.approx(cohen_kappa(cm))
    assert res.metrics["confusion_matrix"] == cm.tolist()
    trimmed = score_recording(psg, model, None, reference=hyp, trim_wake_min=1.0)  # 2 wake epochs each side
    assert trimmed.metrics["n"] == len(stages) - 4


def test_reference_labels_use_the_data_layer_trimming(night) -> None:
    _, hyp, stages, _ = night
    labels, keep = reference_labels(hyp, len(stages), trim_wake_min=0.5)
    assert labels.tolist() == [STAGES5.index(s) for s in stages]
    assert keep[0] == 3 and keep[-1] == len(stages) - 4  # one wake epoch kept on each side of sleep


def test_chunked_staging_equals_scoring_the_whole_array(night) -> None:
    psg, _, _, model_path = night
    model = load_model(model_path)
    proba, onset = stage_recording(psg, model)
    whole = predict_proba(model, [load_psg(psg).epochs()])
    np.testing.assert_allclose(proba, whole, atol=1e-5)
    assert onset[1] == 30.0


def test_recording_normalization_scales_each_night_by_itself(tmp_path, night) -> None:
    from neurotrio.sleep.train import normalize_recording

    psg, _, _, _ = night
    model = load_model(make_model(tmp_path / "r.safetensors", normalization="recording"))
    proba, _ = stage_recording(psg, model)
    psg_data = load_psg(psg)
    center = np.median(psg_data.data, axis=1)
    x = (psg_data.epochs() - center[None, :, None]) / (np.subtract(*np.percentile(psg_data.data, [75, 25], axis=1))
                                                      / 1.349)[None, :, None]
    np.testing.assert_allclose(proba, predict_proba(model, [x]), atol=1e-4)
    epochs = psg_data.epochs()
    np.testing.assert_allclose(normalize_recording(4 * epochs + 7), normalize_recording(epochs), atol=1e-4)


def test_a_reference_that_does_not_cover_the_recording_writes_nothing(night, tmp_path) -> None:
    psg, _, stages, model = night
    short = write_synthetic_hypnogram(tmp_path / "short.edf", stages[:10])
    with pytest.raises(InputError, match="does not cover"):
        score_recording(psg, model, tmp_path / "out", reference=short)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.realdata
def test_real_night_with_embedded_weights_beats_a_kappa_floor(shared_data, tmp_path) -> None:
    """SC4001 (development data). The embedded weights saw this night's epochs before 41400 s; the floor
    on the held-out part (the demo excerpt) is the one that matters."""
    folder = shared_data / "sleep" / "sleep-edf" / "sleep-cassette"
    res = score_recording(folder / "SC4001E0-PSG.edf", None, tmp_path / "out",
                          reference=folder / "SC4001EC-Hypnogram.edf")
    assert res.stages.size == 2650 and res.metrics["n"] == 841
    assert res.metrics["kappa"] > 0.6
    # the in-sample part is said where the kappa is, from the model's own metadata (not hard-coded)
    assert res.metrics["in_sample_epochs"] == 419 and any(n.startswith("419 of the 841 compared epochs") for n in res.notes)
    assert res.metrics["held_out"]["n"] == 422 and res.metrics["held_out"]["kappa"] > 0.5
    labels, keep = reference_labels(folder / "SC4001EC-Hypnogram.edf", 2650)
    held = keep[keep >= 1380]
    assert held.size == 422
    assert cohen_kappa(confusion_matrix(labels[held], res.stages[held], 5)) > 0.5


def test_python_api_takes_a_raw_and_mne_annotations(night) -> None:
    import mne

    psg, hyp, stages, model = night
    by_path = score_recording(psg, model, reference=hyp, trim_wake_min=None)
    raw = mne.io.read_raw_edf(psg, preload=True, verbose="error")
    by_raw = score_recording(raw, model, reference=mne.read_annotations(hyp), trim_wake_min=None)
    assert by_raw.stages.tolist() == by_path.stages.tolist()
    assert by_raw.metrics["n"] == len(stages) and by_raw.metrics["kappa"] == pytest.approx(by_path.metrics["kappa"])
    assert by_raw.start == by_path.start and by_raw.statistics["expert"] == by_path.statistics["expert"]


def test_lights_off_on_restrict_statistics_and_comparison_not_the_outputs(night, tmp_path) -> None:
    psg, hyp, stages, model = night  # 26 epochs from 22:00:00
    res = score_recording(psg, model, tmp_path / "out", reference=hyp, trim_wake_min=None,
                          lights_off="22:02:00", lights_on=600)
    assert (res.lights_off_s, res.lights_on_s) == (120.0, 600.0)
    assert res.metrics["n"] == 16  # epochs 4..19, the ones inside the period
    assert res.statistics["predicted"]["TIB_min"] == res.statistics["expert"]["TIB_min"] == 8.0
    y = np.array([STAGES5.index(s) for s in stages])[4:20]
    assert res.statistics["expert"]["TST_min"] == (y > 0).sum() * 0.5
    rows = list(csv.DictReader(open(res.files["csv"])))
    assert len(rows) == len(stages)  # every epoch is still staged and written
    with pytest.raises(InputError, match="lights-on"):
        score_recording(psg, model, lights_off=600, lights_on=300)


def test_an_expert_who_scored_only_lights_off_to_lights_on_is_compared_on_that_span(night, tmp_path) -> None:
    import datetime as dt

    from tests.sleep.synthetic import DEFAULT_START

    psg, _, stages, model = night
    part = write_synthetic_hypnogram(tmp_path / "part.edf", stages[4:20], start=DEFAULT_START + dt.timedelta(minutes=2))
    res = score_recording(psg, model, reference=part, trim_wake_min=None)
    assert res.metrics["n"] == 16 and res.reference[:4].tolist() == [-1] * 4
    assert res.reference[4:20].tolist() == [STAGES5.index(s) for s in stages[4:20]]
    assert (res.lights_off_s, res.lights_on_s) == (120.0, 600.0)  # the expert's scored span
    assert res.statistics["predicted"]["TIB_min"] == 8.0
    assert "120 s after the recording's start; aligned by clock time" in res.notes[0]
    # the period's note is written once both ends are known: it names the expert's lights-on, not "end"
    assert "analysed period starts and ends where the expert's scoring does (lights-off 22:02:00 to lights-on " \
           "22:10:00)" in res.notes[1]
