"""ONNX export of a ULW-SleepNet model, checked against torch in onnxruntime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neurotrio.core.errors import NeurotrioError
from neurotrio.core.io import atomic_path
from neurotrio.sleep.model import SleepModel, load_model


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

    The graph includes the model's fixed input scaling. With ``fused`` (default) the inference form is
    exported (batch norm, shortcuts and head folded: faster in onnxruntime). The file is checked in
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
    target = net.fused() if fused else net
    with atomic_path(out) as tmp:
        diff = onnx_export.export_onnx(target, example, tmp, atol=atol)
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
