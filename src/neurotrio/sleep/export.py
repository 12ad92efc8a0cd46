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

CHANNEL_BLOCK = 16
"""Channel counts of the exported graph are padded to a multiple of this: onnxruntime's NCHWc block
(:class:`OnnxForm`)."""


class OnnxForm(nn.Module):
    """The fused network written for onnxruntime's CPU kernels: what the fused export contains.

    Same function as :class:`~neurotrio.sleep.model.FusedULWSleepNet` (its folded weights, copied at
    construction), written so that onnxruntime runs the extractor with its blocked-channel (NCHWc)
    kernels, conv + ReLU (+ the shortcut's sum) fused, and wastes little of each channel block:

    - every convolution is a 2-D one on ``(N, C, 1, L)`` maps, each ReLU directly follows its conv (before
      max-pooling: the same values, as both are monotonic), the kernel-1 stride-4 shortcut is a strided
      conv and the global mean a global average pool;
    - channel counts are multiples of :data:`CHANNEL_BLOCK` (onnxruntime's NCHWc block: 16 floats with
      AVX-512, 8 with AVX2). A block with fewer filters than that stages ``pack`` input channels of an
      epoch side by side (block-diagonal weights: 8 filters x 2 channels fill 16), the rest is padded
      with zero filters (exact zeros: zero weights and bias, ReLU(0) = 0; the head ignores them).
      Unpadded, the 8-filter first block ran in plain NCHW with a reorder around its ops (about half the
      time); padded alone it spends 3/4 of its conv work on zeros;
    - the fixed input scaling is one multiply-add (``x * (1 / scale) - center / scale``).

    The logits equal the training-form network's within float rounding (checked at export, 1e-5).
    ``pack=False`` pads without staging channels side by side (for benchmarks/sleep_inference.py).
    """

    def __init__(self, fused: FusedULWSleepNet, pack: bool = True):
        super().__init__()
        n_ch = fused.in_center.shape[0]
        with torch.no_grad():
            w = [t.detach().clone() for t in fused.weights]
            packed, prev, self.packs = [], 1, []
            for i in range(0, len(w), 6):
                w1, b1, w2, b2, ws, bs = w[i:i + 6]
                side = _pack_of(w1.shape[0], n_ch) if pack else 1  # input channels side by side
                unit = CHANNEL_BLOCK // side
                fp = -(-w1.shape[0] // unit) * unit  # filters per input channel, padded
                packed += [_block_diag(_pad(t, *shape), side) for t, shape in zip(
                    (w1, b1, w2, b2, ws, bs), ((fp, prev), (fp,), (fp, fp), (fp,), (fp, prev), (fp,)))]
                prev = fp
                self.packs.append(side)
            self.weights = nn.ParameterList(nn.Parameter(t[:, :, None, :] if t.ndim == 3 else t, requires_grad=False)
                                            for t in packed)
            n_cls = fused.head_w.shape[0]
            f_last = w[-6].shape[0]
            head = torch.zeros(n_cls, n_ch, prev)  # features (channel, filter), padded filters weigh 0
            head[:, :, :f_last] = fused.head_w.reshape(n_cls, n_ch, f_last)
            self.head_w = nn.Parameter(head.reshape(n_cls, n_ch * prev), requires_grad=False)
            self.head_b = nn.Parameter(fused.head_b.detach().clone(), requires_grad=False)
            self.in_mul = nn.Buffer((1.0 / fused.in_scale)[:, None].clone())
            self.in_add = nn.Buffer((-fused.in_center / fused.in_scale)[:, None].clone())

    def forward(self, x: Tensor) -> Tensor:
        b, ch, n = x.shape
        h = x * self.in_mul + self.in_add
        w = list(self.weights)
        for i in range(0, len(w), 6):
            w1, b1, w2, b2, ws, bs = w[i:i + 6]
            pack = self.packs[i // 6]
            if i == 0 or pack != self.packs[i // 6 - 1]:  # (epoch x channel groups, pack x filters, 1, time)
                h = h.reshape(b * ch // pack, -1, 1, h.shape[-1])
            main = F.max_pool2d(F.relu(F.conv2d(h, w1, b1, padding=(0, 1))), (1, 2), (1, 2), ceil_mode=True)
            main = F.max_pool2d(F.relu(F.conv2d(main, w2, b2, padding=(0, 1))), (1, 2), (1, 2), ceil_mode=True)
            h = F.conv2d(h, ws, bs, stride=(1, 4)) + main
        return F.linear(F.adaptive_avg_pool2d(h, 1).reshape(b, -1), self.head_w, self.head_b)


def _pack_of(filters: int, n_chans: int) -> int:
    """Input channels staged side by side in a block of ``filters`` filters (see :class:`OnnxForm`): the
    largest power of two that divides ``n_chans`` with ``pack * filters <= CHANNEL_BLOCK``."""
    pack = 1
    while n_chans % (2 * pack) == 0 and 2 * pack * filters <= CHANNEL_BLOCK:
        pack *= 2
    return pack


def _block_diag(t: Tensor, pack: int) -> Tensor:
    """Conv weight (out, in, k) -> (pack*out, pack*in, k) block-diagonal; bias (out,) -> (pack*out,)."""
    if pack == 1:
        return t
    if t.ndim == 1:
        return t.repeat(pack)
    return torch.stack([torch.block_diag(*[t[:, :, k]] * pack) for k in range(t.shape[2])], 2)


def _pad(t: Tensor, n_out: int, n_in: int | None = None) -> Tensor:
    """``t`` (out, [in, k]) with zero rows (and input columns) added up to ``n_out`` (and ``n_in``)."""
    out = t.new_zeros((n_out,) + ((n_in,) + tuple(t.shape[2:]) if n_in is not None else ()))
    out[(slice(0, t.shape[0]),) + ((slice(0, t.shape[1]),) if n_in is not None else ())] = t
    return out


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
