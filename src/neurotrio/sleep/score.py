"""Scoring a night: EDF in, hypnogram out (CSV, EDF+ annotations, PNG), optionally compared to an expert.

The recording is read in epoch-aligned chunks (bounded memory on a 22-h night) and staged with the fused
inference form of ULW-SleepNet (:meth:`~neurotrio.sleep.model.ULWSleepNet.fused`), which gives the same
probabilities as the training-form network, either in torch (a ``.safetensors`` model) or in onnxruntime
(a ``.onnx`` model from ``neurotrio sleep export``, :mod:`neurotrio.sleep.onnx_model`). The ONNX path
never imports torch; with no model given, the embedded weights' ONNX twin is used (torch-free too).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.core.prefetch import read_ahead as _read_ahead
from neurotrio.sleep import score_inputs
from neurotrio.sleep.compare import agreement, compare_with_expert, in_span, night_statistics, note_in_sample
from neurotrio.sleep.outputs import format_agreement, span_text
from neurotrio.sleep.result import ScoreResult
from neurotrio.sleep.spec import DEFAULT_ONNX, robust_stats

if TYPE_CHECKING:  # both imported lazily: torch is loaded only for a torch model
    from neurotrio.sleep.model import SleepModel
    from neurotrio.sleep.onnx_model import OnnxSleepModel

AnyModel = Union["SleepModel", "OnnxSleepModel"]
__all__ = ["ScoreResult", "format_agreement", "score_recording", "stage_recording", "load_any_model", "predict_proba",
           "agreement", "edf_start"]

log = logging.getLogger(__name__)

def load_any_model(model: AnyModel | str | Path | None = None) -> AnyModel:
    """A model ready to score: a loaded one as is, a ``.onnx`` file in onnxruntime, another file in torch.

    A name of an embedded model (``psg``, ``eeg-eog``, ``eeg``) loads that model. None gives the embedded
    4-channel weights: their ONNX twin (``assets/ulw_sleepnet_sc4001.onnx``, no torch
    needed) when it is installed, else the ``.safetensors`` file.

    Raises:
        CheckpointError: unreadable, unsafe or foreign model file.
    """
    from neurotrio.sleep.embedded import model_file
    from neurotrio.sleep.onnx_model import OnnxSleepModel, load_onnx_model

    model = model_file(model)
    if isinstance(model, OnnxSleepModel):
        return model
    if model is None and DEFAULT_ONNX.is_file():
        return load_onnx_model(DEFAULT_ONNX)
    if isinstance(model, (str, Path)) and Path(model).suffix.lower() == ".onnx":
        return load_onnx_model(model)
    from neurotrio.sleep.model import SleepModel, load_model

    return model if isinstance(model, SleepModel) else load_model(model)


def predict_proba(model: AnyModel, epochs: Iterable[np.ndarray], batch_size: int = 16,
                  workers: int | None = None) -> np.ndarray:
    """Class probabilities of epochs, with the fused network (torch, or onnxruntime for an ONNX model).

    Args:
        model: the model (its ``normalization`` must not be "recording": normalise first, see
            :func:`stage_recording`); an :class:`~neurotrio.sleep.onnx_model.OnnxSleepModel` goes to
            :func:`~neurotrio.sleep.onnx_model.predict_proba_onnx`.
        epochs: arrays of shape (n, C, n_times) in microvolts (already per-recording normalised when the
            model uses "recording" normalisation), consumed one after the other; the next array is read
            in a background thread while the current one is staged.
        batch_size: epochs per forward pass (16 is fastest on a small CPU: activations stay in cache).
        workers: batches staged at once, each on one thread (default: ``torch.get_num_threads()``, i.e.
            every core). Batches are independent, so the result does not depend on it.

    Returns:
        float32 (total n, n_classes).
    """
    from concurrent.futures import ThreadPoolExecutor

    from neurotrio.sleep.onnx_model import OnnxSleepModel, predict_proba_onnx

    if isinstance(model, OnnxSleepModel):
        return predict_proba_onnx(model, epochs, batch_size, workers)
    import torch

    fused = model.net.fused()
    workers = max(1, workers or torch.get_num_threads())

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(fused(x), dim=-1)

    out: list = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one core per batch beats splitting each op
    try:
        with ThreadPoolExecutor(workers) as pool:
            for block in _read_ahead(epochs):
                x = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))
                out.extend(pool.map(run, [x[i:i + batch_size] for i in range(0, x.shape[0], batch_size)]))
    finally:
        torch.set_num_threads(threads)
    if not out:
        return np.zeros((0, model.config.n_classes), np.float32)
    return torch.cat(out).numpy()


def _epochs_of(chunk: np.ndarray, n_times: int) -> np.ndarray:
    c, n = chunk.shape
    return chunk[:, : n - n % n_times].reshape(c, -1, n_times).transpose(1, 0, 2)


@dataclass
class StagedNight:
    """A night staged epoch by epoch, on the recording's own clock.

    Attributes:
        proba: float32 (n_epochs, 5), class probabilities (W, N1, N2, N3, REM).
        onset_s: float64 (n_epochs,), each epoch's onset in true seconds from the recording start (the
            EDF header's start time); it jumps over acquisition gaps (EDF+D), so consecutive epochs may
            be more than ``epoch_s`` apart.
        start: recording start (clock time from the EDF header, naive; a Raw's ``meas_date``), or None.
        epoch_s: epoch length, s.
        channels: one dict per model input: ``input`` (the model's name), ``label`` (what was read),
            ``sfreq_hz`` (its native rate), ``alias`` (True when the label differs from the input's name,
            e.g. 'Fpz' read for 'EEG Fpz-Cz'), ``conversion`` (e.g. "raw EMG -> 1-Hz RMS envelope", or None).
        segments: (onset_s, duration_s) of each contiguous piece of the recording (one for a continuous
            file); epochs are cut within each piece, never across a gap.
    """

    proba: np.ndarray
    onset_s: np.ndarray
    start: datetime.datetime | None
    epoch_s: float
    channels: list[dict]
    segments: list[tuple[float, float]]


def stage_night(psg: Any, model: AnyModel | str | Path | None = None, channels: Sequence[str] | None = None,
                aliases: Mapping[str, str] | None = None, chunk_epochs: int = 240,
                batch_size: int = 16) -> StagedNight:
    """Stage every whole 30-s epoch of a night: the fast path behind :func:`score_recording`.

    Args:
        psg: an EDF/EDF+/BDF path, an ``mne.io.BaseRaw`` (as YASA users hold), or a
            :class:`neurotrio.sleep.sources.PSGArray` (NumPy data with its rate, names and unit).
        model: a loaded model or a model file (default: the embedded one; see :func:`load_any_model`).
        channels: channel names to read for the model's inputs (default: the model's own names).
        aliases: input name -> source label, or ``#N`` for signal number N (see
            :func:`neurotrio.sleep.edf.resolve_signals`). One label may feed several inputs.
        chunk_epochs: epochs read at a time (memory: 4 channels x 240 epochs x 3000 x 4 B = 11.5 MB).
        batch_size: epochs per forward pass.

    Returns:
        A :class:`StagedNight`.

    Raises:
        InputError: unreadable file; missing, ambiguous (repeated label), NaN or flat channel; undefined
            calibration; amplitude outside the microvolt range (wrong unit); shorter than one epoch.
        ConfigError: channel count not the model's; a mapping for a name the model does not take.
        TypeError: ``psg`` of another kind.

    Example:
        >>> night = stage_night(mne.io.read_raw_edf("night.edf"))  # doctest: +SKIP
        >>> night.onset_s[:3], night.channels[0]["label"]           # doctest: +SKIP
    """
    from neurotrio.sleep.signals import check_amplitude, check_finite, iter_chunks
    from neurotrio.sleep.sources import open_psg

    model = load_any_model(model)
    cfg = model.config
    channels = tuple(channels) if channels else model.channels
    if len(channels) != cfg.n_chans:
        raise ConfigError(f"the model takes {cfg.n_chans} channels ({', '.join(model.channels)}), "
                          f"{len(channels)} were given ({', '.join(channels)})")
    reader = open_psg(psg, channels, cfg.sfreq_hz, aliases)
    onsets: list[np.ndarray] = []
    if model.normalization == "recording":  # per-recording statistics need the whole night first
        parts = [reader.read(p.data_s, p.data_s + p.duration_s, p.data_s, p.data_s + p.duration_s)
                 for p in reader.pieces]
        data = np.concatenate(parts, axis=1)
        check_finite(data, reader.channels, reader.labels, reader.name, check_flat=True)
        check_amplitude(data, reader.channels, reader.labels, reader.name, getattr(reader, "units", None))
        center, scale = robust_stats(data)
        blocks = []
        for p, x in zip(reader.pieces, parts):
            ep = _epochs_of(x, cfg.n_times)
            blocks.append((ep - center[None, :, None]) / scale[None, :, None])
            onsets.append(p.onset_s + np.arange(ep.shape[0]) * float(cfg.epoch_s))
        if sum(b.shape[0] for b in blocks) == 0:
            raise InputError(reader.name, f"recording lasts {reader.duration_s:g} s, shorter than one "
                                          f"{cfg.epoch_s:g}-s epoch")
        proba = predict_proba(model, [np.concatenate(blocks)], batch_size)
    else:
        def epochs():
            for chunk, onset in iter_chunks(reader, cfg.epoch_s, chunk_epochs):
                onsets.append(onset)
                yield _epochs_of(chunk, cfg.n_times)

        proba = predict_proba(model, epochs(), batch_size)
    onset_s = np.concatenate(onsets) if onsets else np.zeros(0)
    return StagedNight(proba=proba, onset_s=onset_s.astype(np.float64), start=reader.start,
                       epoch_s=float(cfg.epoch_s), channels=reader.channel_info,
                       segments=[(p.onset_s, p.duration_s) for p in reader.pieces])


def stage_recording(psg_path: Any, model: AnyModel | str | Path | None = None,
                    channels: Sequence[str] | None = None, aliases: Mapping[str, str] | None = None,
                    chunk_epochs: int = 240, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stage_night`, returning only (proba float32 (n_epochs, 5), onset_s float64 (n_epochs,)).

    ``onset_s`` is on the recording's clock (it jumps over EDF+D gaps). Same arguments and errors.
    """
    night = stage_night(psg_path, model, channels, aliases, chunk_epochs, batch_size)
    return night.proba, night.onset_s


