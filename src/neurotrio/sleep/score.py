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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.core.prefetch import read_ahead as _read_ahead
from neurotrio.sleep.spec import DEFAULT_ONNX, STAGES, robust_stats

if TYPE_CHECKING:  # both imported lazily: torch is loaded only for a torch model
    from neurotrio.sleep.model import SleepModel
    from neurotrio.sleep.onnx_model import OnnxSleepModel

AnyModel = Union["SleepModel", "OnnxSleepModel"]

log = logging.getLogger(__name__)

CSV_HEADER = "epoch,onset_s,stage," + ",".join(f"p_{s}" for s in STAGES)


@dataclass
class ScoreResult:
    """The staged night.

    Attributes:
        stages: int64 (n_epochs,), stage codes 0..4 (W, N1, N2, N3, REM).
        proba: float32 (n_epochs, 5), class probabilities.
        onset_s: float64 (n_epochs,), epoch onsets from the recording start, s.
        files: written outputs by kind ("csv", "edf", "png", "json"); empty when no ``out_dir``.
        metrics: agreement with the reference hypnogram (accuracy, macro_f1, kappa, confusion_matrix,
            n compared epochs), or None.
        seconds: wall time of each step, s.
    """

    stages: np.ndarray
    proba: np.ndarray
    onset_s: np.ndarray
    files: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def stage_names(self) -> list[str]:
        return [STAGES[i] for i in self.stages]


def load_any_model(model: AnyModel | str | Path | None = None) -> AnyModel:
    """A model ready to score: a loaded one as is, a ``.onnx`` file in onnxruntime, another file in torch.

    None gives the embedded weights: their ONNX twin (``assets/ulw_sleepnet_sc4001.onnx``, no torch
    needed) when it is installed, else the ``.safetensors`` file.

    Raises:
        CheckpointError: unreadable, unsafe or foreign model file.
    """
    from neurotrio.sleep.onnx_model import OnnxSleepModel, load_onnx_model

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
    off, on = expert_period(hyp, psg_start, onset, epoch_s, lights_off_s, lights_on_s, hyp.source)
    labels = align_to_epochs(hyp, psg_start, onset, epoch_s, hyp.source)
    middle = onset + epoch_s / 2
    labels[(middle < off) | (middle >= on)] = -1
    trim = None if trim_wake_min is None else int(round(trim_wake_min * 60 / epoch_s))
    return labels, select_epochs(labels, trim)


