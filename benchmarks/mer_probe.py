"""Quick decomposition probe for the study: one classifier encoder under several recipes, inner CV.

Same training-side inner cross-validation as ``mer_study`` (outer fold's test subject never used); for
each recipe it trains a ``ShallowCA`` (or the STSTNet-like baseline) with cross-entropy and scores the
pooled inner-validation predictions by the head and by cosine prototypes (class means of the training
embeddings), so it shows which part of the AFE recipe moves validation UF1.

    OMP_NUM_THREADS=1 python -m benchmarks.mer_probe --outer 0 --recipes base,balanced,proto ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DBS: list[str] = []


def run_recipe(x, y, subjects, outer, recipe: dict, k: int, seed: int) -> dict:
    import numpy as np
    import torch

    from benchmarks.mer_study import inner_folds
    from neurotrio.core.seed import seed_everything
    from neurotrio.microexpression.augment import AugmentConfig, augment_batch
    from neurotrio.microexpression.baselines import STSTNet
    from neurotrio.microexpression.inputs import input_stats, standardize
    from neurotrio.microexpression.mpfnet import class_prototypes, cosine_scores
    from neurotrio.microexpression.report import metrics_of
    from neurotrio.microexpression.shallow import ShallowCA, ShallowCAConfig
    from neurotrio.microexpression.stages import StageConfig, balanced_with_amplification, train_classifier

    dev = torch.device("cpu")
    if recipe.get("center"):         # per-sample median centring (inputs.center_flow), then the usual statistics
        from neurotrio.microexpression.inputs import center_flow
        x = center_flow(x)
    if recipe.get("inorm"):          # per-sample: subtract each channel's spatial median, divide by its std
        flat = x.flatten(2)
        x = (x - flat.median(2).values[..., None, None, None]) / flat.std(2).clamp_min(1e-6)[..., None, None, None]
    ys, ph, pp, pdb = [], [], [], []
    n_models = int(recipe.get("ensemble", 1))
    for j, (tr, va) in enumerate(inner_folds(subjects, outer.train, k, seed + outer.index)):
        tr_t, va_t = torch.as_tensor(tr), torch.as_tensor(va)
        mean, std = input_stats(x[tr_t])
        xs = standardize(x, mean, std)
        if recipe.get("dbnorm"):     # per-database statistics of the training samples only
            xs = x.clone()
            for d in set(DBS):
                idx = torch.as_tensor([i for i in range(len(DBS)) if DBS[i] == d])
                tri = torch.as_tensor([i for i in tr if DBS[i] == d])
                m_, s_ = input_stats(x[tri])
                xs[idx] = standardize(x[idx], m_, s_)
        xtr, ytr, xva = xs[tr_t], y[tr_t], xs[va_t]
        head_p, proto_p, dbproto_p = 0, 0, 0
        for m in range(n_models):
            gen = seed_everything(1000 * outer.index + 10 * j + m, deterministic=False)
            xb, yb = xtr, ytr
            if recipe.get("balanced"):
                xb, yb = balanced_with_amplification(xtr, ytr, tuple(recipe.get("phi", (1.0, 3.0))), gen)
            if recipe.get("net") == "ststnet":
                net = STSTNet(3, 3)
            else:
                net = ShallowCA(ShallowCAConfig(filters=tuple(recipe.get("filters", (3, 5, 8))), n_classes=3,
                                                attention=recipe.get("attention", True),
                                                dropout=recipe.get("dropout", 0.0),
                                                embed_dim=recipe.get("embed", 0)))
            scfg = StageConfig(epochs=recipe.get("epochs", 15), lr=recipe.get("lr", 5e-3),
                               weight_decay=recipe.get("wd", 0.0), batch_size=64, mixup=recipe.get("mixup", 0.0),
                               label_smoothing=recipe.get("ls", 0.0))
            acfg = AugmentConfig(flip=recipe.get("flip", 0.0), shift=recipe.get("shift", 0), rotate=recipe.get("rotate", 0.0))
            aug = (lambda b, a=acfg, g=gen: augment_batch(b, a, g)) if acfg.active else None
            train_classifier(net, xb, yb, scfg, gen, dev, augment=aug)
            net.eval()
            with torch.no_grad():
                head_p = head_p + torch.softmax(net(xva), 1)
                ftr = net.forward_features(xtr)
                fva = net.forward_features(xva)
                protos = class_prototypes(ftr, ytr, 3)
                proto_p = proto_p + torch.softmax(10 * cosine_scores(fva, protos), 1)
                dbp = torch.zeros(len(va), 3)
                for d in set(DBS):
                    mtr = torch.as_tensor([DBS[i] == d for i in tr])
                    mva = torch.as_tensor([DBS[i] == d for i in va])
                    if mva.any():
                        pd = class_prototypes(ftr[mtr], ytr[mtr], 3)
                        dbp[mva] = torch.softmax(10 * cosine_scores(fva[mva], pd), 1)
                dbproto_p = dbproto_p + dbp
                if recipe.get("tta"):
                    from neurotrio.microexpression.augment import flow_flip
                    head_p = head_p + torch.softmax(net(flow_flip(xva)), 1)
        ys.append(y[va_t].numpy())
        ph.append(head_p.argmax(1).numpy())
        pp.append(proto_p.argmax(1).numpy())
        pdb.append(dbproto_p.argmax(1).numpy())
    yy = np.concatenate(ys)
    mh = metrics_of(yy, np.concatenate(ph), 3)
    mp = metrics_of(yy, np.concatenate(pp), 3)
    md = metrics_of(yy, np.concatenate(pdb), 3)
    return {"head": [round(mh["uf1"], 3), round(mh["uar"], 3)], "proto": [round(mp["uf1"], 3), round(mp["uar"], 3)],
            "dbproto": [round(md["uf1"], 3), round(md["uar"], 3)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NEUROTRIO_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--outer", default="0")
    ap.add_argument("--inner", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("recipes", nargs="+", help="JSON recipe objects, e.g. '{\"net\": \"ststnet\"}'")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from neurotrio.microexpression.inputs import _load
    from neurotrio.microexpression.loso import loso_splits
    from neurotrio.microexpression.train import LosoConfig

    torch.set_num_threads(1)
    data = Path(args.data) / "microexpression" / "megc2019_composite"
    cfg = LosoConfig(dataset="composite", data=str(data), workers=1)
    samples, x, y, _ = _load(cfg)
    DBS[:] = [s.database for s in samples]
    subjects = [s.subject for s in samples]
    outers = loso_splits(subjects, 0, 0, [int(f) for f in args.outer.split(",")])
    for text in args.recipes:
        recipe = json.loads(text)
        t0 = time.perf_counter()
        rows = [run_recipe(x, y, subjects, o, recipe, args.inner, args.seed) for o in outers]
        res = {k: [round(float(np.mean([r[k][i] for r in rows])), 3) for i in (0, 1)] for k in ("head", "proto", "dbproto")}
        print(json.dumps({"recipe": recipe, **res, "s": round(time.perf_counter() - t0, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
