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


def test_padded_onnx_form_equals_the_network_for_any_filter_counts(tmp_path) -> None:
    """Filters that are not multiples of the NCHWc block (5, 12, 20) and 2 channels: the zero-padded graph
    gives the training-form network's logits."""
    import onnxruntime as ort

    from neurotrio.sleep.export import CHANNEL_BLOCK, OnnxForm
    from neurotrio.sleep.spec import ULWSleepNetConfig

    torch.manual_seed(3)
    net = randomize_bn(ULWSleepNet(ULWSleepNetConfig(n_chans=2, filters=(5, 12, 20)))).eval()
    net.in_center.copy_(torch.tensor([2.0, -1.0]))
    net.in_scale.copy_(torch.tensor([25.0, 40.0]))
    form = OnnxForm(net.fused())
    assert form.packs == [2, 1, 1]  # 2 x 5 filters (padded to 8) fill one block; 12 and 20 are padded alone
    assert all(w.shape[0] % CHANNEL_BLOCK == 0 for w in form.weights)
    model = SleepModel(net, ("EEG Fpz-Cz", "EOG horizontal"), "fixed")
    res = export_onnx(tmp_path / "m.onnx", model)
    x = (np.random.default_rng(1).standard_normal((5, 2, 3000)) * 40).astype(np.float32)
    got = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
        assert np.abs(form(torch.from_numpy(x)).numpy() - want).max() <= 1e-5
    assert np.abs(got - want).max() <= 1e-5


def test_onnxruntime_runs_the_whole_fused_graph_in_blocked_layout(tmp_path) -> None:
    """The speed of the shipped graph (BENCHMARKS.md, sleep vs YASA): onnxruntime's optimizer turns every
    conv and max-pool into its NCHWc form and reorders the layout twice only (where the first block's
    channel pairs part, and before the global pool), not around each op of the 8-filter first block (the
    unpadded graph had 4 reorders and 2 plain MaxPools)."""
    import onnx
    import onnxruntime as ort

    from neurotrio.sleep.spec import DEFAULT_ONNX

    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "opt.onnx")
    opts.log_severity_level = 3
    ort.InferenceSession(str(DEFAULT_ONNX), opts, providers=["CPUExecutionProvider"])
    nodes = [(n.op_type, n.domain) for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node]
    if not any(d == "com.microsoft.nchwc" for _, d in nodes):
        pytest.skip("this CPU has no NCHWc kernels in onnxruntime (no AVX2/AVX-512)")
    assert ("MaxPool", "") not in nodes and ("Conv", "") not in nodes
    assert sum(op.startswith("Reorder") for op, _ in nodes) == 2
