"""Expert hypnograms on the recording's clock: start offsets, grid checks, resampling, coverage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from neurotrio.core.errors import InputError
from neurotrio.sleep.hypnogram import (
    UNKNOWN,
    ExpertHypnogram,
    align_to_epochs,
    expert_period,
    scoring_epoch_s,
    start_offset_s,
)

T0 = dt.datetime(2021, 3, 4, 22, 0, 0)


def hyp(intervals, start=T0, epoch_s=None, clock_only=False):
    return ExpertHypnogram(start, list(intervals), "h.txt", "test", epoch_s, clock_only)


def runs(codes, epoch_s=30.0, t0=0.0):
    return [(t0 + i * epoch_s, epoch_s, c) for i, c in enumerate(codes)]


def test_same_start_labels_each_epoch():
    h = hyp(runs([0, 1, 2, 2, 3, 4, -1, 0]))
    labels = align_to_epochs(h, T0, np.arange(8) * 30.0)
    np.testing.assert_array_equal(labels, [0, 1, 2, 2, 3, 4, -1, 0])
    assert labels.dtype == np.int64


def test_hypnogram_starting_later_is_shifted_by_its_start_time():
    # scoring began at lights-off, 2 min after the recording: epoch 4 of the PSG is expert epoch 0
    h = hyp(runs([1, 2, 3]), start=T0 + dt.timedelta(minutes=2))
    labels = align_to_epochs(h, T0, np.arange(8) * 30.0)
    np.testing.assert_array_equal(labels, [-1, -1, -1, -1, 1, 2, 3, -1])
    assert start_offset_s(h, T0) == 120.0


def test_hypnogram_starting_earlier_is_shifted_back():
    h = hyp(runs([0, 0, 1, 2, 2]), start=T0 - dt.timedelta(seconds=60))
    np.testing.assert_array_equal(align_to_epochs(h, T0, np.arange(3) * 30.0), [1, 2, 2])


def test_gaps_in_the_recording_follow_the_real_onsets():
    # EDF+D: epochs 0-1, a 60-s gap, epochs at 120 and 150 s; the expert scored the gap "?"
    h = hyp(runs([0, 1, -1, -1, 2, 3]))
    np.testing.assert_array_equal(align_to_epochs(h, T0, np.array([0.0, 30.0, 120.0, 150.0])), [0, 1, 2, 3])


def test_clock_only_start_aligns_by_time_of_day_across_midnight():
    # NSRR ClockTime "00.00.00 00.01.00": a time of day, 1 min after a recording that began 23:59:00
    psg = dt.datetime(2021, 3, 4, 23, 59, 0)
    h = hyp(runs([2, 3]), start=dt.datetime(1985, 1, 1, 0, 1, 0), clock_only=True)
    assert start_offset_s(h, psg) == 120.0
    np.testing.assert_array_equal(align_to_epochs(h, psg, np.arange(6) * 30.0), [-1, -1, -1, -1, 2, 3])


def test_no_start_means_the_recording_start():
    h = hyp(runs([0, 2]), start=None)
    assert start_offset_s(h, T0) == 0.0 and start_offset_s(h, None) == 0.0


def test_clock_start_without_recording_start_is_refused():
    with pytest.raises(InputError, match="h.txt: the hypnogram starts at 2021-03-04 22:00:00 by its own clock but the "
                                         "recording's start time is unknown"):
        align_to_epochs(hyp(runs([0])), None, np.arange(2) * 30.0)


def test_no_overlap_is_refused():
    h = hyp(runs([0, 1]), start=T0 + dt.timedelta(hours=3))
    with pytest.raises(InputError, match="does not overlap the recording"):
        align_to_epochs(h, T0, np.arange(10) * 30.0)


def test_misaligned_grid_is_refused():
    h = hyp(runs([0, 1, 2]), start=T0 + dt.timedelta(seconds=10))
    with pytest.raises(InputError, match=r"30-s epochs do not line up.*10\.0 s into an epoch"):
        align_to_epochs(h, T0, np.arange(6) * 30.0)


def test_small_clock_offset_within_tolerance_is_accepted():
    h = hyp(runs([0, 1, 2]), start=T0 + dt.timedelta(seconds=2))
    np.testing.assert_array_equal(align_to_epochs(h, T0, np.arange(4) * 30.0), [0, 1, 2, -1])


def test_twenty_second_scoring_takes_the_greatest_portion():
    # expert 20-s epochs W N1 N2 N2 N3 R; 30-s epochs: [0,30) 20 s W + 10 s N1 -> W; [30,60) 10 s N1 + 20 s N2
    # -> N2; [60,90) 20 s N2 + 10 s N3 -> N2; [90,120) 10 s N3 + 20 s REM -> REM
    h = hyp(runs([0, 1, 2, 2, 3, 4], epoch_s=20.0), epoch_s=20.0)
    np.testing.assert_array_equal(align_to_epochs(h, T0, np.arange(4) * 30.0), [0, 2, 2, 4])


def test_five_second_scoring_majority_and_ties():
    # epoch 0: 4 x N2, 2 x N1 -> N2; epoch 1: 3 x N3, 3 x N2 -> tie -> not compared; epoch 2: 6 x REM
    codes = [2, 2, 1, 2, 1, 2] + [3, 2, 3, 2, 3, 2] + [4] * 6
    h = hyp(runs(codes, epoch_s=5.0), epoch_s=5.0)
    np.testing.assert_array_equal(align_to_epochs(h, T0, np.arange(3) * 30.0), [2, UNKNOWN, 4])


def test_scoring_epoch_is_inferred_from_the_intervals():
    assert scoring_epoch_s(hyp([(0.0, 60.0, 0), (60.0, 90.0, 2), (150.0, 30.0, 1)])) == 30.0
    assert scoring_epoch_s(hyp([(0.0, 40.0, 0), (40.0, 20.0, 2)])) == 20.0
    assert scoring_epoch_s(hyp([(0.0, 40.0, 0)], epoch_s=20.0)) == 20.0


def test_nothing_scored_is_refused():
    with pytest.raises(InputError, match="scores no epoch of the recording as W, N1, N2, N3 or REM"):
        align_to_epochs(hyp(runs([-1, -1])), T0, np.arange(2) * 30.0)


def test_expert_period_of_a_hypnogram_starting_at_lights_off():
    h = hyp(runs([0, 1, 2, 2]), start=T0 + dt.timedelta(minutes=1))  # scored 60..180 s
    assert expert_period(h, T0, np.arange(10) * 30.0) == (60.0, 180.0)


def test_expert_period_refuses_a_hypnogram_that_stops_early():
    h = hyp(runs([0, 1, 2]))  # same start as the recording, 3 of 6 epochs
    with pytest.raises(InputError, match="hypnogram does not cover the recording: 3 of 6 30-s epochs"):
        expert_period(h, T0, np.arange(6) * 30.0)
    assert expert_period(h, T0, np.arange(6) * 30.0, lights_on_s=90.0) == (0.0, 90.0)


def test_expert_period_requires_cover_of_the_given_lights():
    h = hyp(runs([0, 1, 2, 2]), start=T0 + dt.timedelta(minutes=1))
    with pytest.raises(InputError, match="does not cover"):
        expert_period(h, T0, np.arange(10) * 30.0, lights_off_s=0.0)


def test_reference_labels_compare_only_the_span_an_expert_scored_from_lights_off():
    from neurotrio.sleep.score import reference_labels

    # the expert scored 4 epochs from 22:01 (lights-off); the PSG runs 10 epochs from 22:00
    h = hyp(runs([0, 1, 2, 2]), start=T0 + dt.timedelta(minutes=1))
    labels, keep = reference_labels(h, 10, psg_start=T0, trim_wake_min=None)
    np.testing.assert_array_equal(labels, [-1, -1, 0, 1, 2, 2, -1, -1, -1, -1])
    np.testing.assert_array_equal(keep, [2, 3, 4, 5])


def test_reference_labels_lights_restrict_the_comparison():
    from neurotrio.sleep.score import reference_labels

    h = hyp(runs([0, 0, 1, 2, 2, 3, 4, 0]))
    labels, keep = reference_labels(h, 8, psg_start=T0, trim_wake_min=None, lights_off_s=60.0, lights_on_s=210.0)
    np.testing.assert_array_equal(keep, [2, 3, 4, 5, 6])
    assert (labels[[0, 1, 7]] == -1).all()


def test_reference_labels_refuse_a_hypnogram_that_stops_early():
    from neurotrio.sleep.score import reference_labels

    with pytest.raises(InputError, match="h.txt: hypnogram does not cover the recording: 3 of 6"):
        reference_labels(hyp(runs([0, 1, 2])), 6, psg_start=T0)


def test_reference_labels_without_a_recording_clock_say_so(caplog):
    from neurotrio.sleep.score import reference_labels

    with caplog.at_level("WARNING"):
        labels, _ = reference_labels(hyp(runs([0, 1])), 2, trim_wake_min=None)
    np.testing.assert_array_equal(labels, [0, 1])
    assert "no recording start given" in caplog.text and "h.txt" in caplog.text


def test_expert_period_of_a_clockless_hypnogram_whose_first_onset_is_lights_off():
    # MNE CSV in seconds (no clock): scoring starts at 60 s and ends at 180 s of a 10-epoch recording
    h = hyp([(60.0, 60.0, 0), (120.0, 60.0, 2)], start=None)
    assert expert_period(h, T0, np.arange(10) * 30.0) == (60.0, 180.0)
