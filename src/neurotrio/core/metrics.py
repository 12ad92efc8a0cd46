"""Classification metrics from a confusion matrix: accuracy, macro-F1, UF1, Cohen's kappa, UAR.

Written on NumPy (no scikit-learn dependency); each is a few lines of a textbook formula.

Which classes a macro average counts:
- ``uf1`` and ``uar`` (micro-expression scores) both average over the classes present in the truth —
  one rule for both, MEGC2019's (See et al., FG 2019: UF1 = mean over classes of F1_c, UAR = mean over
  classes of recall_c, the classes being those of the ground truth; on a pooled composite all are
  present). A class that is predicted but absent from the truth adds false positives to the F1 of the
  true classes, not a class of its own.
- ``macro_f1`` (sleep staging) averages over classes present in the truth or the prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Counts C[i, j] of true class i predicted as j, shape (n_classes, n_classes)."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy(cm: np.ndarray) -> float:
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    """F1 of each class; a class absent from both truth and prediction gets NaN."""
    tp = np.diag(cm).astype(float)
    denom = cm.sum(0) + cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over classes present in truth or prediction (UF1 in micro-expression papers)."""
    f1 = per_class_f1(cm)
    return float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan")


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    support = cm.sum(1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def uar(cm: np.ndarray) -> float:
    """Unweighted average recall over classes present in the truth."""
    r = per_class_recall(cm)
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")


def uf1(cm: np.ndarray) -> float:
    """Unweighted F1: mean F1 over the classes present in the truth (MEGC's rule, the same as ``uar``'s)."""
    f1 = per_class_f1(cm)
    present = cm.sum(1) > 0
    return float(np.mean(f1[present])) if present.any() else float("nan")


def cohen_kappa(cm: np.ndarray) -> float:
    """Cohen's kappa (Cohen 1960) of a confusion matrix: (p_o - p_e) / (1 - p_e).

    NaN when it is undefined: no samples, or both raters used one and the same class only (p_e = 1, so
    0 / 0; e.g. a 30-min all-wake period). Agreement there is not "perfect" but unmeasurable, as in
    scikit-learn's ``cohen_kappa_score``.
    """
    total = cm.sum()
    if total == 0:
        return float("nan")
    po = np.trace(cm) / total
    pe = float((cm.sum(0) * cm.sum(1)).sum()) / total**2
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def classification_report(y_true: Any, y_pred: Any, class_names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """All metrics at once, as plain JSON-ready values."""
    cm = confusion_matrix(y_true, y_pred, len(class_names))
    f1 = per_class_f1(cm)
    return {
        "n": int(cm.sum()),
        "accuracy": accuracy(cm),
        "macro_f1": macro_f1(cm),
        "kappa": cohen_kappa(cm),
        "uar": uar(cm),
        "per_class_f1": {c: (None if np.isnan(v) else float(v)) for c, v in zip(class_names, f1)},
        "confusion_matrix": cm.tolist(),
        "classes": list(class_names),
    }


def mean_ci95(values: Any) -> tuple[float, float]:
    """Mean and half-width of the normal 95 % confidence interval (1.96 · sd / √n)."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return float(v.mean()) if v.size else float("nan"), float("nan")
    return float(v.mean()), float(1.96 * v.std(ddof=1) / np.sqrt(v.size))


def paired_bootstrap_diff(y: Any, pred_a: Any, pred_b: Any, groups: Any, metric: Any, n_classes: int,
                          n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Difference metric(a) − metric(b) of two predictors on the same samples, with a cluster bootstrap.

    Whole groups (e.g. LOSO subjects) are resampled with replacement, both predictors on the same resample,
    and the metric (``uf1``, ``uar`` … of a confusion matrix) recomputed on the pooled samples; the 95 %
    interval is the 2.5–97.5 percentiles of the ``n_boot`` differences (Efron & Tibshirani 1993, the
    percentile interval; resampling clusters because samples of one subject are not independent).

    Args:
        y, pred_a, pred_b: (N,) labels and the two predictors' classes; groups: (N,) cluster ids.

    Returns:
        {"diff": observed difference, "lo": 2.5 %, "hi": 97.5 %, "p_le_0": share of resamples ≤ 0}.
    """
    y, pa, pb, g = (np.asarray(v) for v in (y, pred_a, pred_b, groups))
    ids = np.unique(g)
    members = [np.flatnonzero(g == i) for i in ids]
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([members[j] for j in rng.integers(len(ids), size=len(ids))])
        diffs[b] = metric(confusion_matrix(y[idx], pa[idx], n_classes)) - metric(
            confusion_matrix(y[idx], pb[idx], n_classes))
    obs = metric(confusion_matrix(y, pa, n_classes)) - metric(confusion_matrix(y, pb, n_classes))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"diff": float(obs), "lo": float(lo), "hi": float(hi), "p_le_0": float(np.mean(diffs <= 0))}
