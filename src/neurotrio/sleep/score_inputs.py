"""Checks and conversions of what :func:`neurotrio.sleep.score.score_recording` is given, done before the
costly part: option values, a hypnogram file given as the recording, a per-epoch stage sequence as the
reference, and a name for the source. Torch- and MNE-free; imports nothing from ``score``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neurotrio.core.errors import ConfigError, InputError


def check_options(trim_wake_min: float | None, reference_epoch_s: float | None) -> None:
    """Numbers that cannot be right are refused before any work (one line, naming the option)."""
    import math

    if trim_wake_min is not None and not (math.isfinite(trim_wake_min) and trim_wake_min >= 0):
        raise ConfigError(f"trim_wake_min (--trim-wake-min) must be a number of minutes >= 0, got {trim_wake_min!r}; "
                          "compare on every scored epoch with --compare-all (trim_wake_min=None)")
    if reference_epoch_s is not None and not (math.isfinite(reference_epoch_s) and reference_epoch_s > 0):
        raise ConfigError(f"reference_epoch_s (--reference-epoch-s) must be a number of seconds > 0, got "
                          f"{reference_epoch_s!r} (30 for AASM scoring; 20 or 5 for older scorings)")


def refuse_annotation_only(psg: Any) -> None:
    """An EDF+ file holding only annotations (a hypnogram given as the recording) is refused in one line."""
    if not isinstance(psg, (str, Path)) or Path(psg).suffix.lower() not in (".edf", ".bdf", ".rec"):
        return
    from neurotrio.core.errors import NeurotrioError
    from neurotrio.sleep.edfheader import read_edf_header

    try:
        signals = read_edf_header(psg).signals
    except NeurotrioError:
        return  # unreadable: the reader says why
    if signals and all(s.is_annotation for s in signals):
        raise InputError(psg, "holds only annotations, no signal: is it a hypnogram? Give the recording, and "
                              "this file as --reference (Python: reference=)")


def is_sequence(reference: Any) -> bool:
    """A per-epoch stage sequence (list, tuple, NumPy array, pandas Series, ``yasa.Hypnogram``), not a path
    or annotations."""
    if isinstance(reference, (str, bytes, Path)) or type(reference).__name__ == "Annotations":
        return False
    return isinstance(reference, (list, tuple, np.ndarray)) or _is_yasa(reference) or (
        hasattr(reference, "__len__") and hasattr(reference, "dtype"))


def _is_yasa(reference: Any) -> bool:
    return type(reference).__name__ == "Hypnogram" and hasattr(reference, "hypno") and hasattr(
        reference, "sampling_frequency")


def stage_sequence(reference: Any, epoch_s: float | None, codes: str | None) -> Any:
    """An expert hypnogram from a per-epoch sequence of stages that starts with the recording.

    Read by the stage-list reader (:func:`neurotrio.sleep.hypnogram_lists.read_stage_table`): the same
    names, numeric code systems and errors as a one-stage-per-line file. A ``yasa.Hypnogram`` brings its
    own epoch (``sampling_frequency``, 1/30 Hz for 30-s epochs) and, when set, its clock start (``start``);
    its stage names (WAKE, N1, N2, N3, REM, ART, UNS) are YASA's.
    """
    import datetime as dt

    from neurotrio.sleep.hypnogram_lists import read_stage_table

    start = None
    if _is_yasa(reference):
        own = 1.0 / float(reference.sampling_frequency)
        if epoch_s and abs(epoch_s - own) > 1e-6:
            raise ConfigError(f"reference_epoch_s={epoch_s:g} differs from the yasa.Hypnogram's own epoch "
                              f"({own:g} s); leave it out")
        epoch_s, first = own, getattr(reference, "start", None)
        if first is not None:
            start = first.to_pydatetime() if hasattr(first, "to_pydatetime") else dt.datetime.fromisoformat(str(first))
        reference = list(reference.hypno)
    values = np.asarray(reference).ravel()
    if values.size == 0:
        raise InputError("reference", "the stage sequence is empty")
    if not epoch_s:
        raise InputError("reference", "a per-epoch stage sequence does not say its epoch length: give "
                                      "reference_epoch_s (30 for AASM scoring; 20 or 5 for older scorings)")
    cells = [["" if v is None or (isinstance(v, float) and np.isnan(v)) else
              str(int(v)) if isinstance(v, (int, np.integer)) or (isinstance(v, (float, np.floating)) and
                                                                  float(v).is_integer()) else str(v)]
             for v in values.tolist()]
    return read_stage_table("reference (stage sequence)", cells, epoch_s=epoch_s, start=start,
                            codes=codes)  # type: ignore[arg-type]


def source_name(source: Any) -> str:
    """A file name for a source (path, Raw with its file), else what it is ("mne.Annotations", ...)."""
    if isinstance(source, (str, Path)):
        return str(source)
    if type(source).__name__ == "Annotations":
        return "mne.Annotations"
    if _is_yasa(source):
        return "yasa.Hypnogram"
    if isinstance(source, Mapping) and source.get("path"):
        return str(source["path"])
    names = getattr(source, "filenames", None)
    if names and names[0]:
        return str(names[0])
    if is_sequence(source):
        return "stage sequence"
    return "recording"
