"""Training-side validation study for MPFNet on the MEGC2019 composite (inner subject-wise CV).

For each chosen outer LOSO fold the fold's test subject is set aside and never used. The fold's training
subjects are split (seeded) into ``--inner`` groups; for each group a model is trained on the other groups'
subjects and predicts that group's. The predictions of all groups are pooled, so every training-side
sample is scored once by a model that never saw its subject: the "validation UF1 / UAR" of a setting.
Pooling over ≈ 430 samples per outer fold is far less noisy than 10 held-out subjects (≈ 50 samples).

    OMP_NUM_THREADS=1 python -m benchmarks.mer_study --outer 0,40 --inner 5 [--preset R-ep0] \
        [--variants P,C,GFE,AFE,ststnet] [--set key=value ...] [--tag NAME]

Prints one JSON line per outer fold and a final ``mean`` line (validation UF1/UAR per variant, seconds).
Data: ``../shared/data/microexpression/megc2019_composite`` (or $NEUROTRIO_SHARED_DATA); development data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The first study's settings (CA-I3D era) expressed as overrides of today's defaults.
FIRST = ["model.center=false", "model.augment.flip=0", "model.augment.shift=0", "model.phi_range=[1,3]", "model.gfe.epochs=12",
         "model.gfe.lr=3e-3", "model.gfe.weight_decay=5e-4", "model.afe.epochs=12", "model.afe.lr=3e-3",
         "model.afe.weight_decay=5e-4", "model.meta.episodes=40", "model.meta.lr=3e-4", "model.meta.k_shot=5",
         "model.meta.n_query=5", "model.shallow.dropout=0", "model.shallow.embed_dim=0"]
FAST = ["model.gfe.epochs=15", "model.gfe.lr=5e-3", "model.gfe.weight_decay=0", "model.afe.epochs=15",
        "model.afe.lr=5e-3", "model.afe.weight_decay=0", "model.meta.episodes=0"]
#: Named rows of the study table in docs/mer.md (``--preset NAME``; more ``--set`` go on top).
PRESETS = {
    "cai3d-first": [*FIRST, "model.encoder=cai3d"],
    "shallow-first": [*FIRST, "model.encoder=shallow"],
    "shallow-15ep": [*FIRST, *FAST],
    "R-ep0": ["model.center=false", "model.meta.episodes=0"],
    "R-ep200": ["model.center=false", "model.meta.episodes=200"],
    "R": ["model.center=false"],          # session 3's defaults: recipe R, 100 stage-3 episodes
    "defaults": [],                       # today's defaults: R with centred inputs
}


def inner_folds(subjects: list[str], train_idx: list[int], k: int, seed: int):
    """Split the training samples' subjects into ``k`` seeded groups: [(inner_train, inner_val), ...]."""
    import numpy as np

    subj = sorted({subjects[i] for i in train_idx})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(subj))
    groups = [{subj[j] for j in order[g::k]} for g in range(k)]
    return [([i for i in train_idx if subjects[i] not in grp], [i for i in train_idx if subjects[i] in grp])
            for grp in groups]


def study_outer(x, y, subjects, outer, cfg, k: int, seed: int) -> dict:
    """Pooled inner-CV validation metrics of every variant on the training side of one outer fold."""
    import numpy as np
    import torch

    from neurotrio.microexpression.loso import Fold
    from neurotrio.microexpression.report import metrics_of
    from neurotrio.microexpression.train import run_fold

    t0 = time.perf_counter()
    ys, preds = [], {v: [] for v in cfg.variants}
    for j, (tr, va) in enumerate(inner_folds(subjects, outer.train, k, seed + outer.index)):
        fold = Fold(index=outer.index * 100 + j, test_subject=f"inner{j}", train=tr, val=[], test=va)
        res = run_fold(x, y, fold, 3, cfg, torch.device("cpu"))
        ys.append(y[va].numpy())
        for v in cfg.variants:
            preds[v].append(res["probs"][v].argmax(1).numpy())
    yy = np.concatenate(ys)
    out = {"outer": outer.index, "n": len(yy)}
    for v in cfg.variants:
        m = metrics_of(yy, np.concatenate(preds[v]), 3)
        out[v] = [round(m["uf1"], 3), round(m["uar"], 3)]
    out["s"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NEUROTRIO_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--outer", default="0", help="outer LOSO folds whose training side is studied")
    ap.add_argument("--inner", type=int, default=5, help="subject groups of the inner cross-validation")
    ap.add_argument("--seed", type=int, default=7, help="seed of the inner subject grouping")
    ap.add_argument("--variants", default="P,C,GFE,AFE,ststnet")
    ap.add_argument("--tag", default="", help="a name printed with the result")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="defaults", help="a named row of the study (docs/mer.md)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (LosoConfig)")
    args = ap.parse_args(argv)

    import numpy as np

    from benchmarks.mer_tune import load_composite
    from neurotrio.microexpression.loso import loso_splits

    loaded = load_composite(args.data, PRESETS[args.preset] + args.set, variants=tuple(args.variants.split(",")))
    if loaded is None:
        return 0
    cfg, samples, x, y = loaded
    subjects = [s.subject for s in samples]
    outers = loso_splits(subjects, 0, 0, [int(f) for f in args.outer.split(",")])
    rows = []
    for outer in outers:
        rows.append(study_outer(x, y, subjects, outer, cfg, args.inner, args.seed))
        print(json.dumps(rows[-1]), flush=True)
    mean = {v: [round(float(np.mean([r[v][i] for r in rows])), 3) for i in (0, 1)] for v in cfg.variants}
    mean["s"] = round(float(np.sum([r["s"] for r in rows])), 1)
    print(f"mean {args.tag} preset={args.preset} {' '.join(args.set)} " + json.dumps(mean), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
