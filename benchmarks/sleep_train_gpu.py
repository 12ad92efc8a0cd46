"""ULW-SleepNet training throughput on one GPU: folds batched, data on the device, compiled (<= 8 min).

    .venv/bin/python -m benchmarks.sleep_train_gpu                 # on a GPU machine: prints the table
    .venv/bin/python -m benchmarks.sleep_train_gpu --tiny          # CPU smoke run (what the test runs)

Rows, each measured in this run for ``--seconds`` after warm-up (samples/s = training samples of all
folds per second; every step of every fold is the ``train_model`` step: training-mode network, Adam
AMSGrad, per-batch cosine restarts):

1. one ULW-SleepNet, eager (the straightforward form, as ``train_model`` runs it on a GPU);
2. K folds batched as one network (``sleep.folds.BatchedFoldsNet``: grouped convolutions, each fold its
   own batch, batch-norm statistics and Adam state), eager;
3. the same under ``torch.compile`` (``--compile-mode``, default ``max-autotune-no-cudagraphs``) and bf16
   autocast; the optimizer step compiled too;
4. the same captured in CUDA graphs (``reduce-overhead``) when on CUDA.

Data: ``--samples`` random 4 x 3000 epochs per fold held on the device; each step draws a random batch
per fold on the device (no host transfers). Before timing, the script checks on the device that the
batched network's gradients equal K separate ``ULWSleepNet``s' (``check_equivalence``).

Prints the projected Sleep-EDF-20 20-fold and Sleep-EDF-78 10-fold training times at the best rate; give
that rate to ``benchmarks.sleep_train_throughput --gpu-rate`` to put it beside the CPU's in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from benchmarks.sleep_train_throughput import PROTOCOLS, hours


def check_equivalence(device: torch.device, k: int = 2, batch: int = 4) -> float:
    """Largest relative gradient difference between BatchedFoldsNet and K separate ULWSleepNets."""
    from neurotrio.sleep.folds import BatchedFoldsNet
    from neurotrio.sleep.model import ULWSleepNet, ULWSleepNetConfig

    torch.manual_seed(0)
    cfg = ULWSleepNetConfig(block_dropout=0.0, head_dropout=0.0)  # dropout draws differ by layout
    nets = [ULWSleepNet(cfg).to(device).train() for _ in range(k)]
    for net in nets:
        net.fast_train = False
    batched = BatchedFoldsNet(nets).to(device).train()
    x = torch.randn(k, batch, 4, 3000, device=device) * 20
    y = torch.randint(0, 5, (k, batch), device=device)
    nn.functional.cross_entropy(batched(x).flatten(0, 1), y.flatten(), reduction="sum").backward()
    worst = 0.0
    for i, net in enumerate(nets):
        nn.functional.cross_entropy(net(x[i]), y[i], reduction="sum").backward()
        scale = max(float(p.grad.abs().max()) for p in net.parameters())
        for name, param in zip(batched.names, batched.params):
            ref = dict(net.named_parameters())[name].grad
            worst = max(worst, float((param.grad[i] - ref).abs().max()) / scale)
    return worst


def measure(device: torch.device, folds: int, batch: int, samples: int, seconds: float, batched: bool,
            compile_mode: str | None, amp: bool, warmup: int) -> float:
    """Training samples per second (all folds) of one configuration."""
    from neurotrio.sleep.folds import BatchedFoldsNet
    from neurotrio.sleep.model import ULWSleepNet

    torch.manual_seed(0)
    k = folds if batched else 1
    x = torch.randn(k, samples, 4, 3000, device=device)
    y = torch.randint(0, 5, (k, samples), device=device)
    nets = [ULWSleepNet() for _ in range(k)]
    for net in nets:
        net.fast_train = False
    model = (BatchedFoldsNet(nets) if batched else nets[0]).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    fwd = torch.compile(model, mode=compile_mode) if compile_mode else model
    ar = torch.arange(k, device=device)[:, None]

    def step() -> None:
        idx = torch.randint(0, samples, (k, batch), device=device)
        xb, yb = x[ar, idx], y[ar, idx]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = fwd(xb) if batched else fwd(xb[0])[None]
        loss = loss_fn(out.float().flatten(0, 1), yb.flatten()) / batch  # each fold: its own mean loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        if n % 10 == 0 or device.type != "cuda":
            sync()
            if time.perf_counter() - t0 >= seconds:
                break
    return n * batch * k / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    from neurotrio.core.seed import pick_device

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--folds", type=int, default=20, help="folds batched (Sleep-EDF-20: 20)")
    ap.add_argument("--batch", type=int, default=256, help="samples per fold per step")
    ap.add_argument("--samples", type=int, default=4096, help="synthetic epochs per fold on the device")
    ap.add_argument("--seconds", type=float, default=20.0, help="timed seconds per row")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--compile-mode", default="max-autotune-no-cudagraphs")
    ap.add_argument("--tiny", action="store_true", help="CPU smoke configuration (2 folds, batch 4, no compile)")
    args = ap.parse_args(argv)
    if args.tiny:
        args.device, args.folds, args.batch, args.samples, args.seconds, args.warmup = "cpu", 2, 4, 8, 0.01, 1
    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    diff = check_equivalence(device)
    print(f"device: {name}; batched-folds gradient vs separate models: max relative difference {diff:.1e}")
    if diff > 1e-3:
        raise SystemExit(f"batched folds do not match separate models ({diff:.1e}); not timing")
    rows = [("one model, eager, fp32", False, None, False),
            (f"{args.folds} folds batched, eager, fp32", True, None, False)]
    if not args.tiny:
        rows.append((f"{args.folds} folds batched, compiled ({args.compile_mode}), bf16", True, args.compile_mode,
                     True))
        if device.type == "cuda":
            rows.append((f"{args.folds} folds batched, CUDA graphs (reduce-overhead), bf16", True, "reduce-overhead",
                         True))
    lines = ["| configuration | samples/s |", "|---|---|"]
    best = 0.0
    for label, batched, mode, amp in rows:
        t0 = time.perf_counter()
        try:
            rate = measure(device, args.folds, args.batch, args.samples, args.seconds, batched, mode, amp,
                           args.warmup)
        except Exception as exc:  # noqa: BLE001 - a failed compile mode is reported, the others still run
            print(f"{label}: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})", flush=True)
            lines.append(f"| {label} | failed: {type(exc).__name__} |")
            continue
        best = max(best, rate)
        print(f"{label}: {rate:,.0f} samples/s ({time.perf_counter() - t0:.0f} s with warm-up)", flush=True)
        lines.append(f"| {label} | {rate:,.0f} |")
    print(f"\n{name}, batch {args.batch} per fold\n" + "\n".join(lines))
    for proto, n in PROTOCOLS.items():
        print(f"{proto}: {hours(n, best)} at {best:,.0f} samples/s")
    print(f"best_samples_per_s={best:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
