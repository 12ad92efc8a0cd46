"""CPU inference time per 30-s epoch of ULW-SleepNet: straightforward PyTorch vs the fused form vs onnxruntime.

    .venv/bin/python -m benchmarks.sleep_inference [--threads 1] [--repeats 7] [--no-write]

All variants run in the same process on the same random epochs (4 channels x 3000 samples), interleaved
round by round so machine load hits them alike; each figure is the median over rounds of the time to stage
``--epochs`` epochs, divided by that number. The baseline is the unfused training-form model in eval mode
under ``torch.no_grad`` at batch 32 (the reference's batch size), each separable conv run literally as a
depthwise conv then a pointwise conv. Rows run on ``--threads`` torch threads, except the last two:
``neurotrio.sleep.score.predict_proba`` as ``score`` calls it, staging one batch per core at once (torch
model, and the shipped ``.onnx``). The onnxruntime rows show the steps of the ONNX graph form
(:class:`neurotrio.sleep.export.OnnxForm`): the previous 2-D form, channels padded to onnxruntime's NCHWc
block, and the first block's channels staged side by side.
Writes the ``sleep-inference`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _ort_session(module: torch.nn.Module, threads: int):
    import onnxruntime as ort

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 4, 3000),), buf, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])


class Plain2D(torch.nn.Module):
    """The previous ONNX form (to 235f25f): 2-D convs on the fused weights, channel counts as they are (8 in
    the first block: onnxruntime runs that block in plain NCHW with layout reorders around its ops)."""

    def __init__(self, fused: torch.nn.Module):
        super().__init__()
        self.f = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        f = self.f
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


def main(argv: list[str] | None = None) -> int:
    from neurotrio.core.flops import count_params
    from neurotrio.core.results import markdown_table, update_markdown_section
    from neurotrio.sleep.model import load_model
    from neurotrio.sleep.score import predict_proba

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=256, help="epochs staged per timing")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model()
    net = model.net.eval()  # separable convs as one product-weight conv (the package default)
    literal = copy.deepcopy(net).set_dense_product(False)  # depthwise conv, then pointwise conv
    fused = net.fused()
    x = torch.from_numpy((np.random.default_rng(0).standard_normal((args.epochs, 4, 3000)) * 30).astype(np.float32))
    xn = x.numpy()
    from neurotrio.sleep.export import OnnxForm

    sess_fused, sess_plain = _ort_session(fused, args.threads), _ort_session(literal, args.threads)
    sess_shipped = _ort_session(OnnxForm(fused), args.threads)  # what `sleep export` writes and `score` runs
    sess_padded = _ort_session(OnnxForm(fused, pack=False), args.threads)
    sess_2d = _ort_session(Plain2D(fused), args.threads)
    from neurotrio.sleep.onnx_model import load_onnx_model
    from neurotrio.sleep.spec import DEFAULT_ONNX

    onnx_model = load_onnx_model(DEFAULT_ONNX)

    def torch_run(mod, bs, ctx):
        def run():
            with ctx():
                return torch.cat([mod(x[i:i + bs]) for i in range(0, len(x), bs)]).numpy()
        return run

    def ort_run(sess, bs):
        return lambda: np.concatenate([sess.run(None, {"input": xn[i:i + bs]})[0] for i in range(0, len(xn), bs)])

    variants = {
        "PyTorch, unfused (straightforward), no_grad, batch 32": torch_run(literal, 32, torch.no_grad),
        "PyTorch, unfused, no_grad, batch 1": torch_run(literal, 1, torch.no_grad),
        "PyTorch, training form (product-weight separable convs), no_grad, batch 32": torch_run(net, 32, torch.no_grad),
        "PyTorch, fused, inference_mode, batch 8": torch_run(fused, 8, torch.inference_mode),
        "PyTorch, fused, inference_mode, batch 16 (what `score` runs for a .safetensors model)": torch_run(fused, 16, torch.inference_mode),
        "PyTorch, fused, inference_mode, batch 64": torch_run(fused, 64, torch.inference_mode),
        "onnxruntime, unfused graph, batch 16": ort_run(sess_plain, 16),
        "onnxruntime, fused graph, batch 8": ort_run(sess_fused, 8),
        "onnxruntime, fused graph, batch 16": ort_run(sess_fused, 16),
        "onnxruntime, fused 2-D graph as exported before (8-filter block in NCHW + reorders), batch 16":
            ort_run(sess_2d, 16),
        "onnxruntime, 2-D graph, channels zero-padded to the 16-float NCHWc block, batch 16": ort_run(sess_padded, 16),
        "onnxruntime, 2-D graph, padded + first block 2 channels side by side (`OnnxForm`: the shipped .onnx, "
        "what `score` runs by default), batch 8": ort_run(sess_shipped, 8),
        "onnxruntime, the same (`OnnxForm`), batch 16": ort_run(sess_shipped, 16),
        "onnxruntime, the same (`OnnxForm`), batch 64": ort_run(sess_shipped, 64),
        f"neurotrio predict_proba, torch (fused, batch 16, one batch per core on {os.cpu_count()} cores)":
            lambda: np.log(predict_proba(model, [xn], 16, workers=os.cpu_count())),
        f"neurotrio predict_proba, shipped .onnx (batch 16, one batch per core on {os.cpu_count()} cores)":
            lambda: np.log(predict_proba(onnx_model, [xn], 16, workers=os.cpu_count())),
    }
    reference = variants["PyTorch, unfused (straightforward), no_grad, batch 32"]()
    times: dict[str, list[float]] = {k: [] for k in variants}
    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def log_softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    outs = {k: fn() for k, fn in variants.items()}  # also the warm-up
    diffs = {k: float(np.abs(log_softmax(o) - log_softmax(reference)).max()) for k, o in outs.items()}
    pdiffs = {k: float(np.abs(softmax(o) - softmax(reference)).max()) for k, o in outs.items()}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / args.epochs * 1e3)
    base = statistics.median(times["PyTorch, unfused (straightforward), no_grad, batch 32"])
    rows = []
    for name in variants:
        ms = statistics.median(times[name])
        rows.append([name, f"{ms:.3f}", f"{base / ms:.1f}x", f"{diffs[name]:.1e}", f"{pdiffs[name]:.1e}"])
        print(f"{name:62s} {ms:7.3f} ms/epoch  {base / ms:5.1f}x  max|dlogp| {diffs[name]:.1e} "
              f"max|dp| {pdiffs[name]:.1e}")
    flops = net.flops()
    params = count_params(net)
    print(f"params {params}  FLOPs {flops.total / 1e6:.3f}M")
    if not args.no_write:
        body = (f"### ULW-SleepNet CPU inference per 30-s epoch (this 2-core CPU, {args.threads} thread)\n\n"
                f"`.venv/bin/python -m benchmarks.sleep_inference --threads {args.threads}` — "
                f"{args.epochs} random 4-channel epochs, median of {args.repeats} interleaved rounds; the machine is "
                f"shared (1-min load average {os.getloadavg()[0]:.1f} on 2 cores at the end of this run), so compare rows of the same run. Embedded weights; the last two columns are the largest "
                f"log-probability and probability differences from the unfused batch-32 baseline (logits reach "
                f"{np.abs(reference).max():.0f}, so float32 rounding alone moves them by ~1e-5).\n\n"
                f"Parameters: {params:,} trainable; FLOPs per epoch: {flops.total / 1e6:.3f}M "
                f"({flops.matmul_conv / 1e6:.3f}M conv/matmul at 2 per MAC + {flops.bias / 1e6:.3f}M bias + "
                f"{flops.norm / 1e6:.3f}M batch-norm scale/shift; paper: 7.89M).\n\n"
                + markdown_table(["variant", "ms / epoch", "speed-up", "max abs log-prob diff", "max abs prob diff"], rows))
        update_markdown_section(ROOT / "BENCHMARKS.md", "sleep-inference", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
