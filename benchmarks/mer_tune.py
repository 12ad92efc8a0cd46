"""Validation study behind MPFNet's default settings, on training-side subjects only.

For each chosen LOSO fold, ``n_val`` subjects are drawn (seeded) from the fold's TRAINING subjects; the
priors, stage 3 and the STSTNet-like baseline are trained on the remaining training subjects and scored
on those validation subjects. The fold's test subject is never loaded into any model or metric, so these
numbers can pick settings without touching the LOSO test results.

    OMP_NUM_THREADS=1 python -m benchmarks.mer_tune --folds 5,15,30,45,55              # the defaults
    OMP_NUM_THREADS=1 python -m benchmarks.mer_tune --folds 5,30,55 --set model.triplet_mining=hard

Prints one JSON line per fold (final prior losses; validation UF1 of MPFNet-P and -C before stage 3
("_stage2", prototypes from the priors) and after it, and of the baseline) and the mean over folds.
Data: ``../shared/data/microexpression/megc2019_composite`` (or $NEUROTRIO_SHARED_DATA); development data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def validate_fold(x, y, fold, cfg, device) -> dict:
    """Train on ``fold.train`` and score ``fold.val`` (validation UF1 per model); ``fold.test`` is unused."""
    import torch

    from neurotrio.microexpression.baselines import STSTNet
    from neurotrio.microexpression.inputs import input_stats, standardize
    from neurotrio.microexpression.report import metrics_of
    from neurotrio.microexpression.train import (
        _for_input_channels,
        _predict,
        build_variant,
        finetune,
        train_classifier,
        train_priors,
    )

    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(fold.index)
    torch.manual_seed(fold.index)
    tr, va = torch.as_tensor(fold.train), torch.as_tensor(fold.val)
    mean, std = input_stats(x[tr])
    xs = standardize(x, mean, std)
    xtr, ytr, xv, yv = xs[tr], y[tr], xs[va], y[va]
    mcfg = _for_input_channels(cfg, x.shape[1])

    def score(net) -> float:
        return metrics_of(yv.numpy(), _predict(net, xv, device).argmax(1).numpy(), 3)["uf1"]

    priors = train_priors(xtr, ytr, 3, mcfg, ("P", "C"), gen, device)
    out = {"fold": fold.index, "n_val": len(yv), "losses": {k: round(v[-1], 3) for k, v in priors["losses"].items()}}
    for v in ("P", "C"):
        net = build_variant(v, priors, mcfg).to(device)
        net.set_prototypes(xtr, ytr, 3)
        out[f"{v}_stage2"] = score(net)
        info = finetune(net, xtr, ytr, 3, mcfg, gen, device)
        out[v], out[f"{v}_meta_loss"] = score(net), round(info["final_loss"], 3)
    base = STSTNet(x.shape[1], 3)
    train_classifier(base, xtr, ytr, cfg.model.baseline, gen, device)
    out["ststnet"], out["s"] = score(base), round(time.perf_counter() - t0, 1)
    return out


def load_composite(data_root: str, overrides: list[str], **fields: Any) -> tuple[Any, list, Any, Any] | None:
    """The MEGC2019 composite flow maps under ``data_root`` with a LosoConfig (``fields`` < ``overrides``).

    Sets torch's threads from OMP_NUM_THREADS (default 1). Returns (cfg, samples, x, y), or None after
    printing a skip line when the data is absent. Shared by the study scripts (mer_tune, mer_study).
    """
    import torch

    from neurotrio.core.config import apply_overrides
    from neurotrio.microexpression.inputs import _load
    from neurotrio.microexpression.train import LosoConfig

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    data = Path(data_root) / "microexpression" / "megc2019_composite"
    if not data.is_dir():
        print(f"skip: composite data not found at {data}", file=sys.stderr)
        return None
    cfg = apply_overrides(LosoConfig(dataset="composite", data=str(data), workers=1, **fields), overrides)
    samples, x, y, _names = _load(cfg)
    return cfg, samples, x, y


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NEUROTRIO_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--folds", default="5,15,30,45,55", help="LOSO folds whose training side is used")
    ap.add_argument("--n-val", type=int, default=10, help="validation subjects per fold (from the training side)")
    ap.add_argument("--seed", type=int, default=123, help="seed of the validation-subject draw")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (LosoConfig)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from neurotrio.microexpression.loso import loso_splits

    loaded = load_composite(args.data, args.set)
    if loaded is None:
        return 0
    cfg, samples, x, y = loaded
    folds = loso_splits([s.subject for s in samples], args.n_val, args.seed, [int(f) for f in args.folds.split(",")])
    rows = []
    for fold in folds:
        rows.append(validate_fold(x, y, fold, cfg, torch.device("cpu")))
        print(json.dumps(rows[-1]), flush=True)
    keys = ("P_stage2", "P", "C_stage2", "C", "ststnet", "s")
    print("mean " + json.dumps({k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