def reference_labels(reference: Any, n_epochs: int | None = None, epoch_s: float = 30.0,
                     trim_wake_min: float | None = 30.0, *, psg: str | Path | None = None,
                     psg_start: datetime.datetime | None = None, onset_s: np.ndarray | None = None,
                     lights_off_s: float | None = None, lights_on_s: float | None = None,
                     reference_epoch_s: float | None = None,
                     reference_codes: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Expert labels of a recording, aligned by clock time, and the epochs to compare on.

    The hypnogram is read in any layout of :func:`neurotrio.sleep.hypnogram_formats.read_expert_hypnogram`
    and put on the recording's epochs by :func:`neurotrio.sleep.hypnogram.align_to_epochs` (start times,
    AASM greatest-portion rule); it must cover the analysed period
    (:func:`neurotrio.sleep.hypnogram.expert_period`: lights-off to lights-on, by default the recording,
    or the expert's own span when the hypnogram starts later than the recording). The comparison uses the
    epochs the expert scored W..REM inside that period ("?", movement and unscored are excluded), and,
    with ``trim_wake_min``, only the sleep period with that many minutes of wake on each side: the same
    selection as the Sleep-EDF data preparation (841 epochs on SC4001). ``None`` compares every scored
    epoch.

    Args:
        reference: hypnogram path, ``mne.Annotations`` or an already read ``ExpertHypnogram``.
        n_epochs: number of epochs when ``onset_s`` is not given (onsets ``arange(n) * epoch_s``).
        epoch_s: the recording's epoch length, s.
        trim_wake_min: minutes of wake kept on each side of the sleep period, or None.
        psg: the recording file, whose EDF header gives its start time (when ``psg_start`` is not given).
        psg_start: the recording's start. With neither ``psg`` nor ``psg_start`` there is no recording
            clock: the hypnogram is taken to start with the recording.
        onset_s: the staged epochs' onsets, s from the recording start (EDF+D: with gaps).
        lights_off_s, lights_on_s: the analysed period, s from the recording start.
        reference_epoch_s: the scoring epoch of a per-epoch stage list, s.
        reference_codes: "rk" or "aasm" for numeric stage lists.

    Returns:
        (labels int64 (n_epochs,) with -1 where not scored or outside the period, indices of the compared
        epochs).

    Raises:
        InputError: unreadable hypnogram, one that cannot be aligned with the recording, or one that does
            not cover the analysed period.
    """
    from neurotrio.sleep.hypnogram import ExpertHypnogram, align_to_epochs, expert_period
    from neurotrio.sleep.hypnogram_formats import edf_start_time, read_expert_hypnogram
    from neurotrio.sleep.sleepedf import select_epochs

    hyp = reference if isinstance(reference, ExpertHypnogram) else read_expert_hypnogram(
        reference, epoch_s=reference_epoch_s, codes=reference_codes)  # type: ignore[arg-type]
    if onset_s is None:
        if n_epochs is None:
            raise ValueError("give n_epochs or onset_s")
        onset_s = np.arange(n_epochs) * float(epoch_s)
    onset = np.asarray(onset_s, dtype=np.float64)
    if psg_start is None and psg is not None:
        psg_start = edf_start_time(psg)[0]
    if psg_start is None and psg is None:
        psg_start = hyp.start  # no recording clock: the hypnogram starts with the recording
        if hyp.start is not None:
            log.warning("%s: no recording start given (psg= or psg_start=): the hypnogram's own start %s is "
                        "taken as the recording's", Path(hyp.source).name, hyp.start)
    off, on = expert_period(hyp, psg_start, onset, epoch_s, lights_off_s, lights_on_s, hyp.source)
    labels = align_to_epochs(hyp, psg_start, onset, epoch_s, hyp.source)
    middle = onset + epoch_s / 2
    labels[(middle < off) | (middle >= on)] = -1
    trim = None if trim_wake_min is None else int(round(trim_wake_min * 60 / epoch_s))
    return labels, select_epochs(labels, trim)


def score_recording(psg: Any, model: AnyModel | str | Path | None = None, out_dir: str | Path | None = None,
                    reference: Any = None, channels: Sequence[str] | None = None,
                    aliases: Mapping[str, str] | None = None, trim_wake_min: float | None = 30.0,
                    plot: bool = True, lights_off: str | float | None = None,
                    lights_on: str | float | None = None, reference_epoch_s: float | None = None,
                    reference_codes: str | None = None, name: str | None = None) -> ScoreResult:
    """Stage a night, compute its sleep statistics, write its outputs; compare with an expert when given.

    Args:
        psg: the recording: an EDF/EDF+/EDF+D/BDF path, an ``mne.io.Raw`` (as YASA users hold), or a
            :class:`neurotrio.sleep.sources.PSGArray` (a NumPy array with its rate, channel names and unit).
        model: a :class:`SleepModel` or :class:`OnnxSleepModel`, a model file (``.safetensors`` runs in
            torch, ``.onnx`` in onnxruntime without importing torch), an embedded model's name ("psg",
            "eeg-eog", "eeg"; :mod:`neurotrio.sleep.embedded`), or None: the embedded model
            matching the channels present (:func:`neurotrio.sleep.embedded.choose_embedded`: the
            4-channel PSG model, else EEG + EOG, else EEG only; one error line naming the missing
            channels when none fits).
        out_dir: folder for the night's outputs (see :func:`neurotrio.sleep.outputs.write_outputs`):
            written as a whole, replacing an earlier run's; nothing is written on error. None writes
            nothing (the result is returned and ``neurotrio sleep score`` prints it).
        reference: the expert hypnogram, in any format of
            :func:`neurotrio.sleep.hypnogram_formats.read_expert_hypnogram` (a path, or ``mne.Annotations``),
            aligned to the epochs by clock time; or a per-epoch sequence of stages starting with the
            recording (names such as "W", "N2", "REM", or numeric codes, as YASA's ``hypno`` arrays),
            which needs ``reference_epoch_s``; or a ``yasa.Hypnogram`` (its own epoch and start).
        channels: channel names for the model's inputs (default: the model's).
        aliases: model input name -> file label mapping.
        trim_wake_min: comparison window: the expert-scored sleep period with this much wake on each side
            (as the Sleep-EDF data preparation), None: every expert-scored epoch.
        plot: write the PNG.
        lights_off, lights_on: the analysed period, as a clock time ("22:30", "22:30:15", ISO date-time)
            or seconds from the recording start. Every epoch is still staged and written; the statistics
            and the comparison with the expert use only the epochs inside the period.
        reference_epoch_s: epoch length of a per-epoch stage list given as ``reference`` (when its
            layout does not state it).
        reference_codes: "rk" or "aasm": the code system of numeric stages in ``reference`` (needed when
            the codes do not tell, e.g. 0-4 only: 4 is R&K stage 4 but AASM/YASA REM).
        name: the night's name, prefix of every output file (default: the recording's file name
            without extension).

    Returns:
        A :class:`ScoreResult`.

    Raises:
        InputError: bad recording, reference, model file, output folder or lights times; nothing is written.
        ConfigError: channel names that do not fit the model.

    Example:
        >>> res = score_recording("SC4001E0-PSG.edf", out_dir="out",
        ...                       reference="SC4001EC-Hypnogram.edf")  # doctest: +SKIP
        >>> res.metrics["kappa"], res.statistics["predicted"]["TST_min"]  # doctest: +SKIP
    """
    from neurotrio.sleep.outputs import check_out_dir, write_outputs

    t0 = time.perf_counter()
    if out_dir is not None:
        check_out_dir(out_dir)  # before the costly part
    score_inputs.check_options(trim_wake_min, reference_epoch_s)
    score_inputs.refuse_annotation_only(psg)
    model, model_name = _pick_model(psg, model, channels, aliases)
    hyp = None
    if reference is not None:  # read the reference before the costly part
        from neurotrio.sleep.hypnogram_formats import read_expert_hypnogram

        hyp = (score_inputs.stage_sequence(reference, reference_epoch_s, reference_codes)
               if score_inputs.is_sequence(reference) else
               read_expert_hypnogram(reference, epoch_s=reference_epoch_s, codes=reference_codes))
    if channels and not aliases and len(channels) == len(model.channels):
        # read the given channels as the model's inputs, by name: the reader then knows which one is the
        # EMG (raw chin EMG -> envelope) and reports each input under the model's name
        aliases, channels = dict(zip(model.channels, channels)), None
    night = stage_night(psg, model, channels, aliases)
    stages = night.proba.argmax(1).astype(np.int64)
    # with `channels`, the rows read are named by the user; say which model input each one fed
    read = [{**c, "input": m, "alias": c.get("label") != m} if c.get("input") != m else dict(c)
            for c, m in zip(night.channels, model.channels)]
    result = ScoreResult(stages, night.proba, np.asarray(night.onset_s, float), start=night.start,
                         epoch_s=float(night.epoch_s), channels=read,
                         segments=[(float(o), float(d)) for o, d in night.segments], model=model_name,
                         seconds={"stage": time.perf_counter() - t0})
    from neurotrio.sleep.statistics import analysed_period

    result.lights_off_s, result.lights_on_s = analysed_period(lights_off, lights_on, night.start, result.onset_s,
                                                              result.epoch_s)
    if not in_span(result).any():
        raise InputError(score_inputs.source_name(psg), f"no staged epoch has its middle inside the analysed period "
                                                        f"({span_text(result)}); widen --lights-off/--lights-on")
    if hyp is not None:
        compare_with_expert(result, hyp, score_inputs.source_name(reference), trim_wake_min)
    note_in_sample(result, model)
    result.statistics = night_statistics(result)
    if out_dir is not None:
        t1 = time.perf_counter()
        result.files = write_outputs(result, score_inputs.source_name(psg), out_dir, plot, model, name=name)
        result.seconds["write"] = time.perf_counter() - t1
    return result


def _pick_model(psg: Any, model: Any, channels: Sequence[str] | None,
                aliases: Mapping[str, str] | None) -> tuple[AnyModel, str]:
    """The model to score with and its name; None picks the embedded model for the channels present."""
    from neurotrio.sleep.embedded import EMBEDDED, choose_embedded, describe_embedded, embedded_model

    if isinstance(model, str) and model in {m.name for m in EMBEDDED} and not Path(model).exists():
        chosen = embedded_model(model)  # an embedded model by name: psg, eeg-eog, eeg
        return load_any_model(chosen.file()), f"the embedded model '{chosen.name}' ({', '.join(chosen.channels)})"
    if isinstance(model, str) and not Path(model).exists() and not Path(model).suffix and "/" not in model:
        raise InputError(None, f"--model {model!r} is neither a model file (.onnx, .safetensors) nor an embedded "
                               f"model; embedded models: {describe_embedded()}")
    if model is not None:
        m = load_any_model(model)
        return m, f"model {Path(m.path).name}" if getattr(m, "path", None) else "the given model"
    from neurotrio.sleep.sources import PSGArray, has_channel

    if channels:  # the user names the inputs: the embedded model with that many
        fit = [m for m in EMBEDDED if m.installed and len(m.channels) == len(channels)]
        if not fit:
            raise ConfigError(f"--channels names {len(channels)} channels; embedded models: {describe_embedded()}")
        chosen = fit[0]
    elif isinstance(psg, (str, Path, PSGArray)) or hasattr(psg, "ch_names"):
        present = has_channel(psg, aliases)
        chosen = choose_embedded(present, score_inputs.source_name(psg), required=list(aliases or {}))
        bigger = [m for m in EMBEDDED if m.installed and len(m.channels) > len(chosen.channels)]
        lacking = sorted({c for m in bigger for c in m.channels if c not in chosen.channels and not present(c)})
        if lacking:  # say why a model with fewer inputs was taken
            return load_any_model(chosen.file()), (f"the embedded model '{chosen.name}' ({', '.join(chosen.channels)}); "
                                                   f"chosen because {', '.join(lacking)} "
                                                   f"{'is' if len(lacking) == 1 else 'are'} not in the file")
    else:  # a source of another kind: stage_night says what it accepts
        chosen = EMBEDDED[0]
    return load_any_model(chosen.file()), f"the embedded model '{chosen.name}' ({', '.join(chosen.channels)})"


def edf_start(path: str | Path) -> datetime.datetime | None:
    """Recording start from an EDF header's date and time fields (None when unreadable)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(184)[168:184].decode("ascii")
        day, month, year = (int(v) for v in raw[:8].split("."))
        hour, minute, second = (int(v) for v in raw[8:].split("."))
        return datetime.datetime(year + (1900 if year >= 85 else 2000), month, day, hour, minute, second)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
