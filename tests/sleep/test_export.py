"""ONNX export: onnxruntime output equals the torch model within 1e-5, fused or not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurotrio.core.errors import CheckpointError
from neurotrio.sleep.edf import DEFAULT_CHANNELS
from neurotrio.sleep.export import export_onnx
from neurotrio.sleep.model import SleepModel, ULWSleepNet
from tests.sleep.test_model import randomize_bn


@pytest.mark.parametrize("fused", [True, False])
def test_onnx_matches_torch(tmp_path, fused: bool) -> None:
    import onnxruntime as ort

    torch.manual_seed(2)
    net = randomize_bn(ULWSleepNet()).eval()
    net.in_center.fill_(1.5)
    net.in_scale.fill_(30.0)
    model = SleepModel(net, DEFAULT_CHANNELS, "fixed")
    res = export_onnx(tmp_path / "m.onnx", model, fused=fused)
    assert res.max_abs_diff <= 1e-5 and res.path.is_file()
    x = (np.random.default_rng(0).standard_normal((3, 4, 3000)) * 40).astype(np.float32)
    got = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() <= 1e-5
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left


def test_export_of_a_bad_model_file_writes_nothing(tmp_path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="safetensors"):
        export_onnx(tmp_path / "m.onnx", bad)
    assert not (tmp_path / "m.onnx").exists()
