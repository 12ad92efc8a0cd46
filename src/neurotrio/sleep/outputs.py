"""Writing and printing a scored night: hypnogram CSV / EDF+ / PNG, statistics CSV, JSON summary, text.

Every output of one night is named ``<stem>.<kind>`` (:data:`OUTPUTS`). A run writes them into a temporary
folder first and moves them in only when all are written; outputs of an earlier run of the same night
that this run does not write (e.g. a PNG after ``--no-plot``) are then removed, so the folder always holds
one run's outputs as a whole, never a mix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.plot import runs
from neurotrio.sleep.result import ScoreResult
from neurotrio.sleep.spec import STAGES

OUTPUTS: dict[str, str] = {"csv": ".hypnogram.csv", "edf": ".hypnogram.edf", "png": ".hypnogram.png",
                           "stats": ".stats.csv", "json": ".score.json"}
"""Output kind -> file name suffix after the night's stem."""
CSV_HEADER = "epoch,onset_s,clock_time,stage," + ",".join(f"p_{s}" for s in STAGES)
EDF_LABELS = ("Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage R")


def stem_of(name: str | Path) -> str:
    """``night.edf`` -> ``night`` (the prefix of every output of that night)."""
    name = Path(str(name)).name
    return name.rsplit(".", 1)[0] if "." in name else name


def check_out_dir(out_dir: str | Path) -> Path:
    """The output folder, refused in one line when it (or a parent) is an existing file.

    Raises:
        InputError: ``out_dir`` or one of its parents is a file.
    """
    out = Path(out_dir)
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            what = "is a file" if p == out else f"is inside {p}, which is a file"
            raise InputError(None, f"{out}: --out {what}; give a folder (created if missing)")
    return out


def hypnogram_annotations(result: ScoreResult) -> list[tuple[float, float, str]]:
    """EDF+ annotations of the staged night on its true onsets: runs of equal stages merged, never across
    a gap of the recording (a gap stays without annotation)."""
    out: list[tuple[float, float, str]] = []
    for a, b in runs(result.onset_s, result.epoch_s):
        for i in range(a, b):
            label = EDF_LABELS[int(result.stages[i])]
            if i > a and out[-1][2] == label:
                onset, duration, _ = out[-1]
                out[-1] = (onset, duration + result.epoch_s, label)
            else:
                out.append((float(result.onset_s[i]), float(result.epoch_s), label))
    return out


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.2f}"
    return str(value)


def statistics_rows(statistics: Mapping[str, Mapping[str, Any] | None]) -> list[list[str]]:
    """Rows ``[statistic, predicted, expert?]`` of the scalar statistics (header first)."""
    pred = statistics.get("predicted") or {}
    exp = statistics.get("expert")
    rows = [["statistic", "predicted"] + (["expert"] if exp is not None else [])]
    for key, value in pred.items():
        if isinstance(value, (Mapping, list, tuple)):
            continue
        rows.append([key, _fmt(value)] + ([_fmt(exp.get(key))] if exp is not None else []))
    return rows


def format_statistics(statistics: Mapping[str, Mapping[str, Any] | None], span: str = "") -> str:
    """The statistics as an aligned text table (predicted and, when given, expert side by side).

    Positions on the clock (``*_s``: lights, sleep onset and end) are left to the CSV and JSON; empty
    cells are statistics that do not exist for that hypnogram (e.g. the latency of an absent stage).
    """
    rows = [r for r in statistics_rows(statistics) if not r[0].endswith("_s")]
    if len(rows) == 1:
        return ""
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"sleep statistics{(' (' + span + ')') if span else ''}; minutes, percent, counts:"]
    lines += ["  " + r[0].ljust(width) + "".join((v[:-3] if v.endswith(".00") else v or "-").rjust(11) for v in r[1:])
              for r in rows]
    return "\n".join(lines)


def format_channels(channels: list[dict[str, Any]]) -> str:
    """For every model input: the file's label read (and its signal number when the reader gives one, as
    ``signal``), its native rate, any alias or conversion."""
    if not channels:
        return ""
    lines = ["channels read (model input <- file label, native rate):"]
    for c in channels:
        rate = c.get("sfreq_hz")
        extra = []
        if c.get("alias"):
            extra.append(f"alias: '{c['label']}' read as '{c['input']}'")
        if c.get("conversion"):
            extra.append(str(c["conversion"]))
        where = ([f"signal {c['signal']}"] if c.get("signal") else []) + ([f"{float(rate):g} Hz"] if rate else [])
        lines.append(f"  {c['input']} <- '{c.get('label')}'" + (f" ({', '.join(where)})" if where else "")
                     + (f"; {'; '.join(extra)}" if extra else ""))
    return "\n".join(lines)


def span_text(result: ScoreResult) -> str:
    """The analysed period in words (clock times when the start is known)."""
    def at(t: float | None, default: str) -> str:
        if t is None:
            return default
        return f"{result.start + dt.timedelta(seconds=t):%H:%M:%S}" if result.start else f"{t:g} s"
    if result.lights_off_s is None and result.lights_on_s is None:
        return "whole recording"
    return f"lights-off {at(result.lights_off_s, 'recording start')} to lights-on {at(result.lights_on_s, 'end')}"


