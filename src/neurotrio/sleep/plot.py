"""The hypnogram figure: stages on the recording's clock (24-h), lights-off/on marked, gaps shaded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from neurotrio.sleep.spec import STAGES

ORDER = np.array([0, 4, 1, 2, 3])
"""Stage codes drawn top to bottom: W, REM, N1, N2, N3 (the usual clinical hypnogram layout)."""


def runs(onset_s: np.ndarray, epoch_s: float) -> list[tuple[int, int]]:
    """Index ranges ``[a, b)`` of contiguous epochs (the next onset is one epoch later).

    Epochs of an EDF+D file jump over its acquisition gaps; each run is drawn (and written) on its own.
    """
    onset_s = np.asarray(onset_s, float)
    if onset_s.size == 0:
        return []
    cuts = np.flatnonzero(np.abs(np.diff(onset_s) - epoch_s) > 1e-6) + 1
    edges = [0, *cuts.tolist(), onset_s.size]
    return list(zip(edges[:-1], edges[1:]))


def plot_hypnogram(stages: np.ndarray, proba: np.ndarray, epoch_s: float, path: str | Path,
                   reference: np.ndarray | None = None, title: str = "", onset_s: np.ndarray | None = None,
                   start: dt.datetime | None = None, lights_off_s: float | None = None,
                   lights_on_s: float | None = None) -> Path:
    """Hypnogram (stage per epoch, expert in grey when given) above stacked class probabilities.

    Args:
        stages: int (n_epochs,) predicted stage codes.
        proba: (n_epochs, 5) probabilities.
        epoch_s: epoch length, s.
        path: output PNG path (written atomically).
        reference: int (n_epochs,) expert codes, -1 where unscored.
        title: figure title.
        onset_s: (n_epochs,) true epoch onsets from the recording start, s (default: contiguous epochs).
            Gaps between runs are shaded and nothing is drawn over them.
        start: recording start; the x-axis then shows the clock (24-h, HH:MM), else hours from start.
        lights_off_s, lights_on_s: marked with vertical lines, s from the start.
    """
    from neurotrio.core.plots import _pyplot, save_figure

    plt = _pyplot()
    stages = np.asarray(stages)
    onset_s = np.arange(stages.size) * float(epoch_s) if onset_s is None else np.asarray(onset_s, float)
    level = np.argsort(ORDER)
    if start is not None:
        import matplotlib.dates as mdates

        def x_of(t: np.ndarray) -> np.ndarray:
            return mdates.date2num(start) + np.asarray(t, float) / 86400.0
        xlabel = f"clock time (recording start {start:%Y-%m-%d %H:%M:%S})"
    else:
        def x_of(t: np.ndarray) -> np.ndarray:
            return np.asarray(t, float) / 3600.0
        xlabel = "time from recording start (h)"
    fig, (ax, axp) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    pieces = runs(onset_s, epoch_s)
    for k, (a, b) in enumerate(pieces):
        edges = x_of(np.append(onset_s[a:b], onset_s[b - 1] + epoch_s))
        if reference is not None:
            ref = np.asarray(reference[a:b])
            ref = np.where(ref >= 0, level[np.clip(ref, 0, 4)], np.nan).astype(float)
            ax.stairs(ref, edges, color="0.6", lw=2.5, label="expert" if k == 0 else None, baseline=None)
        ax.stairs(level[stages[a:b]].astype(float), edges, color="C0", lw=1,
                  label="ULW-SleepNet" if k == 0 else None, baseline=None)
        axp.stackplot(edges, np.vstack([proba[a:b], proba[b - 1:b]]).T, step="post",
                      labels=STAGES if k == 0 else (), colors=[f"C{i}" for i in range(len(STAGES))])
    for k, ((_, b), (a2, _)) in enumerate(zip(pieces[:-1], pieces[1:])):
        for axis in (ax, axp):
            axis.axvspan(x_of(onset_s[b - 1] + epoch_s), x_of(onset_s[a2]), color="0.85", zorder=0,
                         label="gap (not recorded)" if k == 0 and axis is ax else None)
    for t, name, style in ((lights_off_s, "lights off", "--"), (lights_on_s, "lights on", ":")):
        if t is not None:
            for axis in (ax, axp):
                axis.axvline(x_of(t), color="k", ls=style, lw=1, label=name if axis is ax else None)
    ax.set_yticks(range(5), [STAGES[i] for i in ORDER])
    ax.set_ylim(4.5, -0.5)
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    axp.set_ylim(0, 1)
    axp.set_ylabel("probability")
    axp.set_xlabel(xlabel)
    axp.legend(loc="upper right", fontsize=7, ncol=5)
    if start is not None:
        import matplotlib.dates as mdates

        axp.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=14))  # whole hours / minutes
        axp.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    return save_figure(fig, path)
