"""Validation-only recipe study for FSL-SNN on Omniglot: train on the background alphabets' training
classes, score on their held-out validation classes. Test alphabets are never loaded.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_study --name NAME [--set KEY=VALUE ...]
    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_study --name ft1 --from /tmp/f1/pre.pt --set finetune.lr=0.001

With ``--from`` pre-training is skipped and the saved pre-trained weights are fine-tuned, so fine-tuning
variants are compared from one starting point; ``--save`` keeps the weights after training. Prints the
per-epoch validation accuracy and writes ``/tmp/f1/NAME.json``. Data: ``../shared/data/fewshot/omniglot``
(development data). The library's own ``pretrain``/``finetune``/``validation_score`` run here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import torch

    from benchmarks.fewshot_common import apply_overrides, shared_data
    from neurotrio.core.config import to_dict
    from neurotrio.core.seed import seed_everything
    from neurotrio.fewshot.evaluate import load_splits
    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.train import (
        TrainConfig,
        finetune,
        pretrain,
        resolve_model_config,
        validation_score,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--from", dest="start", default="", help="pre-trained state dict (torch.save) to fine-tune")
    ap.add_argument("--save", default="", help="write the final state dict here")
    ap.add_argument("--out-dir", default="/tmp/f1")
    ap.add_argument("--pretrain-steps", type=int, default=0,
                    help="cap pre-training at this many batches per epoch (equal-compute comparisons; 0 = all)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.pretrain_steps:
        _cap_loader(args.pretrain_steps)
    base = [f"data.root={shared_data() / 'fewshot' / 'omniglot'}", "data.cache_dir=/tmp/neurotrio_fewshot_cache",
            "device=cpu"]
    cfg = apply_overrides(TrainConfig(), base + args.overrides)
    t0 = time.perf_counter()
    splits = load_splits(cfg.data, need=("train", "val"), seed=cfg.seed)
    train, val = splits["train"], splits["val"]
    print(f"data {time.perf_counter() - t0:.0f} s: {len(train.targets)} train images / {train.n_classes} classes, "
          f"{val.n_classes} val classes", flush=True)
    gen = seed_everything(cfg.seed)
    device = torch.device("cpu")
    model = build_model(resolve_model_config(cfg, train))
    if args.start:
        model.load_state_dict(torch.load(args.start, weights_only=True))
    rec: dict = {"name": args.name, "overrides": args.overrides, "config": to_dict(cfg)}
    t1 = time.perf_counter()
    rec["pretrain"] = [] if args.start else pretrain(model, train, val, cfg, device, gen)
    rec["pretrain_s"] = time.perf_counter() - t1
    for e in rec["pretrain"]:
        print(f"pretrain epoch {e['epoch']}: loss {e['train_loss']:.3f} val {100 * e['val_acc']:.2f}", flush=True)
    if cfg.finetune.episodes > 0:
        rec["finetune_start_val"] = validation_score(model, train, val, cfg, device, cfg.seed + 1)["val_acc"]
        print(f"before fine-tuning: val {100 * rec['finetune_start_val']:.2f}", flush=True)
        t2 = time.perf_counter()
        rec["finetune"] = finetune(model, train, val, cfg, device, gen)
        rec["finetune_s"] = time.perf_counter() - t2
        for e in rec["finetune"]:
            print(f"finetune chunk {e['epoch']}: loss {e['train_loss']:.3f} val {100 * e['val_acc']:.2f}", flush=True)
    rec["total_s"] = time.perf_counter() - t0
    print(f"total {rec['total_s']:.0f} s", flush=True)
    if args.save:
        torch.save(model.state_dict(), args.save)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.out_dir) / f"{args.name}.json").write_text(json.dumps(rec, indent=1, default=str))
    return 0


def _cap_loader(steps: int) -> None:
    from benchmarks.fewshot_common import BudgetedLoader
    from neurotrio.core import distributed

    make = distributed.make_loader
    distributed.make_loader = lambda *a, **k: BudgetedLoader(make(*a, **k), steps, deadline=float("inf"))


if __name__ == "__main__":
    raise SystemExit(main())
