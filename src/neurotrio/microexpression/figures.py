"""Figures of a LOSO run, written beside ``results.json`` by ``run_loso`` (matplotlib, Agg backend).

- ``confusion_<variant>.png``: one panel pooled over all folds and one per sub-database, counts with the
  row-normalised recall in brackets (rows: true class, columns: predicted class).
- ``fold_uf1.png``: a strip plot of per-fold UF1, one column per variant, one dot per fold (LOSO
  subject), coloured by sub-database; the pooled UF1 is marked by a bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neurotrio.core.metrics import confusion_matrix


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panel(ax, cm: np.ndarray, names: tuple[str, ...], title: str) -> None:
    rec = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(rec, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{cm[i, j]}\n({rec[i, j]:.2f})", ha="center", va="center", fontsize=7,
                    color="white" if rec[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted", fontsize=7)
    ax.set_ylabel("true", fontsize=7)
    ax.set_title(title, fontsize=8)


def confusion_figures(records: list[dict[str, Any]], variants: tuple[str, ...], names: tuple[str, ...],
                      out_dir: Path) -> list[Path]:
    """One ``confusion_<variant>.png`` per variant (pooled + per database); returns the written paths.

    ``records``: the per-test-sample dicts of ``run_loso`` (integer ``label`` and ``pred_<variant>``).
    """
    plt = _plt()
    y = np.array([r["label"] for r in records])
    dbs = np.array([r["database"] for r in records])
    groups = [("pooled", np.ones(len(y), bool))] + [(d, dbs == d) for d in sorted(set(dbs.tolist()))]
    paths = []
    for v in variants:
        p = np.array([r[f"pred_{v}"] for r in records])
        fig, axes = plt.subplots(1, len(groups), figsize=(2.8 * len(groups), 3.0), squeeze=False)
        for ax, (name, m) in zip(axes[0], groups):
            _panel(ax, confusion_matrix(y[m], p[m], len(names)), names, f"{v}: {name} (n={int(m.sum())})")
        fig.tight_layout()
        path = out_dir / f"confusion_{v}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def fold_strip_plot(metrics: dict[str, Any], records: list[dict[str, Any]], variants: tuple[str, ...],
                    out_dir: Path) -> Path:
    """``fold_uf1.png``: per-fold UF1 of every variant (dots, jittered, coloured by database)."""
    plt = _plt()
    db_of = {str(r["fold"]): r["database"] for r in records}
    dbs = sorted(set(db_of.values()))
    colours = dict(zip(dbs, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(1.3 * len(variants) + 1.5, 3.6))
    for i, v in enumerate(variants):
        folds = metrics[v]["per_fold"]
        for f, m in folds.items():
            ax.scatter(i + rng.uniform(-0.18, 0.18), m["uf1"], s=12, alpha=0.7, color=colours.get(db_of.get(f), "grey"))
        ax.hlines(metrics[v]["pooled"]["uf1"], i - 0.3, i + 0.3, color="black", lw=2)
    for d in dbs:
        ax.scatter([], [], color=colours[d], label=d, s=12)
    ax.set_xticks(range(len(variants)), list(variants))
    ax.set_ylabel("UF1 of the fold (one dot per LOSO subject)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("per-fold UF1; bar: pooled UF1", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = out_dir / "fold_uf1.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
