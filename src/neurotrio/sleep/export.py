"""ONNX export of a ULW-SleepNet model, checked against torch in onnxruntime.

The file carries the model's description (channels, normalization, config, stages, training metadata)
in its ``metadata_props`` (see :mod:`neurotrio.sleep.onnx_model`), so ``neurotrio sleep score --model
FILE.onnx`` stages with onnxruntime alone, without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurotrio.core.errors import NeurotrioError
from neurotrio.core.io import atomic_path
from neurotrio.sleep.model import DEFAULT_ONNX, STAGES, FusedULWSleepNet, SleepModel, load_model


class OnnxForm(nn.Module):
    """The fused network written for onnxruntime's CPU kernels: what the fused export contains.

    Same function as :class:`~neurotrio.sleep.model.FusedULWSleepNet` (its folded weights, read at call
    time), but every convolution is a 2-D one on ``(N, C, 1, L)`` maps, each ReLU directly follows its
    conv (before max-pooling: the same values, as both are monotonic), the kernel-1 stride-4 shortcut
    is a strided conv and the global mean a global average pool. onnxruntime then runs the whole
    extractor with its blocked-channel (NCHWc) kernels, conv and ReLU fused, instead of falling back to
    generic 1-D convolutions with a reorder around every op: the same logits (within float rounding) in
    a fraction of the time.
    """

    def __init__(self, fused: FusedULWSleepNet):
        super().__init__()
        self.fused = fused

    def forward(self, x: Tensor) -> Tensor:
        f = self.fused
        b, ch, n = x.shape
        h = ((x - f.in_center[:, None]) / f.in_scale[:, None]).reshape(b * ch, 1, 1, n)
        w = list(f.weights)
        for i in range(0, len(w), 6):
            w1, b1, w2, b2, ws, bs = w[i:i + 6]
            main = F.max_pool2d(F.relu(F.conv2d(h, w1[:, :, None, :], b1, padding=(0, 1))), (1, 2), (1, 2),
                                ceil_mode=True)
            main = F.max_pool2d(F.relu(F.conv2d(main, w2[:, :, None, :], b2, padding=(0, 1))), (1, 2), (1, 2),
                                ceil_mode=True)
            h = F.conv2d(h, ws[:, :, None, :], bs, stride=(1, 4)) + main
        return F.linear(F.adaptive_avg_pool2d(h, 1).reshape(b, -1), f.head_w, f.head_b)


@dataclass(frozen=True)
class ExportResult:
    """An exported model: the file and the largest |onnxruntime - torch| logit difference."""

    path: Path
    max_abs_diff: float
    fused: bool
    channels: tuple[str, ...]


def export_onnx(out: str | Path, model: SleepModel | str | Path | None = None, fused: bool = True,
                atol: float = 1e-5, batch: int = 8, seed: int = 0) -> ExportResult:
    """Write a model as one ``.onnx`` file (input ``(batch, C, 3000)`` float32 uV, output logits).

    The graph includes the model's fixed input scaling; everything else the scoring code needs (channel
    names, normalization mode, sampling rate and epoch length, stage names, training metadata) is stored
    as JSON in the file's ``metadata_props`` (key ``neurotrio.sleep``), read by
    :func:`neurotrio.sleep.onnx_model.load_onnx_model`. With ``fused`` (default) the inference form is
    exported (batch norm, shortcuts and head folded, written as :class:`OnnxForm`: faster in
    onnxruntime). The file is checked in
    onnxruntime on random epochs against the training-form torch network; it is written only if every
    logit agrees within ``atol``.

    Args:
        out: output path.
        model: a :class:`SleepModel`, a model file, or None for the embedded default.
        fused: export the fused inference form.
        atol: largest allowed absolute logit difference.
        batch: epochs in the check batch.
        seed: seed of the check input.

    Raises:
        NeurotrioError: the onnxruntime output differs by more than ``atol`` (nothing is written).
        CheckpointError: unreadable model file.

    Example:
        >>> export_onnx("ulw_sleepnet.onnx").max_abs_diff < 1e-5  # doctest: +SKIP
        True
    """
    from neurotrio.core import onnx_export

    model = model if isinstance(model, SleepModel) else load_model(model)
    net = model.net.eval()
    cfg = model.config
    gen = torch.Generator().manual_seed(seed)
    scale = model.net.in_scale[:, None] if model.normalization == "fixed" else 1.0
    example = torch.randn(batch, cfg.n_chans, cfg.n_times, generator=gen) * scale + (
        model.net.in_center[:, None] if model.normalization == "fixed" else 0.0)
    target = OnnxForm(net.fused()) if fused else net
    with atomic_path(out) as tmp:
        diff = onnx_export.export_onnx(target, example, tmp, atol=atol)
        _add_metadata(tmp, model, fused)
        if fused:  # the fused graph must also match the training-form network
            import onnxruntime as ort

            sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
            got = sess.run(None, {"input": example.numpy()})[0]
            with torch.no_grad():
                want = net(example).numpy()
            diff = max(diff, float(np.max(np.abs(got - want))))
            if not diff <= atol:
                raise NeurotrioError(f"ONNX export {Path(out).name}: fused graph differs from the torch model by "
                                     f"{diff:.2e} > {atol:.0e}")
    return ExportResult(Path(out), diff, fused, model.channels)


def _add_metadata(path: Path, model: SleepModel, fused: bool) -> None:
    """Store the model's description in the ONNX file's ``metadata_props`` (rewrites ``path``)."""
    import onnx

    from neurotrio.sleep.onnx_model import META_KEY, onnx_metadata

    proto = onnx.load(str(path))
    scaling = ({"in_center": model.net.in_center.tolist(), "in_scale": model.net.in_scale.tolist()}
               if model.normalization == "fixed" else {})
    text = onnx_metadata(model.config, model.channels, model.normalization, fused, model.metadata, scaling)
    del proto.metadata_props[:]
    proto.metadata_props.add(key=META_KEY, value=text)
    proto.doc_string = (f"ULW-SleepNet ({'fused' if fused else 'training-form'} graph) exported by neurotrio: "
                        f"input (batch, {model.config.n_chans}, {model.config.n_times}) float32 uV for "
                        f"{', '.join(model.channels)}; output logits over {', '.join(STAGES)}")
    onnx.save(proto, str(path))


def write_default_onnx(out: str | Path = DEFAULT_ONNX) -> ExportResult:
    """Regenerate the shipped ONNX twin of the embedded weights (what ``score`` uses by default).

    Same as ``neurotrio sleep export --out src/neurotrio/sleep/assets/ulw_sleepnet_sc4001.onnx``.
    """
    return export_onnx(out, None, fused=True)
