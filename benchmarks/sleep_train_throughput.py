"""ULW-SleepNet training throughput (samples/s) on synthetic Sleep-EDF-shaped data; GPU-ready.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sleep_train_throughput               # CPU-scale run
    .venv/bin/python -m benchmarks.sleep_train_throughput --device cuda --steps 400 --compile   # on a GPU

The step is the one ``neurotrio.sleep.train.train_model`` runs: the training-form network (dropout,
batch norm), cross-entropy, Adam (AMSGrad), cosine warm restarts stepped per batch, batches drawn from
tensors already on the device (``TensorBatches``). Data: ``--samples`` random 4 x 3000 epochs with
random labels (throughput does not depend on the values). A Sleep-EDF-20 20-fold x 50-epoch
cross-validation is ~42M sample-steps: at the goal of 140K samples/s that is 5 minutes.
Writes the ``sleep-train-throughput`` section of BENCHMARKS.md (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_STEPS_20FOLD = 42e6


def measure(device: torch.device, batch: int, steps: int, warmup: int, samples: int, compile_: bool,
            amp: bool) -> float:
    """Samples per second over ``steps`` optimiser steps after ``warmup`` steps."""
    from torch import nn

    from neurotrio.core.batches import TensorBatches
    from neurotrio.sleep.model import ULWSleepNet

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 4, 3000, generator=gen).to(device)
    y = torch.randint(0, 5, (samples,), generator=gen).to(device)
    net = ULWSleepNet().to(device).train()
    fwd = torch.compile(net) if compile_ else net
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, amsgrad=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)
    loss_fn = nn.CrossEntropyLoss()
    batches = TensorBatches(x, y, batch, gen)

    def stream():
        while True:
            yield from batches

    it = stream()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for i in range(warmup + steps):
        if i == warmup:
            sync()
            t0 = time.perf_counter()
        xb, yb = next(it)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(fwd(xb), yb)
        loss.backward()
        opt.step()
        sched.step()
    sync()
    return steps * batch / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    from neurotrio.core.results import update_markdown_section
    from neurotrio.core.seed import pick_device

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2048, help="synthetic epochs held on the device")
    ap.add_argument("--compile", action="store_true", help="torch.compile the network")
    ap.add_argument("--amp", action="store_true", help="bfloat16 autocast")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"this 2-core CPU, {args.threads} thread"
    rate = measure(device, args.batch, args.steps, args.warmup, args.samples, args.compile, args.amp)
    minutes = SAMPLE_STEPS_20FOLD / rate / 60
    line = (f"device={name} batch={args.batch} compile={args.compile} amp={args.amp} samples_per_s={rate:.0f} "
            f"sleep_edf20_20fold_50epoch_min={minutes:.0f}")
    print(line)
    if not args.no_write:
        flags = " ".join(f for f, on in (("--compile", args.compile), ("--amp", args.amp)) if on)
        cmd = (f"OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sleep_train_throughput --device {args.device} "
               f"--batch {args.batch} --steps {args.steps} {flags}").rstrip()
        body = ("### ULW-SleepNet training throughput (synthetic 4 x 3000 epochs)\n\n"
                f"`{cmd}` — "
                f"{args.steps} timed steps after {args.warmup} warm-up steps; the step of `train_model` "
                "(training-form network, Adam AMSGrad, per-batch cosine restarts, data on the device).\n\n"
                "| device | batch | samples/s | Sleep-EDF-20 20-fold x 50 epochs (42M sample-steps) |\n|---|---|---|---|\n"
                f"| {name} | {args.batch} | {rate:,.0f} | {minutes:,.0f} min |\n"
                "| GPU | 256 | pending: no GPU was available to this session; rerun the command with "
                "`--device cuda --steps 400 --samples 65536 --compile` on one (goal >= 140K samples/s) | |\n\n"
                f"`{line}`\n")
        update_markdown_section(ROOT / "BENCHMARKS.md", "sleep-train-throughput", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
