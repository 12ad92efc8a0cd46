"""Development result on the one real night: the within-recording protocol on Sleep-EDF SC4001.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sleep_within_recording [--epochs 50] [--no-write]

Trains ULW-SleepNet (reference optimiser and schedule, defaults of ``TrainConfig``) on the first ~70 % of
the night's 841 prepared epochs (the last 20 % of that part validates), tests on the last 30 %. This is
within-night generalisation for ONE person, not a Sleep-EDF-20/78 result. Writes the
``sleep-within-recording`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NEUROTRIO_SHARED_DATA", ROOT.parent / "shared" / "data")) / "sleep" / "sleep-edf"


def main(argv: list[str] | None = None) -> int:
    import torch

    from neurotrio.core.results import markdown_table, update_markdown_section
    from neurotrio.sleep.sleepedf import find_records, prepare_record
    from neurotrio.sleep.train import TrainConfig, run_within_recording

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--straightforward", action="store_true",
                    help="train with the literal layer-by-layer form instead of sleep.fast (the same function)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.straightforward:
        from neurotrio.sleep.model import ULWSleepNet

        ULWSleepNet.fast_train = False
    night = prepare_record(next(r for r in find_records(DATA) if r.record == "SC4001"))
    cfg = TrainConfig(protocol="within-recording", epochs=args.epochs)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        res = run_within_recording(night, cfg, out, progress=False)
    minutes = (time.perf_counter() - t0) / 60
    m = res["test"]
    line = (f"form={'straightforward' if args.straightforward else 'fast'} record=SC4001 protocol=within-recording train={res['parts_epochs']['train']} "
            f"val={res['parts_epochs']['val']} test={m['n']} best_epoch={res['best_epoch']} "
            f"acc={m['accuracy']:.3f} mf1={m['macro_f1']:.3f} kappa={m['kappa']:.3f} minutes={minutes:.1f}")
    print(line)
    if args.no_write:
        return 0
    f1 = m["per_class_f1"]
    body = ("### ULW-SleepNet, within-recording protocol (development data: Sleep-EDF SC4001 only)\n\n"
            f"`OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sleep_within_recording --epochs {args.epochs}` — "
            "train on the early part of the one available night, best epoch on the block before the test span, "
            f"test on the last 30 % ({m['n']} epochs). Within-night generalisation for one person: NOT a "
            f"Sleep-EDF-20/78 result (those need `neurotrio sleep fetch` + `neurotrio sleep train`). This 2-core "
            f"CPU, one thread, {minutes:.1f} min.\n\n"
            + markdown_table(["train / val / test epochs", "best epoch", "accuracy", "macro-F1", "kappa",
                              "F1 W / N1 / N2 / N3 / REM"],
                             [[f"{res['parts_epochs']['train']} / {res['parts_epochs']['val']} / {m['n']}",
                               res["best_epoch"], m["accuracy"], m["macro_f1"], m["kappa"],
                               " / ".join("n/a" if v is None else f"{v:.2f}" for v in f1.values())]])
            + f"\n`{line}`\n")
    update_markdown_section(ROOT / "BENCHMARKS.md", "sleep-within-recording", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
