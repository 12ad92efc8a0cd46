"""The rearranged training forward (sleep.fast) computes the straightforward form's function exactly.

What would break: a wrong batch-norm gradient (the closed form in _BNReluPool), a pooled winner routed to
the wrong position (ties, odd lengths with ceil_mode), the merged shortcut, the first conv's even/odd
planes, the running-statistics update, or the dispatch (eval mode, torchrun's synced batch norm, the
literal separable convs) -- each shows as a gradient, output or buffer that differs from the reference.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from neurotrio.sleep.fast import _BNReluPool, supports_fast, train_forward
from neurotrio.sleep.model import ULWSleepNet, ULWSleepNetConfig


def _pair(cfg: ULWSleepNetConfig | None = None, seed: int = 0) -> tuple[ULWSleepNet, ULWSleepNet]:
    torch.manual_seed(seed)
    ref = ULWSleepNet(cfg).train()
    with torch.no_grad():  # batch-norm scales of both signs: max-pool and ReLU must commute for either
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.uniform_(-1.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    ref.fast_train = False
    fast = copy.deepcopy(ref)
    fast.fast_train = True
    return ref, fast


def _grads(net: ULWSleepNet, x: torch.Tensor, y: torch.Tensor, seed: int = 1) -> tuple[torch.Tensor, list]:
    torch.manual_seed(seed)  # the same dropout draws in both forms
    out = net(x)
    F.cross_entropy(out, y).backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.fixture(params=["fused loops", "PyTorch operators"])
def form(request, monkeypatch) -> str:
    """Run a test through sleep.fast's fused C++ loops (sleep.fast_ext) and through its PyTorch-operator
    fallback (what runs where no C++ compiler is found)."""
    import neurotrio.sleep.fast as fast_mod
    from neurotrio.sleep.fast_ext import ops

    if request.param == "fused loops":
        if ops() is None:
            pytest.skip("the fused C++ loops could not be built here (no C++ compiler?)")
    else:
        monkeypatch.setattr(fast_mod, "_ext", lambda z: None)
    return request.param


@pytest.mark.parametrize("n_chans", [4, 1])
def test_gradients_equal_reference_form(n_chans: int, form: str) -> None:
    ref, fast = _pair(ULWSleepNetConfig(n_chans=n_chans))
    x = torch.randn(5, n_chans, 3000) * 30 + 5
    y = torch.tensor([0, 1, 2, 3, 4])
    out_r, g_r = _grads(ref, x, y)
    out_f, g_f = _grads(fast, x, y)
    torch.testing.assert_close(out_f, out_r, rtol=1e-4, atol=1e-5)
    scale = max(float(g.abs().max()) for g in g_r)
    for (name, _), a, b in zip(ref.named_parameters(), g_f, g_r):
        # conv biases before batch norm have a true gradient of 0 (both forms give rounding noise), so
        # every gradient is compared at the scale of the largest one
        assert float((a - b).abs().max()) <= 2e-5 * scale, name
    for (name, a), (_, b) in zip(fast.named_buffers(), ref.named_buffers()):
        torch.testing.assert_close(a.float(), b.float(), rtol=1e-5, atol=1e-6, msg=name)


def test_dispatch_uses_fast_form_only_in_cpu_training() -> None:
    _, fast = _pair()
    calls = []
    orig = _BNReluPool.forward

    def spy(*args, **kwargs):
        calls.append(1)
        return orig(*args, **kwargs)

    x = torch.randn(2, 4, 3000)
    _BNReluPool.forward = staticmethod(spy)
    try:
        fast(x)
        assert calls, "training forward on CPU should take the fast form"
        calls.clear()
        fast.eval()
        fast(x)
        assert not calls, "eval mode keeps the straightforward form (running statistics)"
        fast.train()
        with torch.no_grad():
            fast(x)
        assert not calls, "no autograd: nothing to save for backward"
        fast.set_dense_product(False)
        fast(x)
        assert not calls, "literal separable convs requested: straightforward form"
    finally:
        _BNReluPool.forward = staticmethod(orig)


def test_synced_batchnorm_keeps_its_own_forward() -> None:
    from neurotrio.core.sync_batchnorm import convert_batchnorm

    _, fast = _pair()
    assert supports_fast(fast)
    convert_batchnorm(fast, torch.device("cpu"))
    assert not supports_fast(fast)  # under torchrun the statistics must come from every rank


@pytest.mark.parametrize("length", [10, 11, 375])
def test_bn_relu_pool_matches_layers_including_odd_lengths_and_ties(length: int, form: str) -> None:
    torch.manual_seed(length)
    z = torch.randn(3, 4, length)
    z[..., 1::2][..., :2] = z[..., 0::2][..., :2]  # exact ties: the gradient goes to the first position
    bn_ref = torch.nn.BatchNorm1d(4, eps=1e-3, momentum=0.01).train()
    with torch.no_grad():
        bn_ref.weight.copy_(torch.tensor([1.2, -0.7, 0.3, -1.5]))
        bn_ref.bias.copy_(torch.tensor([0.1, -0.2, 0.4, 0.0]))
    bn_fast = copy.deepcopy(bn_ref)
    g = torch.randn(3, 4, (length + 1) // 2)
    z_r = z.clone().requires_grad_()
    out_r = F.max_pool1d(F.relu(bn_ref(z_r)), 2, 2, ceil_mode=True)
    out_r.backward(g)
    z_f = z.clone().requires_grad_()
    out_f = _BNReluPool.apply(z_f, bn_fast.weight, bn_fast.bias, bn_fast, False)
    out_f.backward(g)
    torch.testing.assert_close(out_f, out_r, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(z_f.grad, z_r.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn_fast.weight.grad, bn_ref.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn_fast.bias.grad, bn_ref.bias.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn_fast.running_var, bn_ref.running_var)
    torch.testing.assert_close(bn_fast.running_mean, bn_ref.running_mean)


def test_input_gradient_when_the_input_requires_grad(form: str) -> None:
    """With an input that requires grad the first block keeps its conv output (even/odd planes path):
    the input's gradient, too, equals the reference form's (the fused first block would give none)."""
    ref, fast = _pair()
    x = torch.randn(3, 4, 3000) * 30
    y = torch.tensor([0, 1, 2])
    grads = []
    for net in (ref, fast):
        xi = x.clone().requires_grad_()
        torch.manual_seed(1)
        F.cross_entropy(net(xi), y).backward()
        grads.append(xi.grad)
    assert float((grads[1] - grads[0]).abs().max()) <= 2e-5 * float(grads[0].abs().max())


def test_fused_loops_are_the_ones_tested() -> None:
    """The training forward dispatches to the fused first block when the loops are built (so the
    'fused loops' runs above test them, not the fallback twice)."""
    import neurotrio.sleep.fast as fast_mod
    from neurotrio.sleep.fast_ext import ops

    if ops() is None:
        pytest.skip("the fused C++ loops could not be built here (no C++ compiler?)")
    _, fast = _pair()
    out = fast(torch.randn(2, 4, 3000))
    names, seen, stack = set(), set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            names.add(type(node).__name__)
            stack.extend(n for n, _ in node.next_functions)
    assert "_FirstBlockConvBackward" in names and "_BNReluPoolBackward" in names, names
    assert fast_mod._ext(torch.zeros(1)) is not None


def test_train_forward_rejects_wrong_shape() -> None:
    from neurotrio.core.errors import ConfigError

    _, fast = _pair()
    with pytest.raises(ConfigError, match=r"\(batch, 4, 3000\)"):
        train_forward(fast, torch.zeros(2, 3, 3000))


def test_parameters_and_export_unchanged_by_fast_training(tmp_path) -> None:
    """A model trained through the fast form is a plain ULWSleepNet: same keys, loads, exports."""
    import numpy as np

    from neurotrio.sleep.model import load_model, save_model
    from neurotrio.sleep.train import TrainConfig, train_model

    rng = np.random.default_rng(0)
    x = rng.normal(0, 20, (24, 4, 3000)).astype(np.float32)
    y = np.arange(24) % 5
    model, _ = train_model(x, y, TrainConfig(epochs=1, batch_size=8), progress=False)
    assert set(model.net.state_dict()) == set(ULWSleepNet(model.config).state_dict())
    path = save_model(model, tmp_path / "m.safetensors")
    again = load_model(path)
    with torch.no_grad():
        torch.testing.assert_close(again.net(torch.from_numpy(x[:4])), model.net(torch.from_numpy(x[:4])))
    pytest.importorskip("onnxruntime")
    from neurotrio.sleep.export import export_onnx

    assert export_onnx(tmp_path / "m.onnx", again).max_abs_diff < 1e-4


def test_bf16_autocast_runs_and_stays_close() -> None:
    """bf16 autocast (fp32 master weights) through the fast form: gradients in fp32, near the fp32 ones."""
    ref, fast = _pair()
    x = torch.randn(4, 4, 3000) * 30
    y = torch.tensor([0, 1, 2, 3])
    _, g_r = _grads(ref, x, y)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fast(x)
    F.cross_entropy(out.float(), y).backward()
    scale = max(float(g.abs().max()) for g in g_r)
    for (name, p), g in zip(fast.named_parameters(), g_r):
        assert p.grad.dtype == torch.float32, name
        assert float((p.grad - g).abs().max()) <= 0.1 * scale, name