def summary_of(result: ScoreResult, source: str, model: Any = None) -> dict[str, Any]:
    """The JSON summary of a scored night (what ``<stem>.score.json`` holds)."""
    from neurotrio.core.config import to_dict
    from neurotrio.core.seed import provenance

    out: dict[str, Any] = {
        "recording": source, "start": result.start.isoformat() if result.start else None,
        "epoch_s": result.epoch_s, "n_epochs": int(result.stages.size),
        "segments": [{"onset_s": float(o), "duration_s": float(d)} for o, d in result.segments],
        "model": result.model, "channels": result.channels,
        "stage_counts": {s: int((result.stages == i).sum()) for i, s in enumerate(STAGES)},
        "analysed_period": {"lights_off_s": result.lights_off_s, "lights_on_s": result.lights_on_s,
                            "text": span_text(result)},
        "statistics": result.statistics, "metrics": result.metrics, "notes": result.notes,
        "seconds": result.seconds, "provenance": provenance(None)}
    if model is not None:
        out.update(normalization=model.normalization, model_config=to_dict(model.config),
                   model_channels=list(model.channels))
    return out


def write_outputs(result: ScoreResult, source: str | Path, out_dir: str | Path, plot: bool = True,
                  model: Any = None, name: str | None = None) -> dict[str, Path]:
    """Write the night's outputs into ``out_dir`` as one whole (see the module docstring).

    Files (``<stem>`` from ``source``'s name): ``.hypnogram.csv`` (epoch, onset_s: true seconds from the
    recording start, clock_time: ISO, stage, p_W..p_REM), ``.hypnogram.edf`` (EDF+ annotations on the true
    onsets, readable by ``mne.read_annotations`` and EDFbrowser), ``.hypnogram.png``, ``.stats.csv`` and
    ``.score.json``. ``name`` replaces ``<stem>`` (e.g. when two nights share a file name).

    Raises:
        InputError: ``out_dir`` is a file.
    """
    from neurotrio.core.io import atomic_dir, atomic_write_text, write_json
    from neurotrio.sleep.hypnogram import write_annotations_edf
    from neurotrio.sleep.plot import plot_hypnogram

    out = check_out_dir(out_dir)
    stem = name or stem_of(source)
    if not stem or "/" in stem or "\\" in stem or stem in (".", ".."):
        raise InputError(out, f"night name {stem!r} is not a file name")
    with atomic_dir(out) as tmp:
        rows = [f"{i},{t:.1f},{c},{STAGES[s]}," + ",".join(f"{p:.5f}" for p in pr)
                for i, (t, c, s, pr) in enumerate(zip(result.onset_s, result.clock(), result.stages, result.proba))]
        files = {"csv": atomic_write_text(tmp / f"{stem}{OUTPUTS['csv']}", "\n".join([CSV_HEADER, *rows]) + "\n")}
        files["edf"] = write_annotations_edf(tmp / f"{stem}{OUTPUTS['edf']}", hypnogram_annotations(result),
                                             start=result.start)
        if plot:
            files["png"] = plot_hypnogram(result.stages, result.proba, result.epoch_s, tmp / f"{stem}{OUTPUTS['png']}",
                                          reference=result.reference, title=Path(str(source)).name,
                                          onset_s=result.onset_s, start=result.start,
                                          lights_off_s=result.lights_off_s, lights_on_s=result.lights_on_s)
        if result.statistics:
            text = "\n".join(",".join(r) for r in statistics_rows(result.statistics)) + "\n"
            files["stats"] = atomic_write_text(tmp / f"{stem}{OUTPUTS['stats']}", text)
        written = {k: out / v.name for k, v in files.items()}
        files["json"] = write_json(tmp / f"{stem}{OUTPUTS['json']}", {
            **summary_of(result, str(source), model), "files": sorted(p.name for p in written.values())})
    for kind, suffix in OUTPUTS.items():  # an earlier run's output this run did not write is stale
        if kind not in files and (out / f"{stem}{suffix}").is_file():
            (out / f"{stem}{suffix}").unlink()
    return {k: out / v.name for k, v in files.items()}


def format_agreement(metrics: Mapping[str, Any]) -> str:
    """A short human-readable block: one summary line and the confusion matrix."""
    cm = np.asarray(metrics["confusion_matrix"])
    lines = [f"agreement with the expert on {metrics['n']} epochs: accuracy {metrics['accuracy']:.3f}  "
             f"macro-F1 {metrics['macro_f1']:.3f}  kappa {metrics['kappa']:.3f}",
             "confusion matrix (rows: expert, columns: predicted)",
             "        " + "".join(f"{s:>6}" for s in STAGES)]
    lines += [f"  {s:<6}" + "".join(f"{v:>6d}" for v in row) for s, row in zip(STAGES, cm)]
    return "\n".join(lines)


def format_result(result: ScoreResult, source: str) -> str:
    """What ``neurotrio sleep score`` prints for one night (without the file list)."""
    counts = ", ".join(f"{s} {int((result.stages == i).sum())}" for i, s in enumerate(STAGES))
    lines = [f"staged {result.stages.size} epochs of {Path(str(source)).name} in {result.seconds.get('stage', 0):.2f} s: "
             f"{counts}", f"model: {result.model}"]
    if result.start is not None:
        lines.append(f"recording start {result.start:%Y-%m-%d %H:%M:%S}")
    if len(result.segments) > 1:
        gaps = [f"{o1 + d1:g}-{o2:g} s" for (o1, d1), (o2, _) in zip(result.segments[:-1], result.segments[1:])]
        lines.append(f"{len(result.segments)} recorded pieces; gaps (no epochs staged): {', '.join(gaps)}")
    if result.channels:
        lines.append(format_channels(result.channels))
    stats = format_statistics(result.statistics, span_text(result))
    if stats:
        lines.append(stats)
    if result.metrics is not None:
        lines.append(format_agreement(result.metrics) + f"\n(compared: {result.metrics.get('compared', '')})")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
