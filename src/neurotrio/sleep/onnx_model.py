"""ULW-SleepNet in onnxruntime: scoring without torch.

A ``.onnx`` file written by ``neurotrio sleep export`` (:func:`neurotrio.sleep.export.export_onnx`) holds
the network with its fixed input scaling in the graph (input ``(batch, C, n_times)`` float32 microvolts,
output logits), and, in its ``metadata_props`` under the key :data:`META_KEY`, one JSON object with
everything else the torch path reads from a ``.safetensors`` file: architecture, hyper-parameters
(sampling rate, epoch length, channel count), channel names, normalization mode and stage names, plus
the training metadata. :func:`load_onnx_model` reads it; :func:`predict_proba_onnx` stages epochs.
Nothing here imports torch, so a fresh ``neurotrio sleep score --model night.onnx`` skips its ~2.5-s
import.

Example:
    >>> m = load_onnx_model("ulw_sleepnet.onnx")  # doctest: +SKIP
    >>> m.channels, m.config.sfreq_hz             # doctest: +SKIP
    (('EEG Fpz-Cz', 'EEG Pz-Oz', 'EOG horizontal', 'EMG submental'), 100.0)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurotrio.core.errors import CheckpointError, ConfigError
from neurotrio.core.prefetch import read_ahead
from neurotrio.sleep.spec import ARCHITECTURE, NORMALIZATIONS, STAGES, ULWSleepNetConfig

META_KEY = "neurotrio.sleep"
"""The ``metadata_props`` key holding the model's description (JSON)."""
META_FORMAT = 1
"""Version of that JSON's layout."""


@dataclass
class OnnxSleepModel:
    """An exported ULW-SleepNet ready to stage epochs in onnxruntime.

    Same attributes as :class:`neurotrio.sleep.model.SleepModel` except the network: ``session`` (an
    ``onnxruntime.InferenceSession``, one thread per run) replaces ``net``.
    """

    session: Any
    config: ULWSleepNetConfig
    channels: tuple[str, ...]
    normalization: str = "fixed"
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    input_name: str = "input"


