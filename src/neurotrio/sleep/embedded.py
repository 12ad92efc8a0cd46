"""The embedded models and the choice among them for a night's channels.

Three ULW-SleepNet models ship with neurotrio, all trained by ``benchmarks/make_sleep_demo.py`` with
the same recipe (same night, split, optimiser, 50 epochs, seed 32) on Sleep-EDF SC4001, differing only
in their inputs:

========= ==================================================== ======================================
name      inputs                                               for
========= ==================================================== ======================================
psg       EEG Fpz-Cz, EEG Pz-Oz, EOG horizontal, EMG submental a full PSG (Sleep-EDF's montage)
eeg-eog   EEG Fpz-Cz, EOG horizontal                           EEG + EOG without EMG (as YASA allows)
eeg       EEG Fpz-Cz                                           one frontal EEG (headbands, wearables)
========= ==================================================== ======================================

The EEG + EOG model takes one EEG and one EOG, as YASA's staging does, so that a night with a frontal
EEG and an EOG but no second EEG derivation is covered; the EEG-only model takes the frontal
derivation, the one headbands record. Torch-free: only file names and channel lists live here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.spec import ASSETS


@dataclass(frozen=True)
class EmbeddedModel:
    """One shipped model: its short name, input channels and files (``.onnx`` twin and weights)."""

    name: str
    channels: tuple[str, ...]
    stem: str

    @property
    def onnx(self) -> Path:
        return ASSETS / f"{self.stem}.onnx"

    @property
    def weights(self) -> Path:
        return ASSETS / f"{self.stem}.safetensors"

    @property
    def installed(self) -> bool:
        return self.onnx.is_file() or self.weights.is_file()

    def file(self) -> Path:
        """The file ``score`` loads: the ONNX twin when present (torch-free), else the weights."""
        return self.onnx if self.onnx.is_file() else self.weights


EMBEDDED: tuple[EmbeddedModel, ...] = (
    EmbeddedModel("psg", ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"), "ulw_sleepnet_sc4001"),
    EmbeddedModel("eeg-eog", ("EEG Fpz-Cz", "EOG horizontal"), "ulw_sleepnet_sc4001_eeg-eog"),
    EmbeddedModel("eeg", ("EEG Fpz-Cz",), "ulw_sleepnet_sc4001_eeg"),
)
"""Most inputs first: the first one whose channels are all present is chosen."""


def embedded_model(name: str) -> EmbeddedModel:
    """The embedded model called ``name`` (``psg``, ``eeg-eog`` or ``eeg``).

    Raises:
        InputError: unknown name (the line lists the names).
    """
    for m in EMBEDDED:
        if m.name == name:
            return m
    raise InputError(None, f"no embedded model {name!r}; embedded models: {describe_embedded()}")


def model_file(model: Any) -> Any:
    """``model`` itself, unless it names an embedded model (``psg``, ``eeg-eog``, ``eeg``) and no file of that
    name exists: then the file that model loads from. Lets every entry point (score, SleepStager, info)
    take the same names."""
    if isinstance(model, str) and model in {m.name for m in EMBEDDED} and not Path(model).exists():
        return embedded_model(model).file()
    return model


def describe_embedded() -> str:
    """One line: every installed embedded model with its inputs."""
    return "; ".join(f"{m.name} ({', '.join(m.channels)})" for m in EMBEDDED if m.installed)


def choose_embedded(has_channel: Callable[[str], bool], source: str | Path | None = None,
                    required: Sequence[str] = ()) -> EmbeddedModel:
    """The embedded model with the most inputs whose channels are all in a recording.

    Args:
        has_channel: tells whether the recording provides a model input name (after the user's
            mapping and the reader's aliases, see :func:`neurotrio.sleep.sources.has_channel`).
        source: the recording, for the error line.
        required: inputs the model must take (the names the user mapped with ``--channel``).

    Raises:
        InputError: no embedded model's inputs are all present; the line names the missing inputs of
            the smallest model and lists every model with its inputs.
    """
    installed = [m for m in EMBEDDED if m.installed and set(required) <= set(m.channels)]
    if not installed:
        raise InputError(source, f"no embedded model takes every mapped input ({', '.join(required)}); "
                                 f"embedded models: {describe_embedded()}")
    present = {c: has_channel(c) for m in installed for c in m.channels}
    for m in installed:
        if all(present[c] for c in m.channels):
            return m
    missing = sorted({c for c in installed[-1].channels if not present[c]}) if installed else []
    raise InputError(source, f"channels missing: {', '.join(missing) or 'all'} (map yours with --channel "
                             f"'NAME=LABEL'); embedded models: {describe_embedded()}")


def missing_of(model_channels: Sequence[str], has_channel: Callable[[str], bool]) -> list[str]:
    """The inputs of a model that a recording lacks."""
    return [c for c in model_channels if not has_channel(c)]


def model_metadata(model: Any) -> dict[str, Any]:
    """The training metadata of a loaded model (torch: the file's metadata; ONNX: its ``model_metadata``)."""
    meta = dict(getattr(model, "metadata", None) or {})
    inner = meta.get("model_metadata")
    return dict(inner) if isinstance(inner, dict) else meta


def trained_epochs_in(model: Any, start: dt.datetime | None, onset_s: np.ndarray,
                      epoch_s: float = 30.0) -> np.ndarray:
    """Which epochs of a recording lie in the span the model was trained (and validated) on.

    The span comes from the model's own metadata (``trained_epochs``: record, recording start, span in s
    from it, written by ``benchmarks/make_sleep_demo.py``; ``neurotrio sleep info`` prints it), compared
    on the clock: an epoch of any file keeping the original clock (the whole night or a cut of it) that
    falls in the span was seen in training. Models without that metadata, and recordings without a
    start time, give no epoch.

    Returns:
        bool (n_epochs,).
    """
    onset_s = np.asarray(onset_s, float)
    seen = model_metadata(model).get("trained_epochs")
    if not isinstance(seen, dict) or start is None or not seen.get("start"):
        return np.zeros(onset_s.size, bool)
    try:
        t0 = dt.datetime.fromisoformat(str(seen["start"]))
        lo, hi = (float(v) for v in seen["span_s"])
    except (KeyError, TypeError, ValueError):
        return np.zeros(onset_s.size, bool)
    shift = (start.replace(tzinfo=None) - t0).total_seconds()  # recording clock -> trained night's clock
    t = onset_s + shift
    return (t >= lo - 1e-6) & (t + epoch_s <= hi + 1e-6)


def in_sample_note(model: Any, n_seen: int, n_total: int, what: str = "compared epochs") -> str:
    """The line printed beside an agreement figure when some epochs were the model's training data."""
    seen = model_metadata(model).get("trained_epochs", {})
    lo, hi = (float(v) for v in seen.get("span_s", (0.0, 0.0)))
    where = f"{lo:g}-{hi:g} s"
    try:
        t0 = dt.datetime.fromisoformat(str(seen["start"]))
        where = (f"{t0 + dt.timedelta(seconds=lo):%H:%M:%S}-{t0 + dt.timedelta(seconds=hi):%H:%M:%S} "
                 f"({where} of the recording started {t0:%Y-%m-%d %H:%M:%S})")
    except (KeyError, TypeError, ValueError):
        pass
    return (f"{n_seen} of the {n_total} {what} were this model's training or validation data "
            f"({seen.get('recording', seen.get('record', 'its training night'))}, {where}; from the model's "
            "metadata, see `neurotrio sleep info`): the agreement on them is in-sample, not a measure on new data")
