import math

import numpy as np
import pytest

from neurotrio.core.metrics import (
    accuracy,
    classification_report,
    cohen_kappa,
    confusion_matrix,
    macro_f1,
    mean_ci95,
    uar,
)


def test_hand_worked_two_class_example():
    # truth 0 0 0 1 1, predicted 0 0 1 1 0 -> C = [[2, 1], [1, 1]]
    cm = confusion_matrix([0, 0, 0, 1, 1], [0, 0, 1, 1, 0], 2)
    assert cm.tolist() == [[2, 1], [1, 1]]
    assert accuracy(cm) == pytest.approx(0.6)
    # F1: class0 = 2*2/(3+3) = 2/3, class1 = 2*1/(2+2) = 1/2
    assert macro_f1(cm) == pytest.approx((2 / 3 + 1 / 2) / 2)
    # recall: 2/3 and 1/2
    assert uar(cm) == pytest.approx((2 / 3 + 1 / 2) / 2)
    # kappa: po = .6, pe = (3*3 + 2*2)/25 = .52 -> (.6 - .52)/.48
    assert cohen_kappa(cm) == pytest.approx(0.08 / 0.48)


def test_perfect_and_chance():
    cm = confusion_matrix([0, 1, 2], [0, 1, 2], 3)
    assert accuracy(cm) == 1 and cohen_kappa(cm) == 1 and macro_f1(cm) == 1
    assert cohen_kappa(confusion_matrix([0, 1, 0, 1], [0, 0, 1, 1], 2)) == pytest.approx(0.0)


def test_kappa_is_undefined_when_both_raters_use_one_class_only():
    # p_e = 1 (every epoch W for both): kappa is 0/0, not a perfect 1.0
    assert np.isnan(cohen_kappa(confusion_matrix([0, 0, 0], [0, 0, 0], 5)))
    # one rater varies: defined again (p_o = 2/3, p_e = 2/3 -> 0)
    assert cohen_kappa(confusion_matrix([0, 0, 0], [0, 0, 1], 5)) == pytest.approx(0.0)


def test_absent_class_is_ignored_by_macro_scores():
    rep = classification_report([0, 0, 1], [0, 0, 1], ["a", "b", "c"])
    assert rep["macro_f1"] == 1.0 and rep["per_class_f1"]["c"] is None


def test_ci95():
    mean, half = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and half == pytest.approx(1.96 * np.std([1, 2, 3, 4], ddof=1) / 2)
    assert math.isnan(mean_ci95([1.0])[1])


def test_paired_bootstrap_difference_of_two_predictors():
    from neurotrio.core.metrics import paired_bootstrap_diff, uf1

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    groups = np.repeat(np.arange(30), 10)
    same = paired_bootstrap_diff(y, y, y, groups, uf1, 3, n_boot=200)
    assert same == {"diff": 0.0, "lo": 0.0, "hi": 0.0, "p_le_0": 1.0}
    noisy = np.where(rng.random(300) < 0.5, y, (y + 1) % 3)          # half of the samples wrong
    better = paired_bootstrap_diff(y, y, noisy, groups, uf1, 3, n_boot=200)
    assert better["diff"] > 0.3 and better["lo"] > 0.3 and better["p_le_0"] == 0.0
    worse = paired_bootstrap_diff(y, noisy, y, groups, uf1, 3, n_boot=200)
    assert worse["diff"] == -better["diff"] and worse["hi"] < 0