def agreement(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, Cohen's kappa, per-class F1 and confusion matrix (rows: expert)."""
    from neurotrio.core.metrics import classification_report

    return classification_report(y_true, y_pred, list(STAGES))


def format_agreement(metrics: Mapping[str, Any]) -> str:
    """A short human-readable block: one summary line and the confusion matrix."""
    cm = np.asarray(metrics["confusion_matrix"])
    lines = [f"agreement with the expert on {metrics['n']} epochs: accuracy {metrics['accuracy']:.3f}  "
             f"macro-F1 {metrics['macro_f1']:.3f}  kappa {metrics['kappa']:.3f}",
             "confusion matrix (rows: expert, columns: predicted)",
             "        " + "".join(f"{s:>6}" for s in STAGES)]
    lines += [f"  {s:<6}" + "".join(f"{v:>6d}" for v in row) for s, row in zip(STAGES, cm)]
    return "\n".join(lines)


def score_recording(psg_path: str | Path, model: AnyModel | str | Path | None = None,
                    out_dir: str | Path | None = None, reference: str | Path | None = None,
                    channels: Sequence[str] | None = None, aliases: Mapping[str, str] | None = None,
                    trim_wake_min: float | None = 30.0, plot: bool = True) -> ScoreResult:
    """Stage a night and write its hypnogram; compare with an expert hypnogram when given.

    Args:
        psg_path: EDF/EDF+/BDF recording.
        model: a :class:`SleepModel` or :class:`OnnxSleepModel`, a model file (``.safetensors`` runs in
            torch, ``.onnx`` in onnxruntime without importing torch), or None for the embedded default
            (its ONNX twin: torch-free). Both forms give the same outputs (probabilities within 1e-5).
        out_dir: folder for ``<name>.hypnogram.csv`` (epoch, onset_s, stage, p_W..p_REM),
            ``<name>.hypnogram.edf`` (EDF+ annotations, readable by ``mne.read_annotations`` and
            EDFbrowser), ``<name>.hypnogram.png`` and ``<name>.score.json``. Written atomically: on any
            error nothing is added to it. None writes nothing.
        reference: expert hypnogram (EDF+ annotations, Sleep-EDF style) to compare with.
        channels: channel names for the model's inputs (default: the model's).
        aliases: requested name -> file label mapping.
        trim_wake_min: comparison window (see :func:`reference_labels`).
        plot: write the PNG.

    Returns:
        A :class:`ScoreResult`.

    Raises:
        InputError: bad recording, reference or model file; nothing is written.

    Example:
        >>> res = score_recording("SC4001E0-PSG.edf", out_dir="out",
        ...                       reference="SC4001EC-Hypnogram.edf")  # doctest: +SKIP
        >>> res.metrics["kappa"]  # doctest: +SKIP
    """
    from neurotrio.sleep.edfheader import read_edf_header

    t0 = time.perf_counter()
    psg_path = Path(psg_path)
    model = load_any_model(model)
    labels = keep = None
    if reference is not None:  # check the reference before the costly part
        n_epochs = int(read_edf_header(psg_path).duration_s // model.config.epoch_s)
        if n_epochs < 1:
            raise InputError(psg_path, f"recording is shorter than one {model.config.epoch_s:g}-s epoch")
        labels, keep = reference_labels(reference, n_epochs, model.config.epoch_s, trim_wake_min)
    proba, onset_s = stage_recording(psg_path, model, channels, aliases)
    stages = proba.argmax(1).astype(np.int64)
    result = ScoreResult(stages, proba, onset_s, seconds={"stage": time.perf_counter() - t0})
    if labels is not None:
        keep = keep[keep < stages.size]
        result.metrics = agreement(labels[keep], stages[keep])
        result.metrics["compared"] = ("expert-scored epochs" + (f", sleep period +- {trim_wake_min:g} min of wake"
                                                                 if trim_wake_min is not None else ""))
    if out_dir is not None:
        t1 = time.perf_counter()
        result.files = write_outputs(result, psg_path, model, out_dir, labels, plot)
        result.seconds["write"] = time.perf_counter() - t1
    return result


def write_outputs(result: ScoreResult, psg_path: Path, model: AnyModel, out_dir: str | Path,
                  labels: np.ndarray | None = None, plot: bool = True) -> dict[str, Path]:
    """Write CSV, EDF+ hypnogram, PNG and JSON summary for ``result`` into ``out_dir`` atomically."""
    from neurotrio.core.config import to_dict
    from neurotrio.core.io import atomic_dir, atomic_write_text, write_json
    from neurotrio.core.seed import provenance
    from neurotrio.sleep.hypnogram import write_hypnogram_edf

    stem = psg_path.name.rsplit(".", 1)[0]
    epoch_s = model.config.epoch_s
    with atomic_dir(out_dir) as tmp:
        rows = [f"{i},{t:.1f},{STAGES[s]}," + ",".join(f"{p:.5f}" for p in pr)
                for i, (t, s, pr) in enumerate(zip(result.onset_s, result.stages, result.proba))]
        files = {"csv": atomic_write_text(tmp / f"{stem}.hypnogram.csv", "\n".join([CSV_HEADER, *rows]) + "\n")}
        start = edf_start(psg_path)
        files["edf"] = write_hypnogram_edf(tmp / f"{stem}.hypnogram.edf", result.stages.tolist(), epoch_s,
                                           start=start)
        if plot:
            files["png"] = plot_hypnogram(result.stages, result.proba, epoch_s, tmp / f"{stem}.hypnogram.png",
                                          reference=labels, title=psg_path.name)
        summary = {"recording": str(psg_path), "model": str(model.path) if model.path else None,
                   "channels": list(model.channels), "normalization": model.normalization,
                   "model_config": to_dict(model.config), "n_epochs": int(result.stages.size),
                   "stage_counts": {s: int((result.stages == i).sum()) for i, s in enumerate(STAGES)},
                   "metrics": result.metrics, "seconds": result.seconds, "provenance": provenance(None)}
        files["json"] = write_json(tmp / f"{stem}.score.json", summary)
    return {k: Path(out_dir) / v.name for k, v in files.items()}


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


def plot_hypnogram(stages: np.ndarray, proba: np.ndarray, epoch_s: float, path: str | Path,
                   reference: np.ndarray | None = None, title: str = "") -> Path:
    """Hypnogram (stage per epoch, expert in grey when given) above stacked class probabilities.

    Args:
        stages: int (n_epochs,) predicted stage codes.
        proba: (n_epochs, 5) probabilities.
        epoch_s: epoch length, s.
        path: output PNG path (written atomically).
        reference: int (n_epochs,) expert codes, -1 where unscored.
        title: figure title.
    """
    from neurotrio.core.plots import _pyplot, save_figure

    plt = _pyplot()
    order = np.array([0, 4, 1, 2, 3])  # drawn top to bottom: W, REM, N1, N2, N3
    level = np.argsort(order)
    hours = np.arange(stages.size + 1) * epoch_s / 3600.0
    fig, (ax, axp) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    if reference is not None:
        ref = np.where(reference >= 0, level[np.clip(reference, 0, 4)], np.nan).astype(float)
        ax.step(hours[:-1], ref[: stages.size], where="post", color="0.6", lw=2.5, label="expert")
    ax.step(hours[:-1], level[stages], where="post", color="C0", lw=1, label="ULW-SleepNet")
    ax.set_yticks(range(5), [STAGES[i] for i in order])
    ax.invert_yaxis()
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    axp.stackplot(hours[:-1], proba.T, labels=STAGES, step="post")
    axp.set_ylim(0, 1)
    axp.set_ylabel("probability")
    axp.set_xlabel("time from recording start (h)")
    axp.legend(loc="upper right", fontsize=7, ncol=5)
    return save_figure(fig, path)
