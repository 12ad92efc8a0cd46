"""GPU-ready LOSO of MPFNet with a larger encoder on the MEGC2019 composite: prints the result table.

Meant for a machine with a GPU (at most 8 minutes): the default recipe of ``neurotrio mer train`` with the
prior encoders widened (``LARGE``: shallow trunk with 16/24/32-filter streams and a 64-d embedding, about
4× the default's parameters). It has NOT been run on a GPU in this repository: no GPU numbers are claimed.
Before the full run it times the first fold and refuses (exit 3) if the projected run exceeds ``--budget-s``.

    python -m benchmarks.mer_gpu --device cuda --workers 4            # on the GPU machine, ≤ 8 min
    python -m benchmarks.mer_gpu --tiny --composite DIR --device cpu  # the CPU check of the script (tests)

Data: ``../shared/data/microexpression/megc2019_composite`` (or ``--composite DIR``); development data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("P", "C", "GFE", "AFE", "ststnet")


def large_model(tiny: bool = False):
    """The larger MPFNet config (or, with ``tiny``, a seconds-long one for checking the script on a CPU)."""
    from neurotrio.microexpression.stages import EpisodeConfig
    from neurotrio.microexpression.train import MPFNetConfig

    base = MPFNetConfig()
    if tiny:
        return replace(base, encoder="shallow", shallow=replace(base.shallow, filters=(2, 2, 2), embed_dim=8),
                       gfe=replace(base.gfe, epochs=1), afe=replace(base.afe, epochs=1),
                       meta=EpisodeConfig(episodes=2, k_shot=2, n_query=2), baseline=replace(base.baseline, epochs=1))
    return replace(base, encoder="shallow", shallow=replace(base.shallow, filters=(16, 24, 32), embed_dim=64))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--composite", default="", help="composite folder (labels.csv + flow_uvos_28/)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workers", type=int, default=1, help="processes the folds are spread over")
    ap.add_argument("--budget-s", type=float, default=480.0, help="refuse when the projected run is longer")
    ap.add_argument("--tiny", action="store_true", help="a tiny config and 2 folds: checks the script on a CPU")
    ap.add_argument("--out", default="runs/mer_gpu")
    args = ap.parse_args(argv)

    import torch

    from neurotrio.core.results import markdown_table
    from neurotrio.microexpression.train import LosoConfig, run_loso

    data = Path(args.composite or Path(os.environ.get("NEUROTRIO_SHARED_DATA", ROOT.parent / "shared" / "data"))
                / "microexpression" / "megc2019_composite")
    if not (data / "labels.csv").is_file():
        print(f"skip: composite data not found at {data}", file=sys.stderr)
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here: run with --device cpu (slow) or on the GPU machine", file=sys.stderr)
        return 3
    cfg = LosoConfig(dataset="composite", data=str(data), variants=VARIANTS, device=args.device,
                     fold_workers=args.workers, model=large_model(args.tiny), max_folds=2 if args.tiny else 0)
    t0 = time.perf_counter()
    probe = run_loso(replace(cfg, folds=(0,), fold_workers=1), Path(args.out) / "probe", progress=False,
                     figures=False)
    per_fold = time.perf_counter() - t0
    n_folds = probe["_run"]["subjects"] if not args.tiny else 2
    projected = per_fold * n_folds / max(1, args.workers)
    print(f"first fold {per_fold:.1f} s → projected {projected:.0f} s for {n_folds} folds on {args.workers} "
          f"process(es)", flush=True)
    if projected > args.budget_s:
        print(f"refused: projected {projected:.0f} s exceeds --budget-s {args.budget_s:.0f}; use more --workers "
              "or a smaller model", file=sys.stderr)
        return 3
    m = run_loso(cfg, args.out, progress=False)
    rows = [[v, m[v]["pooled"]["uf1"], m[v]["pooled"]["uar"], m[v]["pooled"]["accuracy"]]
            + [f"{m[v]['per_database'][d]['uf1']:.3f}/{m[v]['per_database'][d]['uar']:.3f}"
               if d in m[v]["per_database"] else "-" for d in ("smic", "casme2", "samm")] for v in VARIANTS]
    print(markdown_table(["variant", "UF1", "UAR", "acc", "SMIC", "CASME II", "SAMM"], rows))
    print(f"{m['_run']['folds']} folds in {m['_run']['wall_s']:.0f} s on {m['_run']['device']}; "
          f"results in {args.out}/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
