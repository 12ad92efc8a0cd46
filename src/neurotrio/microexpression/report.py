"""LOSO result tables: metrics per variant (pooled, per sub-database, per fold) and their Markdown.

Pooled metrics are computed on all folds' predictions concatenated (as MEGC scores), so a fold with a
single test sample still counts; per-fold metrics and their mean over folds are reported beside them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurotrio.core.metrics import accuracy, confusion_matrix, paired_bootstrap_diff, uar, uf1


def metrics_of(y: np.ndarray, p: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy, UF1 and UAR of predictions ``p`` against labels ``y`` (both (N,) ints)."""
    cm = confusion_matrix(y, p, n_classes)
    return {"n": int(cm.sum()), "accuracy": accuracy(cm), "uf1": uf1(cm), "uar": uar(cm)}


def summarize(records: list[dict[str, Any]], variants: tuple[str, ...], class_names: tuple[str, ...]) -> dict:
    """Per-variant metrics: pooled overall, pooled per sub-database, and per fold (mean over folds too).

    ``records`` holds one dict per test sample: fold, subject, database, label, and ``pred_<variant>``.
    When the STSTNet-like baseline is among the variants, every other variant also gets ``vs_baseline``:
    its pooled UF1 and UAR minus the baseline's with a 95 % subject-level bootstrap interval
    (``core.metrics.paired_bootstrap_diff``), so a difference can be told from the noise of 68 subjects.
    """
    k = len(class_names)
    y = np.array([r["label"] for r in records])
    dbs = np.array([r["database"] for r in records])
    folds = np.array([r["fold"] for r in records])
    out = {}
    for v in variants:
        p = np.array([r[f"pred_{v}"] for r in records])
        per_fold = {str(f): metrics_of(y[folds == f], p[folds == f], k) for f in sorted(set(folds.tolist()))}
        out[v] = {
            "pooled": metrics_of(y, p, k),
            "per_database": {d: metrics_of(y[dbs == d], p[dbs == d], k) for d in sorted(set(dbs.tolist()))},
            "per_fold": per_fold,
            "fold_mean": {m: float(np.nanmean([f[m] for f in per_fold.values()])) for m in ("accuracy", "uf1", "uar")},
            "confusion_matrix": confusion_matrix(y, p, k).tolist(),
        }
    if "ststnet" in variants:                    # each model against the baseline, same test samples
        subjects = np.array([r["subject"] for r in records])
        base = np.array([r["pred_ststnet"] for r in records])
        for v in variants:
            if v != "ststnet":
                p = np.array([r[f"pred_{v}"] for r in records])
                out[v]["vs_baseline"] = {name: paired_bootstrap_diff(y, p, base, subjects, fn, k)
                                         for name, fn in (("uf1", uf1), ("uar", uar))}
    return out


def results_markdown(metrics: dict[str, Any], cfg: Any) -> str:
    """A Markdown table: per variant, pooled and per-database UF1 / UAR / accuracy."""
    from neurotrio.core.results import markdown_table

    dbs = sorted({d for v in cfg.variants for d in metrics[v]["per_database"]})
    headers = ["variant", "UF1", "UAR", "acc"] + [f"{d} UF1/UAR" for d in dbs]
    rows = []
    for v in cfg.variants:
        m = metrics[v]
        rows.append([v, m["pooled"]["uf1"], m["pooled"]["uar"], m["pooled"]["accuracy"]]
                    + [f"{m['per_database'][d]['uf1']:.3f}/{m['per_database'][d]['uar']:.3f}"
                       if d in m["per_database"] else "-" for d in dbs])
    has_delta = any("vs_baseline" in metrics[v] for v in cfg.variants)
    if has_delta:
        headers.append("Δ UF1 vs baseline [95 % CI] / Δ UAR")
        for row, v in zip(rows, cfg.variants):
            d = metrics[v].get("vs_baseline")
            row.append(f"{d['uf1']['diff']:+.3f} [{d['uf1']['lo']:+.3f}, {d['uf1']['hi']:+.3f}] / "
                       f"{d['uar']['diff']:+.3f}" if d else "-")
    run = metrics["_run"]
    names = list(run.get("classes", []))
    cms = ""
    for v in cfg.variants:
        cm = metrics[v]["confusion_matrix"]
        names_v = names or [str(i) for i in range(len(cm))]
        cms += (f"\n\n## Confusion matrix: {v} (pooled; rows true, columns predicted)\n\n"
                + markdown_table(["true \\ predicted", *names_v], [[n, *row] for n, row in zip(names_v, cm)]))
    return (f"# LOSO on {cfg.dataset}: {run['folds']} folds, {run['samples_tested']} test samples, "
            f"{run['wall_s']:.0f} s on {run['device']}\n\nPooled over folds (predictions concatenated). "
            "UF1 and UAR average over the classes present in the truth (MEGC's rule).\n\n"
            + markdown_table(headers, rows)
            + ("\nΔ: the variant's pooled score minus the STSTNet-like baseline's on the same test samples; "
               "95 % interval from 2,000 bootstrap resamples of the test subjects."
               if has_delta else "") + cms + "\n")
