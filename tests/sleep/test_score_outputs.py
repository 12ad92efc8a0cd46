"""A scored night's outputs on the recording's clock: CSV clock times, EDF+ on true onsets across gaps,
the plot, the statistics table, whole-run replacement of an output folder, and a file given as --out."""

from __future__ import annotations

import csv
import datetime as dt
import json

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep.outputs import (
    check_out_dir,
    format_channels,
    format_statistics,
    hypnogram_annotations,
    statistics_rows,
    write_outputs,
)
from neurotrio.sleep.plot import plot_hypnogram, runs
from neurotrio.sleep.result import ScoreResult
from neurotrio.sleep.score import edf_start

START = dt.datetime(2020, 1, 1, 23, 59, 0)


def gap_result(n_before: int = 3, gap_s: float = 600.0, n_after: int = 3) -> ScoreResult:
    """An EDF+D-like night: ``n_before`` epochs, an acquisition gap, ``n_after`` epochs (all N2 but one)."""
    onset = np.r_[np.arange(n_before) * 30.0, n_before * 30.0 + gap_s + np.arange(n_after) * 30.0]
    stages = np.full(onset.size, 2, np.int64)
    stages[0] = 0
    proba = np.full((onset.size, 5), 0.05, np.float32)
    proba[np.arange(onset.size), stages] = 0.8
    return ScoreResult(stages, proba, onset, start=START, epoch_s=30.0,
                       segments=[(0.0, n_before * 30.0), (n_before * 30.0 + gap_s, n_after * 30.0)], model="test",
                       channels=[{"input": "EEG Fpz-Cz", "label": "Fpz", "sfreq_hz": 256.0, "alias": True,
                                  "conversion": None}],
                       statistics={"predicted": {"lights_off_s": 0.0, "TIB_min": 90.0, "TST_min": 75.5,
                                                 "Lat_N1_min": None, "n_awakenings": 2},
                                   "expert": {"lights_off_s": 0.0, "TIB_min": 90.0, "TST_min": 80.0,
                                              "Lat_N1_min": 3.0, "n_awakenings": 1}})


def test_runs_split_at_gaps_only() -> None:
    assert runs(np.array([0.0, 30, 60, 660, 690]), 30.0) == [(0, 3), (3, 5)]
    assert runs(np.arange(4) * 30.0, 30.0) == [(0, 4)]
    assert runs(np.array([]), 30.0) == []


def test_edf_annotations_keep_true_onsets_and_never_bridge_a_gap() -> None:
    res = gap_result()
    ann = hypnogram_annotations(res)
    # epoch 3 starts after the 600-s gap at 690 s: the N2 run before the gap ends at 90 s, a new one starts
    assert ann == [(0.0, 30.0, "Sleep stage W"), (30.0, 60.0, "Sleep stage N2"), (690.0, 90.0, "Sleep stage N2")]


def test_csv_has_clock_time_and_true_onsets_json_has_the_start(tmp_path) -> None:
    import mne

    res = gap_result()
    files = write_outputs(res, "night.edf", tmp_path / "out", plot=False)
    rows = list(csv.DictReader(open(files["csv"])))
    assert list(rows[0])[:4] == ["epoch", "onset_s", "clock_time", "stage"]
    assert [float(r["onset_s"]) for r in rows] == res.onset_s.tolist()  # rows jump over the gap
    assert rows[0]["clock_time"] == "2020-01-01T23:59:00"
    assert rows[3]["clock_time"] == "2020-01-02T00:10:30"  # 690 s later, past midnight
    summary = json.loads(files["json"].read_text())
    assert summary["start"] == "2020-01-01T23:59:00"
    assert summary["segments"] == [{"onset_s": 0.0, "duration_s": 90.0}, {"onset_s": 690.0, "duration_s": 90.0}]
    assert summary["channels"][0]["label"] == "Fpz" and summary["statistics"]["expert"]["TST_min"] == 80.0
    ann = mne.read_annotations(files["edf"])
    assert ann.onset.tolist() == [0.0, 30.0, 690.0]
    assert edf_start(files["edf"]) == START
    stats = list(csv.reader(open(files["stats"])))
    assert stats[0] == ["statistic", "predicted", "expert"] and ["TST_min", "75.50", "80.00"] in stats
    assert ["Lat_N1_min", "", "3.00"] in stats  # undefined (no N1) stays empty, never 0


def test_rerun_replaces_the_outputs_as_a_whole(tmp_path) -> None:
    out = tmp_path / "out"
    res = gap_result()
    first = write_outputs(res, "night.edf", out, plot=True)
    assert first["png"].is_file()
    (out / "other.hypnogram.csv").write_text("another night's output\n")
    res.statistics = {}
    second = write_outputs(res, "night.edf", out, plot=False)
    names = {p.name for p in out.iterdir()}
    assert "night.hypnogram.png" not in names and "night.stats.csv" not in names  # stale: removed
    assert {"night.hypnogram.csv", "night.hypnogram.edf", "night.score.json", "other.hypnogram.csv"} == names
    assert json.loads(second["json"].read_text())["files"] == ["night.hypnogram.csv", "night.hypnogram.edf"]


def test_out_naming_a_file_is_one_line(tmp_path) -> None:
    f = tmp_path / "taken.txt"
    f.write_text("x")
    with pytest.raises(InputError, match="is a file") as exc:
        check_out_dir(f)
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="which is a file"):
        check_out_dir(f / "sub")
    assert check_out_dir(tmp_path / "new") == tmp_path / "new"


def test_statistics_table_and_channel_report() -> None:
    res = gap_result()
    rows = statistics_rows(res.statistics)
    assert rows[0] == ["statistic", "predicted", "expert"] and rows[2] == ["TIB_min", "90.00", "90.00"]
    text = format_statistics(res.statistics, "whole recording").splitlines()
    assert text[0].startswith("sleep statistics (whole recording)")
    assert text[1].split() == ["statistic", "predicted", "expert"] and "lights_off_s" not in "".join(text)
    assert text[3].split() == ["TST_min", "75.50", "80"] and text[4].split() == ["Lat_N1_min", "-", "3"]
    assert text[5].split() == ["n_awakenings", "2", "1"]
    assert statistics_rows({"predicted": {"TST_min": 1.0}})[0] == ["statistic", "predicted"]
    report = format_channels(res.channels)
    assert "EEG Fpz-Cz <- 'Fpz' (256 Hz)" in report and "alias: 'Fpz' read as 'EEG Fpz-Cz'" in report
    # a duplicated label read by number (--channel 'EEG Fpz-Cz=#2') says which signal it was
    by_number = [{"input": "EEG Fpz-Cz", "label": "EEG Fpz-Cz", "sfreq_hz": 100.0, "signal": 2}]
    assert format_channels(by_number).splitlines()[1] == "  EEG Fpz-Cz <- 'EEG Fpz-Cz' (signal 2, 100 Hz)"


def test_plot_on_the_clock_with_gaps_and_lights(tmp_path) -> None:
    res = gap_result()
    ref = res.stages.copy()
    ref[1] = -1
    path = plot_hypnogram(res.stages, res.proba, 30.0, tmp_path / "h.png", reference=ref, onset_s=res.onset_s,
                          start=START, lights_off_s=30.0, lights_on_s=750.0)
    assert path.read_bytes()[:4] == b"\x89PNG"
    path = plot_hypnogram(res.stages, res.proba, 30.0, tmp_path / "h2.png")  # no clock: hours from start
    assert path.is_file()
