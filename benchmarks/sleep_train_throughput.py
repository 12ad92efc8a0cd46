"""ULW-SleepNet training throughput (samples/s) on this CPU, step by step against the straightforward form.

    .venv/bin/python -m benchmarks.sleep_train_throughput                  # the table (~3 min), BENCHMARKS.md
    .venv/bin/python -m benchmarks.sleep_train_throughput --batch 32 --no-write

Each row runs the step of ``neurotrio.sleep.train.train_model`` -- the network in training mode (dropout,
batch norm), cross-entropy, Adam (AMSGrad), cosine warm restarts stepped per batch, batches drawn from
tensors in memory (``TensorBatches``) -- on ``--samples`` random 4 x 3000 epochs (throughput does not
depend on the values), in its own child process (thread count and allocator are per-process settings).
Rows are run in turn for ``--rounds`` rounds and each keeps its best round, so that a burst of load from
other processes does not pick the winner. Ratios are to the first row, measured in the same run. Besides
wall-clock samples/s, each row reports samples per CPU-second of its processes: on a machine where other
jobs run, that is what an idle core would give a one-thread row (for several threads it also counts the
time spent spinning at barriers).

Rows: the straightforward form (``net.fast_train = False``: layer by layer as the reference Keras code)
with torch's defaults, then the means added one at a time: glibc keeping freed memory
(``core.threads.keep_freed_memory``), the rearranged training forward (``sleep.fast``) in PyTorch operators,
then with its fused C++ loops (``sleep.fast_ext``; built before timing, in the warm-up steps), two threads,
and two folds in two processes (one thread each; both warm up, then start their timed steps together;
wall-clock samples/s = both processes' samples over the span from that start to the last one's end).

Also prints the projected time of the Sleep-EDF-20 20-fold and Sleep-EDF-78 10-fold protocols (50 epochs)
at the best single-run rate and at the two-process rate, and on one GPU from ``--gpu-rate`` (the number
printed by ``benchmarks.sleep_train_gpu``; "not measured" until someone runs it on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Training sample-steps of a whole protocol: epochs per fold's training side x 50 epochs x folds.
# Sleep-EDF-20: 42,308 scored epochs (30 min of wake kept around sleep; DeepSleepNet's count); a fold
# trains on 19/20 of the subjects less 10 % held out for validation. Sleep-EDF-78: 195,479 epochs, 9/10 of
# the subjects less 10 %.
PROTOCOLS = {
    "Sleep-EDF-20, 20-fold x 50 epochs": 42_308 * (19 / 20) * 0.9 * 50 * 20,
    "Sleep-EDF-78, 10-fold x 50 epochs": 195_479 * (9 / 10) * 0.9 * 50 * 10,
}

ROWS = [  # (label, form: 0 straightforward / 1 rearranged, PyTorch operators / 2 + fused C++ loops,
    #         keep freed memory, threads, processes, bf16 autocast)
    ("straightforward form, torch defaults, 1 thread", 0, False, 1, 1, False),
    ("straightforward form, 2 threads", 0, False, 2, 1, False),
    ("straightforward form, 2 threads, bf16 autocast", 0, False, 2, 1, True),
    ("+ freed memory kept (glibc), 1 thread", 0, True, 1, 1, False),
    ("+ rearranged forward, PyTorch operators (sleep.fast), 1 thread", 1, True, 1, 1, False),
    ("+ fused C++ loops for BN + ReLU + pool and the first conv (sleep.fast_ext), 1 thread", 2, True, 1, 1, False),
    ("+ fused loops, bf16 autocast, 1 thread", 2, True, 1, 1, True),
    ("+ fused loops, 2 threads", 2, True, 2, 1, False),
    ("+ fused loops, 2 folds in 2 processes x 1 thread", 2, True, 1, 2, False),
]


def child(batch: int, steps: int, warmup: int, samples: int, fast: int, amp: bool,
          barrier: bool = False) -> tuple[float, ...]:
    """One timed run in this process (thread count and allocator already set): samples per second of
    wall time and per CPU-second of this process, and the timed span's start and end (epoch seconds)."""
    import torch
    from torch import nn

    from neurotrio.core.batches import TensorBatches
    from neurotrio.sleep.model import ULWSleepNet

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 4, 3000, generator=gen)
    y = torch.randint(0, 5, (samples,), generator=gen)
    net = ULWSleepNet().train()
    net.fast_train = bool(fast)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, amsgrad=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)
    loss_fn = nn.CrossEntropyLoss()
    batches = TensorBatches(x, y, batch, gen, drop_last=True)

    def stream():
        while True:
            yield from batches

    it = stream()
    for i in range(warmup + steps):
        if i == warmup:
            if barrier:  # wait until every process of the row has warmed up, then all start together
                print("ready", flush=True)
                sys.stdin.readline()
            t0, c0, e0 = time.perf_counter(), time.process_time(), time.time()
        xb, yb = next(it)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(net(xb).float(), yb)
        loss.backward()
        opt.step()
        sched.step()
    return (steps * batch / (time.perf_counter() - t0), steps * batch / (time.process_time() - c0), e0,
            time.time())


