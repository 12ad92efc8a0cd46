"""Comparing a staged night with an expert and computing its statistics (used by
:func:`neurotrio.sleep.score.score_recording`).

The expert's stages are aligned to the epochs by clock time
(:func:`neurotrio.sleep.hypnogram.align_to_epochs`); the comparison and the statistics use the analysed
period (lights-off to lights-on, see :func:`neurotrio.sleep.statistics.sleep_statistics` for the rule that
an epoch belongs to it when its middle lies inside).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.result import ScoreResult
from neurotrio.sleep.spec import STAGES


def agreement(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, Cohen's kappa, per-class F1 and confusion matrix (rows: expert)."""
    from neurotrio.core.metrics import classification_report

    return classification_report(y_true, y_pred, list(STAGES))


def compare_with_expert(result: ScoreResult, hyp: Any, name: str, trim_wake_min: float | None) -> None:
    """Align the expert's stages to the epochs by clock time and compare on the analysed period.

    The period is lights-off..lights-on when given; otherwise, when the expert's scoring starts later than
    the recording by its own clock (scored from lights-off), the expert's scored span, which then becomes
    the analysed period of the statistics too (see
    :func:`neurotrio.sleep.hypnogram.expert_period`).
    """
    from neurotrio.sleep.hypnogram import align_to_epochs, expert_period
    from neurotrio.sleep.sleepedf import select_epochs

    labels = np.asarray(align_to_epochs(hyp, result.start, result.onset_s, result.epoch_s, name), np.int64)
    off, on = expert_period(hyp, result.start, result.onset_s, result.epoch_s, result.lights_off_s,
                            result.lights_on_s, name)
    result.notes.append(clock_note(hyp, result, name))
    outside = outside_note(hyp, result, name)
    if outside:
        result.notes.append(outside)
    first, end = float(result.onset_s[0]), float(result.onset_s[-1]) + result.epoch_s
    from_expert = []
    if result.lights_off_s is None and abs(off - first) > 1e-6:
        result.lights_off_s = off
        from_expert.append("starts")
    if result.lights_on_s is None and abs(on - end) > 1e-6:
        result.lights_on_s = on
        from_expert.append("ends")
    if from_expert:  # said once both ends are known
        result.notes.append(f"analysed period {' and '.join(from_expert)} where the expert's scoring does "
                            f"({_span_words(result)}); give --lights-off/--lights-on to choose it")
    result.reference = labels
    span = in_span(result)
    trim = None if trim_wake_min is None else int(round(trim_wake_min * 60 / result.epoch_s))
    keep = select_epochs(np.where(span, labels, -1), trim)
    if keep.size == 0:
        raise InputError(name, "the expert scored no epoch of the recording inside the analysed period "
                               f"({_span_words(result)})")
    result.compared = keep
    result.metrics = agreement(labels[keep], result.stages[keep])
    result.metrics["compared"] = ("expert-scored epochs" + (f", {_span_words(result)}" if not span.all() else "")
                                  + (f", sleep period +- {trim_wake_min:g} min of wake"
                                     if trim_wake_min is not None else ""))


def clock_note(hyp: Any, result: ScoreResult, name: str) -> str:
    """How the expert's hypnogram was put on the recording's clock, in words (always said: an alignment
    from the first sample is never silent)."""
    from pathlib import Path

    from neurotrio.sleep.hypnogram import start_offset_s

    what = f"expert hypnogram {Path(name).name} ({hyp.format})"
    if hyp.start is None:
        return (f"{what} has no clock time: its time 0 is taken as the recording's start"
                + (f" ({result.start:%H:%M:%S})" if result.start else ""))
    offset = start_offset_s(hyp, result.start, name)
    clock = f"{hyp.start:%H:%M:%S}" if hyp.clock_only else f"{hyp.start:%Y-%m-%d %H:%M:%S}"
    where = "at the recording's start" if abs(offset) < 1e-6 else (
        f"{abs(offset):g} s {'after' if offset > 0 else 'before'} the recording's start")
    return f"{what} starts at {clock} by its own clock, {where}; aligned by clock time"


def outside_note(hyp: Any, result: ScoreResult, name: str) -> str:
    """Scored expert time before the recording's first epoch or after its last one (left out of the
    comparison), in words; "" when there is none. A longer hypnogram may be another night's."""
    from pathlib import Path

    from neurotrio.sleep.hypnogram import start_offset_s

    offset = start_offset_s(hyp, result.start, name)
    step = hyp.epoch_s or result.epoch_s
    first, end = float(result.onset_s[0]), float(result.onset_s[-1]) + result.epoch_s
    before = after = 0.0
    for onset, duration, code in hyp.annotations:
        if code < 0:
            continue
        a = onset + offset
        b = a + (duration if duration > 0 else step)
        before += max(0.0, min(b, first) - a)
        after += max(0.0, b - max(a, end))
    parts = [f"{t / 60:g} min {where}" for t, where in ((before, "before the recording's first epoch"),
                                                        (after, "after its last epoch")) if t > 1e-6]
    if not parts:
        return ""
    return (f"expert hypnogram {Path(name).name} scores {' and '.join(parts)}: left out of the comparison "
            "(is it this recording's hypnogram?)")


def in_span(result: ScoreResult) -> np.ndarray:
    """bool (n_epochs,): epochs whose middle lies in the analysed period (the rule of
    :func:`neurotrio.sleep.statistics.sleep_statistics`)."""
    mid = result.onset_s + result.epoch_s / 2
    ok = np.ones(mid.size, bool)
    if result.lights_off_s is not None:
        ok &= mid >= result.lights_off_s
    if result.lights_on_s is not None:
        ok &= mid < result.lights_on_s
    return ok


def _span_words(result: ScoreResult) -> str:
    from neurotrio.sleep.outputs import span_text

    return span_text(result)


def note_in_sample(result: ScoreResult, model: Any) -> None:
    """Say so when epochs scored (and compared) were the model's own training data."""
    from neurotrio.sleep.embedded import in_sample_note, trained_epochs_in

    seen = trained_epochs_in(model, result.start, result.onset_s, result.epoch_s)
    if result.metrics is not None and result.compared is not None:
        n_seen = int(seen[result.compared].sum())
        if n_seen:
            result.notes.append(in_sample_note(model, n_seen, int(result.compared.size)))
            rest = result.compared[~seen[result.compared]]
            result.metrics["in_sample_epochs"] = n_seen
            if rest.size:
                other = agreement(result.reference[rest], result.stages[rest])
                result.metrics["held_out"] = {k: other[k] for k in ("n", "accuracy", "macro_f1", "kappa")}
                result.notes.append(f"on the other {rest.size} compared epochs: accuracy {other['accuracy']:.3f}  "
                                    f"macro-F1 {other['macro_f1']:.3f}  kappa {other['kappa']:.3f}")
    elif seen.any():
        result.notes.append(in_sample_note(model, int(seen.sum()), int(seen.size), "staged epochs"))


def night_statistics(result: ScoreResult) -> dict[str, dict[str, Any] | None]:
    """Sleep statistics of the predicted and (when given) the expert hypnogram on the analysed period."""
    from neurotrio.sleep.statistics import sleep_statistics

    kw = {"onset_s": result.onset_s, "epoch_s": result.epoch_s, "lights_off_s": result.lights_off_s,
          "lights_on_s": result.lights_on_s}
    out: dict[str, dict[str, Any] | None] = {"predicted": sleep_statistics(result.stages, **kw)}
    if result.reference is not None:
        out["expert"] = sleep_statistics(result.reference, **kw)
    return out
