"""A real 2-fold `neurotrio sleep train` run, end to end, on synthetic Sleep-EDF-shaped recordings.

    .venv/bin/python -m benchmarks.sleep_train_2fold [--subjects 4] [--night-epochs 1000] [--epochs 5] [--threads 1]

Writes ``--subjects`` x 2 synthetic nights in PhysioNet's Sleep-EDF layout (``sleep-cassette/SCssNE0-PSG.edf``
+ ``-Hypnogram.edf``: EEG Fpz-Cz, EEG Pz-Oz, EOG horizontal at 100 Hz, EMG submental at 1 Hz, stages
with their signal signatures; ``tests/sleep/synthetic.py``) into a temporary folder, then times the
command a user runs -- reading the EDF files, preparing epochs, training both folds with validation,
testing, writing every result file -- in a fresh process:

    neurotrio sleep train --data DIR --out OUT --subset all --epochs E --threads N --set n_folds=2

Prints the wall time and the command's CPU time (on a machine shared with other jobs, CPU time is what an
idle core would take for a one-thread run), the training sample-steps, and the end-to-end sample-steps
per second (to compare with ``benchmarks.sleep_train_throughput``, which times the training step alone). Synthetic data: the
accuracy it prints says nothing about sleep staging.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_nights(folder: Path, subjects: int, night_epochs: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.sleep.synthetic import default_stages, write_synthetic_hypnogram, write_synthetic_psg

    cassette = folder / "sleep-cassette"
    for s in range(subjects):
        for night in (1, 2):
            base = default_stages(night_epochs)
            stages = base[s + night:] + base[:s + night]
            write_synthetic_psg(cassette / f"SC4{s:02d}{night}E0-PSG.edf", stages=stages, seed=10 * s + night)
            write_synthetic_hypnogram(cassette / f"SC4{s:02d}{night}EC-Hypnogram.edf", stages)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--night-epochs", type=int, default=1000, help="30-s epochs per night (Sleep-EDF: ~1,100 "
                                                                   "after trimming wake)")
    ap.add_argument("--epochs", type=int, default=5, help="training epochs per fold")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "sleep-edf", Path(tmp) / "out"
        t0 = time.perf_counter()
        write_nights(data, args.subjects, args.night_epochs)
        print(f"wrote {2 * args.subjects} synthetic nights in {time.perf_counter() - t0:.0f} s", flush=True)
        cmd = [sys.executable, "-m", "neurotrio.cli", "sleep", "train", "--data", str(data), "--out", str(out),
               "--subset", "all", "--epochs", str(args.epochs), "--threads", str(args.threads),
               "--set", "n_folds=2"]
        import resource

        def child_cpu() -> float:
            r = resource.getrusage(resource.RUSAGE_CHILDREN)
            return r.ru_utime + r.ru_stime

        t0, c0 = time.perf_counter(), child_cpu()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall, cpu = time.perf_counter() - t0, child_cpu() - c0
        if proc.returncode:
            print(proc.stdout[-2000:], proc.stderr[-2000:])
            return proc.returncode
        folds = [json.loads(p.read_text()) for p in sorted(out.glob("fold*.json"))]
        steps = sum(len(f["history"]) for f in folds)
        from neurotrio.sleep.model import load_model

        sample_steps = sum(load_model(out / f"fold{i}.safetensors").metadata["n_train_epochs"] * args.epochs
                           for i in range(len(folds)))
        print("\n".join(line for line in proc.stdout.splitlines() if "pooled" in line or "warning" in line))
        print(f"2-fold end to end: {wall:.0f} s wall, {cpu:.0f} CPU-s ({steps} fold-epochs, {sample_steps:,} "
              f"training sample-steps: {sample_steps / wall:.0f} per wall-second, {sample_steps / cpu:.0f} per "
              f"CPU-second, end to end incl. EDF reading, validation and writing; threads={args.threads})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
