"""ONNX export with an onnxruntime equality check."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurotrio.core.errors import NeurotrioError
from neurotrio.core.io import atomic_path

log = logging.getLogger(__name__)


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path, atol: float = 1e-5,
                opset: int = 17) -> float:
    """Export ``model`` (batch axis dynamic) to one self-contained ``.onnx`` file and verify it.

    Runs the file in onnxruntime on ``example`` and compares with torch. Returns the max absolute
    difference; raises ``NeurotrioError`` (and writes nothing) if it exceeds ``atol``.
    """
    import onnxruntime as ort

    model = model.eval().cpu()
    example = example.cpu()
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), str(tmp), input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset,
            dynamo=False,
        )
        sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"input": example.numpy()})[0]
        with torch.no_grad():
            want = model(example).numpy()
        diff = float(np.max(np.abs(got - want)))
        if not diff <= atol:
            raise NeurotrioError(f"ONNX export of {path.name} differs from torch by {diff:.2e} > {atol:.0e}")
    log.info("exported %s (max |onnx - torch| = %.2e)", path, diff)
    return diff
