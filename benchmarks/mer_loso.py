"""Full leave-one-subject-out benchmark of MPFNet-P, MPFNet-C, the GFE-only and AFE-only ablations and the
STSTNet-like baseline on the MEGC2019 composite flow maps (68 folds, 442 samples), all in one run on the
same folds, beside published numbers; writes the ``mer-loso`` section of BENCHMARKS.md and the figures
(confusion matrices, per-fold UF1) beside results.json.

    python -m benchmarks.mer_loso --workers 2           # the validated defaults (run reported in BENCHMARKS.md)
    python -m benchmarks.mer_loso --cai3d --workers 2   # the same recipe with the paper's CA-I3D encoders

Data: ``../shared/data/microexpression/megc2019_composite`` (or $NEUROTRIO_SHARED_DATA); development data.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = [  # UF1, UAR on the composite (their papers); HTNet and CausalNet pick each fold's best test epoch
    ("MPFNet-C (paper)", 0.840, 0.846), ("HTNet (paper, best test epoch)", 0.860, 0.848),
    ("CausalNet (paper, best test epoch)", 0.898, 0.902), ("STSTNet (paper)", 0.735, 0.761),
]
NAMES = {"P": "MPFNet-P (ours)", "C": "MPFNet-C (ours)", "GFE": "GFE only (ours)", "AFE": "AFE only (ours)",
         "ststnet": "STSTNet-like (ours)"}


def configs(cai3d: bool):
    """The MPFNet settings: the validated defaults, or the same with the CA-I3D encoders (10.1K each)."""
    from dataclasses import replace

    from neurotrio.microexpression.train import MPFNetConfig

    return replace(MPFNetConfig(), encoder="cai3d") if cai3d else MPFNetConfig()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NEUROTRIO_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--cai3d", action="store_true", help="the paper's CA-I3D encoders instead of the shallow ones")
    ap.add_argument("--variants", default="P,C,GFE,AFE,ststnet")
    ap.add_argument("--max-folds", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="processes to spread the folds over (1 thread each)")
    ap.add_argument("--seed", type=int, default=0, help="LosoConfig.seed: every fold's and model's seed")
    ap.add_argument("--out", default="runs/mer_loso")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument("--cpu-s", type=float, help="CPU seconds of the run, when results.json lacks them")
    ap.add_argument("--from-results", metavar="DIR",
                    help="rebuild the BENCHMARKS.md section from DIR/results.json of an earlier run (no training)")
    args = ap.parse_args(argv)

    import json

    import torch

    from neurotrio.core.results import update_markdown_section
    from neurotrio.microexpression.train import LosoConfig, run_loso

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if args.from_results:
        m = json.loads((Path(args.from_results) / "results.json").read_text())["metrics"]
        variants = tuple(v for v in NAMES if v in m)
    else:
        data = Path(args.data) / "microexpression" / "megc2019_composite"
        if not data.is_dir():
            print(f"skip: composite data not found at {data}", file=sys.stderr)
            return 0
        cfg = LosoConfig(dataset="composite", data=str(data), variants=tuple(args.variants.split(",")),
                         max_folds=args.max_folds, fold_workers=args.workers, model=configs(args.cai3d),
                         seed=args.seed)
        m = run_loso(cfg, args.out, progress=True)
        variants = cfg.variants
    run = m["_run"]
    for v in variants:
        p = m[v]["pooled"]
        print(f"variant={v} folds={run['folds']} uf1={p['uf1']:.3f} uar={p['uar']:.3f} acc={p['accuracy']:.3f} "
              f"wall_s={run['wall_s']:.0f}")
    if not args.no_write:
        update_markdown_section(ROOT / "BENCHMARKS.md", "mer-loso", section(m, variants, args))
    return 0


def section(m: dict, variants: tuple[str, ...], args: argparse.Namespace) -> str:
    """The Markdown of the ``mer-loso`` section from a run's metrics."""
    from neurotrio.core.results import markdown_table

    run = m["_run"]
    rows = []
    for v in variants:
        pd = m[v]["per_database"]
        rows.append([NAMES[v], m[v]["pooled"]["uf1"], m[v]["pooled"]["uar"], m[v]["pooled"]["accuracy"]]
                    + [f"{pd[d]['uf1']:.3f} / {pd[d]['uar']:.3f}" if d in pd else "-" for d in ("smic", "casme2", "samm")])
    rows += [[n, uf, ua, "-", "-", "-", "-"] for n, uf, ua in PUBLISHED]
    losses: dict[str, list[float]] = {}
    for info in run["fold_info"].values():
        for k, v in info.get("prior_losses", {}).items():
            losses.setdefault(k, []).append(v)
    diag = ", ".join(f"{k} {sum(v) / len(v):.2f}" for k, v in losses.items())
    scale = ("CA-I3D encoders (`--cai3d`: stem 8, blocks (16, 32), embedding 32, 10.1K parameters each)"
             if args.cai3d else "shallow encoders (STSTNet-like 3/5/8-filter trunk + coordinate attention, "
             "dropout 0.3, 32-d embedding; 13.9K parameters each)")
    scale += (", the validated defaults of `MPFNetConfig` (docs/mer.md, \"Tuning\"): flow-aware flip (p 0.5) and "
              "±2-pixel shifts in every stage; stage 1 batch-all triplet loss, stage 2 class-balanced CE (plain "
              "oversampling, φ = 1), 15 epochs each, Adam lr 5e-3 cosine-annealed, batch 64; stage 3 100 episodes "
              "of 10 shots + 10 queries, lr 1e-3; STSTNet-like baseline 15 epochs, lr 5e-3, no augmentation")
    workers = run.get("fold_workers", 1)
    cpu_s = run.get("cpu_s") or getattr(args, "cpu_s", None)
    cpu = (f" The folds took {cpu_s / 60:.1f} CPU-minutes in all (one thread per process), i.e. about "
           f"{cpu_s / 60 / max(workers, 1):.0f} min of wall time on an idle machine with {workers} free cores."
           if cpu_s else "")
    return (f"### MER: LOSO on the MEGC2019 composite (key `mer-loso`)\n\n"
            f"Command: `OMP_NUM_THREADS=1 python -m benchmarks.mer_loso{' --cai3d' if args.cai3d else ''}"
            f"{' --workers ' + str(workers) if workers > 1 else ''}"
            f"{' --max-folds ' + str(args.max_folds) if args.max_folds else ''}"
            f"{' --seed ' + str(args.seed) if getattr(args, 'seed', 0) else ''}` (the section can be rebuilt from "
            f"a run's folder with `--from-results DIR`). Data: development data "
            f"(`../shared/data/microexpression/megc2019_composite`, 442 flow maps 28×28, 68 subjects). "
            f"{run['folds']} LOSO folds, priors trained inside each fold, last-episode models (no epoch picked "
            f"on a test subject; every setting chosen by the training-side inner cross-validation of "
            f"`benchmarks.mer_study`), UF1/UAR pooled over folds (MEGC's rule: classes present in the truth). "
            f"{scale}. Wall time {run['wall_s'] / 60:.1f} min on {run['device']} "
            f"({platform.machine()}, this 2-core CPU shared with other jobs, {workers} process(es) × 1 thread)."
            f"{cpu}\n\n"
            + markdown_table(["model", "UF1", "UAR", "acc", "SMIC UF1 / UAR", "CASME II UF1 / UAR", "SAMM UF1 / UAR"],
                             rows)
            + "\nPublished rows are quoted from the papers, not rerun; HTNet and CausalNet select each fold's best "
              f"epoch on its test subject (optimistic). Mean last-epoch prior losses over folds: {diag} (chance "
              "cross-entropy ln 3 = 1.10; a triplet loss of 1.0 = the margin means collapsed embeddings). "
              "Figures (confusion matrices pooled and per database, per-fold UF1) are written beside results.json. "
              "See docs/mer.md (\"Tuning\") for the validation study behind these settings and where it stops.\n")


if __name__ == "__main__":
    sys.exit(main())
