"""UF1 and UAR count classes by one rule: the classes present in the truth (MEGC2019's rule)."""

from __future__ import annotations

import numpy as np
import pytest

from neurotrio.core.metrics import confusion_matrix, macro_f1, uar, uf1
from neurotrio.microexpression.report import metrics_of


def test_fold_with_only_negative_samples_hand_computed():
    # 6 negatives; predicted 4 negative, 1 positive, 1 surprise.
    # negative: TP 4, FN 2, FP 0 → F1 = 2·4 / (2·4 + 2 + 0) = 0.8; recall 4/6.
    y, p = [0] * 6, [0, 0, 0, 0, 1, 2]
    cm = confusion_matrix(y, p, 3)
    assert uf1(cm) == pytest.approx(0.8)
    assert uar(cm) == pytest.approx(4 / 6)
    assert macro_f1(cm) == pytest.approx(0.8 / 3)        # the sleep rule (truth or prediction) differs
    m = metrics_of(np.array(y), np.array(p), 3)
    assert m["uf1"] == pytest.approx(0.8) and m["uar"] == pytest.approx(4 / 6)


def test_all_classes_present_hand_computed():
    # truth 0 0 0 1 1 2, prediction 0 0 1 1 2 2
    # class 0: TP 2 FP 0 FN 1 → F1 4/5; class 1: TP 1 FP 1 FN 1 → 1/2; class 2: TP 1 FP 1 FN 0 → 2/3
    cm = confusion_matrix([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], 3)
    assert uf1(cm) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert uf1(cm) == pytest.approx(macro_f1(cm))
    assert uar(cm) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
