"""Figures of the few-shot commands (matplotlib, Agg backend, written atomically by ``core.plots``).

* :func:`plot_training_curves` — ``fewshot train``: training loss and validation accuracy per epoch of
  pre-training and per validation check of fine-tuning, the kept model marked.
* :func:`plot_eval_accuracy` — ``fewshot eval``: mean test accuracy per setting with its 95 % CI.
* :func:`plot_energy` — ``fewshot energy``: per-layer energy of the SNN (both counting rules) and its
  ANN twin.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurotrio.core.plots import _pyplot, save_figure


def kept_point(record: dict[str, Any]) -> tuple[str, int] | None:
    """Which stage and 1-based epoch the saved model comes from: ``("pretrain" | "finetune", epoch)``.

    Both stages restore their best validation epoch; fine-tuning is kept only when it beat the
    pre-trained model (``record["kept"]``, see ``train.train_model``). None when nothing was validated.
    """
    pre, ft = record.get("pretrain_history") or [], record.get("finetune_history") or []
    if ft and record.get("kept") == "finetuned":
        return "finetune", int(max(ft, key=lambda e: e["val_acc"])["epoch"])
    if pre:
        return "pretrain", int(max(pre, key=lambda e: e["val_acc"])["epoch"])
    return None


def _stage(ax, history: list[dict[str, float]], title: str, xlabel: str, scale: int, kept: int | None,
           start_val: float | None = None) -> None:
    if not history:
        ax.text(0.5, 0.5, f"{title}: skipped", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    x = np.array([e["epoch"] for e in history]) * scale
    loss_ax, acc_ax = ax, ax.twinx()
    loss_ax.plot(x, [e["train_loss"] for e in history], "o-", color="tab:blue", label="training loss")
    acc = [100 * e["val_acc"] for e in history]
    acc_ax.plot(x, acc, "s-", color="tab:orange", label="validation accuracy")
    if start_val is not None:
        acc_ax.axhline(100 * start_val, color="grey", ls="--", lw=1, label="validation before fine-tuning")
    if kept is not None:
        i = [e["epoch"] for e in history].index(kept)
        acc_ax.plot([x[i]], [acc[i]], "*", ms=16, color="tab:red", label=f"kept ({acc[i]:.1f} %)")
    from matplotlib.ticker import MaxNLocator

    if len(x) <= 12:  # ticks at the epochs themselves: MaxNLocator falls back to 0.95, 0.975, ... for one point
        loss_ax.set_xticks(x)
    else:
        loss_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_ax.set_xlabel(xlabel)
    loss_ax.set_ylabel("training loss", color="tab:blue")
    acc_ax.set_ylabel("validation accuracy %", color="tab:orange")
    loss_ax.set_title(title)
    lines = loss_ax.get_legend_handles_labels()
    more = acc_ax.get_legend_handles_labels()
    acc_ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")


def plot_training_curves(record: dict[str, Any], path: str | Path, finetune_episodes_per_check: int = 1,
                         title: str = "") -> Path:
    """Loss and validation accuracy per epoch, pre-training and fine-tuning side by side; kept model starred.

    Args:
        record: the training record (``train.json``'s ``metrics``): ``pretrain_history`` and
            ``finetune_history`` lists of ``{"epoch", "train_loss", "val_acc"}``, ``kept`` and
            ``finetune_start_val_acc``.
        finetune_episodes_per_check: episodes between fine-tuning validations (x axis in episodes).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    kept = kept_point(record)
    _stage(axes[0], record.get("pretrain_history") or [], "pre-training", "epoch", 1,
           kept[1] if kept and kept[0] == "pretrain" else None)
    _stage(axes[1], record.get("finetune_history") or [], "episodic fine-tuning", "episodes",
           max(1, finetune_episodes_per_check), kept[1] if kept and kept[0] == "finetune" else None,
           record.get("finetune_start_val_acc"))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_eval_accuracy(report: dict[str, Any], settings: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Bar per setting: mean test accuracy (%) with its 95 % CI as an error bar, the value written on it."""
    plt = _pyplot()
    means = [report[s]["mean"] for s in settings]
    cis = [report[s]["ci95"] for s in settings]
    fig, ax = plt.subplots(figsize=(1.3 * len(settings) + 2.5, 4))
    bars = ax.bar(list(settings), means, yerr=cis, capsize=6, color="tab:blue", alpha=0.8)
    for bar, m, c in zip(bars, means, cis):
        ax.text(bar.get_x() + bar.get_width() / 2, m + c + 1, f"{m:.1f} ± {c:.1f}", ha="center", fontsize=9)
    ax.set_ylim(0, 110)
    ax.set_ylabel("test accuracy % (95 % CI)")
    episodes = sorted({report[s]["episodes"] for s in settings})
    ax.set_xlabel(f"setting ({', '.join(map(str, episodes))} episodes each)")
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_energy(snn: Any, ann: Any, path: str | Path, strict: Any = None, title: str = "") -> Path:
    """Per-layer energy (nJ per image, log scale) of the SNN and its ANN twin, grouped bars.

    Args:
        snn, ann: ``energy.EnergyReport`` of the SNN (paper's rule) and of the ANN twin.
        strict: the SNN's ``EnergyReport`` under the strict rule, drawn as a third bar when given.
    """
    plt = _pyplot()
    names = [x.name for x in snn.layers] + [x.name for x in ann.layers if x.name not in {y.name for y in snn.layers}]
    series = [("ANN twin (MACs)", ann, "tab:grey"), ("SNN, paper's rule", snn, "tab:blue")]
    if strict is not None:
        series.append(("SNN, strict rule", strict, "tab:orange"))
    width = 0.8 / len(series)
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(9, 0.25 * len(names) * len(series) + 1.5))
    for k, (label, rep, colour) in enumerate(series):
        by_name = {x.name: x.energy_pj / 1e3 for x in rep.layers}
        vals = [max(by_name.get(n, 0.0), 1e-6) for n in names]
        ax.barh(y + k * width, vals, height=width, color=colour,
                label=f"{label}: {rep.total_pj / 1e6:.4f} µJ")
    ax.set_yticks(y + width * (len(series) - 1) / 2, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("energy per image, nJ (log scale; 4.6 pJ/MAC, 0.9 pJ/AC, 45 nm)")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = ["kept_point", "plot_energy", "plot_eval_accuracy", "plot_training_curves"]