def onnx_metadata(config: ULWSleepNetConfig, channels: tuple[str, ...], normalization: str, fused: bool,
                  extra: dict[str, Any] | None = None, scaling: dict[str, list[float]] | None = None) -> str:
    """The JSON stored under :data:`META_KEY` (written by the exporter, read by :func:`load_onnx_model`)."""
    from neurotrio.core.config import to_dict

    return json.dumps({
        "format": META_FORMAT, "architecture": ARCHITECTURE, "config": to_dict(config),
        "channels": list(channels), "normalization": normalization, "stages": list(STAGES),
        "input": "input", "output": "logits", "graph": "fused" if fused else "training-form",
        "input_scaling": {"applied": "in the graph: (x - in_center) / in_scale", **(scaling or {})},
        "model_metadata": extra or {},
    })


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def load_onnx_model(path: str | Path) -> OnnxSleepModel:
    """Open a ULW-SleepNet ``.onnx`` file written by ``neurotrio sleep export``.

    Raises:
        CheckpointError: missing file, not a readable ONNX model, no neurotrio metadata (e.g. an ONNX
            file from elsewhere), or metadata that contradicts the graph.
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "model file not found")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # batches run in parallel, one thread each (see predict_proba_onnx)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types on corrupt files
        raise CheckpointError(path, f"not a readable ONNX model ({_first_line(exc)})") from None
    raw = session.get_modelmeta().custom_metadata_map.get(META_KEY)
    if raw is None:
        raise CheckpointError(path, f"ONNX file without neurotrio sleep metadata ('{META_KEY}'); write it "
                                    "with `neurotrio sleep export --model MODEL.safetensors --out FILE.onnx`")
    from neurotrio.core.config import from_dict

    try:
        meta = json.loads(raw)
        if meta.get("architecture") != ARCHITECTURE:
            raise ValueError(f"architecture {meta.get('architecture')!r}, not {ARCHITECTURE!r}")
        if int(meta.get("format", 0)) > META_FORMAT:
            raise ValueError(f"metadata format {meta['format']} is newer than this neurotrio ({META_FORMAT})")
        config = from_dict(ULWSleepNetConfig, meta["config"])
        channels = tuple(str(c) for c in meta["channels"])
        normalization = str(meta["normalization"])
        stages = tuple(meta["stages"])
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(path, f"unreadable neurotrio sleep metadata in the ONNX file ({exc})") from None
    if len(channels) != config.n_chans or normalization not in NORMALIZATIONS or stages != STAGES[:config.n_classes]:
        raise CheckpointError(path, f"inconsistent ONNX metadata: {len(channels)} channels for n_chans="
                                    f"{config.n_chans}, normalization {normalization!r}, stages {list(stages)}")
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape_in, shape_out = list(inputs[0].shape), list(outputs[0].shape)
    if (len(inputs) != 1 or len(outputs) != 1 or shape_in[1:] != [config.n_chans, config.n_times]
            or shape_out[1:] != [config.n_classes]):
        raise CheckpointError(path, f"ONNX graph (input {shape_in}, output {shape_out}) does not match its "
                                    f"metadata (input [batch, {config.n_chans}, {config.n_times}], output "
                                    f"[batch, {config.n_classes}])")
    return OnnxSleepModel(session, config, channels, normalization, meta, path, inputs[0].name)


def default_workers() -> int:
    """Batches staged at once: ``OMP_NUM_THREADS`` when set, else the cores this process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32."""
    z = np.asarray(logits, dtype=np.float32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def predict_proba_onnx(model: OnnxSleepModel, epochs: Iterable[np.ndarray], batch_size: int = 16,
                       workers: int | None = None) -> np.ndarray:
    """Class probabilities of epochs in onnxruntime (the ONNX twin of ``score.predict_proba``).

    Args:
        model: an :class:`OnnxSleepModel` (normalise first when its normalization is "recording").
        epochs: arrays (n, C, n_times) in microvolts, consumed one after the other (the next one is read
            in a background thread while the current one is staged).
        batch_size: epochs per run.
        workers: batches staged at once, one onnxruntime thread each (default :func:`default_workers`).
            Batches are independent, so the result does not depend on it.

    Returns:
        float32 (total n, n_classes).
    """
    from concurrent.futures import ThreadPoolExecutor

    sess, name = model.session, model.input_name

    def run(x: np.ndarray) -> np.ndarray:  # each batch made contiguous in its worker, while it is in cache
        return sess.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]

    out: list[np.ndarray] = []
    with ThreadPoolExecutor(max(1, workers or default_workers())) as pool:
        for block in read_ahead(epochs):
            out.extend(pool.map(run, [block[i:i + batch_size] for i in range(0, len(block), batch_size)]))
    if not out:
        return np.zeros((0, model.config.n_classes), np.float32)
    return softmax(np.concatenate(out))


def onnx_summary(path: str | Path) -> str:
    """A few lines describing a ``.onnx`` model file (the torch-free twin of ``model.model_summary``)."""
    m = load_onnx_model(path)
    cfg, meta = m.config, m.metadata
    return "\n".join([
        f"model: {m.path} (ONNX, {meta.get('graph', 'unknown')} graph, {m.path.stat().st_size / 1024:.0f} KiB)",
        f"architecture: ULW-SleepNet, filters {list(cfg.filters)}, head {cfg.n_chans}x{cfg.filters[-1]} -> "
        f"{cfg.hidden} -> {cfg.n_classes}",
        f"input: {cfg.n_chans} channels ({', '.join(m.channels)}) x {cfg.n_times} samples "
        f"({cfg.epoch_s:g} s at {cfg.sfreq_hz:g} Hz), normalization {m.normalization}",
        f"trained on: {meta.get('model_metadata', {}).get('trained_on', 'not recorded')}",
    ])
