"""Hypnogram parsing, per-epoch labels, the coverage rule and EDF+ writing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep.hypnogram import (
    STAGES,
    UNKNOWN,
    check_coverage,
    read_hypnogram,
    stage_code,
    stage_labels,
    write_hypnogram_edf,
)
from tests.sleep.synthetic import write_synthetic_hypnogram


@pytest.mark.parametrize("text,code", [
    ("Sleep stage W", 0), ("Sleep stage 1", 1), ("Sleep stage 2", 2), ("Sleep stage 3", 3),
    ("Sleep stage 4", 3), ("Sleep stage R", 4), ("Sleep stage ?", UNKNOWN), ("Movement time", UNKNOWN),
    ("W", 0), ("N1", 1), ("n2", 2), ("N3", 3), ("R", 4), ("REM", 4), ("Sleep stage N3", 3),
    ("Sleep_stage_R", 4), ("Stage 2", 2), ("Arousal", None), ("Lights off", None),
])
def test_stage_code(text, code):
    assert stage_code(text) == code


def test_read_sleep_edf_style(tmp_path):
    stages = ["W", "W", "N1", "N2", "N3", "N4", "M", "REM", "?", "W"]
    path = write_synthetic_hypnogram(tmp_path / "h.edf", stages, tail_unknown_s=600)
    ann = read_hypnogram(path)
    assert ann[0] == (0.0, 60.0, "Sleep stage W") and ann[4] == (150.0, 30.0, "Sleep stage 4")
    assert ann[-1] == (300.0, 600.0, "Sleep stage ?")
    np.testing.assert_array_equal(stage_labels(ann, 12), [0, 0, 1, 2, 3, 3, -1, 4, -1, 0, -1, -1])


def test_stage_labels_midpoint_rule():
    # onset 40 s covers epochs whose midpoints (45, 75) lie in [40, 100); zero duration = one epoch
    ann = [(40.0, 60.0, "N2"), (150.0, 0.0, "REM"), (0.0, 10.0, "Arousal")]
    np.testing.assert_array_equal(stage_labels(ann, 6), [-1, 2, 2, -1, -1, 4])
    assert stage_labels(ann, 6).dtype == np.int64


def test_write_read_back_with_mne(tmp_path):
    import mne

    start = dt.datetime(2021, 3, 4, 23, 15, 0)
    path = write_hypnogram_edf(tmp_path / "out.edf", ["W", "W", "N1", 2, 2, 3, "REM", -1], start=start)
    ann = mne.read_annotations(path)
    assert list(ann.description) == ["Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3",
                                     "Sleep stage R", "Sleep stage ?"]
    np.testing.assert_allclose(ann.onset, [0, 60, 90, 150, 180, 210])
    np.testing.assert_allclose(ann.duration, [60, 30, 60, 30, 30, 30])
    np.testing.assert_array_equal(stage_labels(read_hypnogram(path), 8), [0, 0, 1, 2, 2, 3, 4, -1])
    assert open(path, "rb").read(256)[168:184] == b"04.03.2123.15.00"
    assert [p.name for p in tmp_path.iterdir()] == ["out.edf"]  # no temporary file left


def test_write_rejects_unknown_stage(tmp_path):
    with pytest.raises(ValueError, match="unknown stage 'N5'"):
        write_hypnogram_edf(tmp_path / "x.edf", ["W", "N5"])
    assert not (tmp_path / "x.edf").exists()


def test_coverage_rule():
    # trailing "?" beyond the PSG and past-the-end annotations are fine
    check_coverage([(0.0, 90.0, "Sleep stage W"), (90.0, 9000.0, "Sleep stage ?")], 4, "h.edf")
    with pytest.raises(InputError, match="does not cover.*2 of 4.*first at 60 s"):
        check_coverage([(0.0, 60.0, "Sleep stage W")], 4, "h.edf")
    with pytest.raises(InputError, match="scores no epoch"):
        check_coverage([(0.0, 120.0, "Sleep stage ?")], 4, "h.edf")


def test_stages_constant():
    assert STAGES == ("W", "N1", "N2", "N3", "REM") and UNKNOWN == -1


def test_read_hypnogram_reads_mne_csv_without_pandas(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("onset,duration,description\n1989-04-25 03:43:00.000000,60.0,Sleep stage 1\n"
                    "1989-04-25 03:44:00.000000,30.0,Sleep stage W\n")
    assert read_hypnogram(path) == [(0.0, 60.0, "Sleep stage 1"), (60.0, 30.0, "Sleep stage W")]
