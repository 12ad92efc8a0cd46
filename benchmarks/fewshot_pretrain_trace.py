"""Per-step trace of FSL-SNN pre-training on Omniglot (CPU-scale settings): loss, batch accuracy and the
gradient's global L2 norm, to see instabilities such as the one that led to ``pretrain.grad_clip``.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_pretrain_trace --set pretrain.grad_clip=null --steps 660

Same data order, model, optimiser and schedule as ``train.pretrain`` with the ``benchmarks.fewshot_omniglot``
settings (validation between epochs does not change the training trajectory, so it is skipped).
Prints a summary; ``--csv FILE`` keeps every step. Data: ``../shared/data/fewshot/omniglot`` (development data).
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks.fewshot_common import apply_overrides


def main(argv: list[str] | None = None) -> int:
    import torch

    from benchmarks.fewshot_omniglot import config
    from neurotrio.core.distributed import make_loader
    from neurotrio.core.seed import seed_everything
    from neurotrio.fewshot.evaluate import load_splits
    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.losses import tet_loss
    from neurotrio.fewshot.train import resolve_model_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    ap.add_argument("--cache-dir", default="/tmp/neurotrio_fewshot_cache")
    ap.add_argument("--csv", default="", help="write step,epoch,lr,loss,batch_acc,grad_norm rows here")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = apply_overrides(config(False, args.cache_dir), args.overrides)
    pc = cfg.pretrain
    train = load_splits(cfg.data, need=("train", "val"), seed=cfg.seed)["train"]
    gen = seed_everything(cfg.seed)
    model = build_model(resolve_model_config(cfg, train)).train()
    _, labels = train.targets.unique(return_inverse=True)
    loader = make_loader(torch.utils.data.TensorDataset(train.images, labels), pc.batch_size, shuffle=True,
                         generator=gen, drop_last=True)
    opt = torch.optim.SGD(model.parameters(), lr=pc.lr, momentum=pc.momentum, weight_decay=pc.weight_decay,
                          nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=pc.epochs * len(loader))
    rows = []
    for epoch in range(pc.epochs):
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            out = model(x)
            loss = tet_loss(out, y, cfg.loss.tet_lambda, cfg.loss.tet_phi)
            loss.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), pc.grad_clip or float("inf")))
            lr = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
            acc = float((out.mean(1).argmax(-1) == y).float().mean())
            rows.append((len(rows) + 1, epoch + 1, lr, float(loss), acc, norm))
            if args.steps and len(rows) >= args.steps:
                break
        if args.steps and len(rows) >= args.steps:
            break
    if args.csv:
        with open(args.csv, "w") as fh:
            fh.write("step,epoch,lr,loss,batch_acc,grad_norm\n")
            fh.writelines(",".join(f"{v:.6g}" for v in r) + "\n" for r in rows)
    norms = [r[5] for r in rows[:150]]
    jump = max(range(1, len(rows)), key=lambda i: rows[i][3] - rows[i - 1][3])
    print(f"{len(rows)} steps ({len(loader)} per epoch); grad norm over the first {len(norms)} steps: median "
          f"{statistics.median(norms):.2f}, max {max(norms):.2f} (step {norms.index(max(norms)) + 1})")
    s0, s1 = rows[jump - 1], rows[jump]
    print(f"largest one-step loss rise: step {s1[0]} (epoch {s1[1]}, lr {s1[2]:.4f}): loss {s0[3]:.2f} -> {s1[3]:.2f}, "
          f"grad norm of the step before {s0[5]:.2f}, of that step {s1[5]:.2f}; mean loss of the last 20 steps {statistics.mean(r[3] for r in rows[-20:]):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