def run_row(row: tuple, args: argparse.Namespace) -> tuple[float, float]:
    """Samples/s of one row (wall, CPU): its child processes started together. Wall: all processes'
    samples over the span from the first timed start to the last timed end (so a process that ran while
    the other was still warming up is not counted twice); CPU: the sum of their per-CPU-second rates."""
    _, fast, keep, threads, procs, amp = row
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "NEUROTRIO_KEEP_FREED_MEMORY": "1" if keep else "0",
           "NEUROTRIO_FAST_EXT": "1" if fast == 2 else "0"}
    cmd = [sys.executable, "-m", "benchmarks.sleep_train_throughput", "--child",
           json.dumps([args.batch, args.steps, args.warmup, args.samples, fast, amp, keep, threads])]
    if procs > 1:
        cmd.append("--barrier")
    kids = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(procs)]
    if procs > 1:  # all warmed up (extension loaded, memory at its peak) before any timed step
        for k in kids:
            while k.stdout.readline().strip() != "ready":
                pass
        for k in kids:
            k.stdin.write("go\n")
            k.stdin.flush()
    rates = [json.loads(k.communicate()[0].strip().splitlines()[-1]) for k in kids]
    if procs == 1:
        return rates[0][0], rates[0][1]
    span = max(r[3] for r in rates) - min(r[2] for r in rates)
    return procs * args.steps * args.batch / span, sum(r[1] for r in rates)


def hours(sample_steps: float, rate: float) -> str:
    h = sample_steps / rate / 3600
    return f"{h:.1f} h" if h >= 1 else f"{h * 60:.0f} min"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2048, help="synthetic epochs held in memory")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rows", help="comma list of row numbers to run (default: all)")
    ap.add_argument("--gpu-rate", type=float, help="samples/s printed by benchmarks.sleep_train_gpu on one GPU")
    ap.add_argument("--quiet-note", default="not stated", help="was the machine quiet? (written beside the table)")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--barrier", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        batch, steps, warmup, samples, fast, amp, keep, threads = json.loads(args.child)
        import torch

        from neurotrio.core.threads import keep_freed_memory

        if keep:
            keep_freed_memory()
        torch.set_num_threads(threads)
        print(json.dumps(child(batch, steps, warmup, samples, fast, amp, args.barrier)))
        return 0
    rows = [ROWS[int(i)] for i in args.rows.split(",")] if args.rows else ROWS
    best, best_cpu = [0.0] * len(rows), [0.0] * len(rows)
    for _ in range(args.rounds):
        for i, row in enumerate(rows):
            wall, cpu = run_row(row, args)
            best[i], best_cpu[i] = max(best[i], wall), max(best_cpu[i], cpu)
            print(f"{row[0]}: {wall:.0f} samples/s ({cpu:.0f} per CPU-second)", flush=True)
    base, base_cpu = best[0], best_cpu[0]
    single = max(r for r, row in zip(best, rows) if row[4] == 1)
    multi = max([r for r, row in zip(best, rows) if row[4] > 1] or [single])
    idle = max([c for c, row in zip(best_cpu, rows) if row[4] > 1] or [max(best_cpu)])
    lines = ["| step | samples/s (wall) | vs first row | samples per CPU-second | vs first row |",
             "|---|---|---|---|---|"]
    lines += [f"| {row[0]} | {rate:,.0f} | {rate / base:.2f}x | {cpu:,.0f} | {cpu / base_cpu:.2f}x |"
              for row, rate, cpu in zip(rows, best, best_cpu)]
    proj = ["| protocol | sample-steps | one training run at a time | two folds at a time (2 processes) | "
            "two folds at a time, idle cores (from samples per CPU-second) | one GPU |", "|---|---|---|---|---|---|"]
    for name, n in PROTOCOLS.items():
        gpu = hours(n, args.gpu_rate) if args.gpu_rate else "not measured"
        proj.append(f"| {name} | {n / 1e6:.0f}M | {hours(n, single)} | {hours(n, multi)} | {hours(n, idle)} | {gpu} |")
    table, projection = "\n".join(lines), "\n".join(proj)
    print(table + "\n\n" + projection)
    if not args.no_write:
        from neurotrio.core.results import update_markdown_section

        cmd = (f".venv/bin/python -m benchmarks.sleep_train_throughput --batch {args.batch} --steps {args.steps} "
               f"--warmup {args.warmup} --rounds {args.rounds}")
        body = ("### ULW-SleepNet training throughput (synthetic 4 x 3000 epochs, this 2-core CPU)\n\n"
                f"`{cmd}` — batch {args.batch}, {args.steps} timed steps after {args.warmup} warm-up steps per "
                f"round, best of {args.rounds} rounds, each row in its own process; the step of `train_model` "
                "(training-mode network, Adam AMSGrad, per-batch cosine restarts, data in memory). Machine "
                f"quiet: {args.quiet_note}.\n\n{table}\n\nProjected training time (50 epochs per fold; validation "
                f"and data loading not included):\n\n{projection}\n")
        key = "sleep-train-throughput" + ("" if args.batch == 256 else f"-b{args.batch}")
        update_markdown_section(ROOT / "BENCHMARKS.md", key, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
