"""Sleep statistics on hand-built hypnograms, values worked out by hand (30-s epochs = 0.5 min)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep.statistics import analysed_period, parse_time_of_night, sleep_statistics

W, N1, N2, N3, R, U = 0, 1, 2, 3, 4, -1
# index:    0  1  2   3   4   5  6  7   8   9   10  11 12 13 14 15 16  17  18 19
NIGHT = [W, W, N1, N2, N2, W, W, N2, N3, N3, N2, R, R, U, R, W, N1, N2, W, W]


def test_whole_night_by_hand():
    s = sleep_statistics(np.array(NIGHT))
    # 20 epochs; sleep at 2,3,4,7-12,14,16,17 (12 epochs); onset epoch 2 (60 s), last sleep epoch 17 (ends 540 s)
    expected = {
        "TIB_min": 10.0, "TST_min": 6.0, "SE_pct": 60.0, "SOL_min": 1.0, "sleep_onset_s": 60.0, "sleep_end_s": 540.0,
        "SPT_min": 8.0, "SME_pct": 75.0,
        "WASO_min": 2.5,  # W at 5, 6, 15, 18, 19 (after sleep onset, to lights-on)
        "W_min": 3.5, "N1_min": 1.0, "N2_min": 2.5, "N3_min": 1.0, "REM_min": 1.5,
        "N1_pct_TST": 100 / 6, "N2_pct_TST": 250 / 6, "N3_pct_TST": 100 / 6, "REM_pct_TST": 25.0,
        # SPT = epochs 2..17 = 8 min: W 5, 6, 15 (1.5 min), N1 2, 16, N2 3, 4, 7, 10, 17, N3 8, 9, REM 11, 12, 14
        "W_pct_SPT": 18.75, "N1_pct_SPT": 12.5, "N2_pct_SPT": 31.25, "N3_pct_SPT": 12.5, "REM_pct_SPT": 18.75,
        # from sleep onset (epoch 2): first N1 at 2, N2 at 3, N3 at 8, REM at 11
        "Lat_N1_min": 0.0, "Lat_N2_min": 0.5, "Lat_N3_min": 3.0, "Lat_REM_min": 4.5,
        "n_awakenings": 2,  # W bouts 5-6 and 15 inside SPT; the final one (18-19) is not counted
        "n_stage_shifts": 11,  # over scored epochs, the unscored 13 skipped (REM 12 -> REM 14 is no shift)
        "unscored_min": 0.5, "gap_min": 0.0, "lights_off_s": 0.0, "lights_on_s": 600.0,
    }
    for key, value in expected.items():
        assert s[key] == pytest.approx(value), key


def test_lights_off_and_on_restrict_the_period():
    s = sleep_statistics(np.array(NIGHT), lights_off_s=60.0, lights_on_s=510.0)  # epochs 2..16
    assert s["TIB_min"] == 7.5 and s["TST_min"] == 5.5 and s["SOL_min"] == 0.0
    assert s["SE_pct"] == pytest.approx(100 * 5.5 / 7.5) and s["SPT_min"] == 7.5 and s["WASO_min"] == 1.5
    # scored 2..16: N1 N2 N2 W W N2 N3 N3 N2 R R (13 unscored) R W N1 -> 8 shifts
    assert s["W_min"] == 1.5 and s["n_awakenings"] == 2 and s["n_stage_shifts"] == 8


def test_edfplusd_gap_counts_in_tib_but_in_no_stage():
    # epochs at 0, 30, 60 then (after a 210-s gap) 300, 330 s
    s = sleep_statistics(np.array([W, N1, N2, N2, W]), onset_s=np.array([0.0, 30.0, 60.0, 300.0, 330.0]))
    assert s["TIB_min"] == 6.0 and s["gap_min"] == 3.5 and s["TST_min"] == 1.5
    assert s["SPT_min"] == 5.0  # from 30 s (first sleep) to 330 s (end of the last sleep epoch), clock time
    assert s["SE_pct"] == 25.0 and s["n_stage_shifts"] == 3


def test_night_without_sleep():
    s = sleep_statistics(np.array([W, W, U]))
    assert s["TST_min"] == 0.0 and s["SE_pct"] == 0.0 and s["SPT_min"] == 0.0
    assert s["SOL_min"] is None and s["WASO_min"] is None and s["Lat_REM_min"] is None
    assert s["N2_pct_TST"] is None and s["n_awakenings"] == 0 and s["unscored_min"] == 0.5


def test_other_epoch_length():
    s = sleep_statistics(np.array([W, N2, N2, R]), epoch_s=20.0)
    assert s["TIB_min"] == pytest.approx(80 / 60) and s["TST_min"] == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs,match", [
    ({"stages": np.array([0, 5])}, "stage codes"),
    ({"stages": np.array([0, 1]), "onset_s": np.array([0.0])}, "differ in length"),
    ({"stages": np.array([0, 1]), "onset_s": np.array([0.0, 10.0])}, "increase"),
    ({"stages": np.array([0, 1]), "lights_off_s": 30.0, "lights_on_s": 30.0}, "after lights-off"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sleep_statistics(**kwargs)


START = dt.datetime(2021, 3, 4, 22, 40, 0)


@pytest.mark.parametrize("value,seconds", [
    ("23:15", 2100.0), ("23:15:30", 2130.0), ("06:30", 28200.0), ("00:10", 5400.0),
    ("22:30", 85800.0),  # a time of day before the start is on the next day
    ("3600", 3600.0), (5400.5, 5400.5), ("2021-03-05 06:30:00", 28200.0), ("2021-03-04T23:00:00", 1200.0),
])
def test_parse_time_of_night(value, seconds):
    assert parse_time_of_night(value, START) == seconds


@pytest.mark.parametrize("value,start,match", [
    ("23:61", START, "neither seconds"), ("soon", START, "neither seconds"), ("-5", START, ">= 0"),
    ("2021-03-04 21:00:00", START, "before the recording start"), ("23:15", None, "start time is unknown"),
])
def test_parse_time_of_night_refuses(value, start, match):
    with pytest.raises(InputError, match=match) as err:
        parse_time_of_night(value, start, "lights-off")
    assert str(err.value).startswith("lights-off")


def test_analysed_period():
    onset = np.arange(600) * 30.0  # 5 h from 22:40
    assert analysed_period("23:15", "03:40", START, onset) == (2100.0, 18000.0)
    assert analysed_period(None, "600", START, onset) == (None, 600.0)
    with pytest.raises(InputError, match="lights-on .* is not after lights-off"):
        analysed_period("23:15", "23:00", START, onset[:100])
    with pytest.raises(InputError, match="lights-on .* outside the recording"):
        analysed_period(None, "06:30", START, onset)
