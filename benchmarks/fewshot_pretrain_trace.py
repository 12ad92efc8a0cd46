"""Per-step trace of FSL-SNN pre-training on Omniglot (CPU-scale settings): loss, batch accuracy and the
gradient's global L2 norm, to see instabilities such as the one that led to ``pretrain.grad_clip``.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_pretrain_trace --set pretrain.grad_clip=null --steps 660

Runs the library's own ``train.train_model`` with the ``benchmarks.fewshot_omniglot`` settings (fine-tuning
off) and records every pre-training step: the TET loss is observed by wrapping ``train.tet_loss`` and the
gradient norm (before any clipping) by an optimizer step pre-hook, so the trajectory is exactly the
library's. Prints a summary; ``--csv FILE`` keeps every step. Data: ``../shared/data/fewshot/omniglot``
(development data).
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks.fewshot_common import apply_overrides


class _Stop(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    import torch

    from benchmarks.fewshot_omniglot import config
    from neurotrio.fewshot import train as train_mod
    from neurotrio.fewshot.evaluate import load_splits

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    ap.add_argument("--cache-dir", default="/tmp/neurotrio_fewshot_cache")
    ap.add_argument("--csv", default="", help="write step,lr,loss,batch_acc,grad_norm rows here")
    ap.add_argument("--set", dest="overrides", action="append", default=["finetune.episodes=0"],
                    metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = apply_overrides(config(False, args.cache_dir), args.overrides)
    splits = load_splits(cfg.data, need=("train", "val"), seed=cfg.seed)
    rows: list[list[float]] = []
    tet_loss = train_mod.tet_loss

    def observed_loss(out, y, *a, **k):  # the pre-training step's loss (fine-tuning is off)
        loss = tet_loss(out, y, *a, **k)
        acc = float((out.detach().mean(1).argmax(-1) == y).float().mean())
        rows.append([len(rows) + 1, 0.0, float(loss.detach()), acc, 0.0])
        return loss

    def before_step(opt, *_):  # gradients are complete (and, with grad_clip, already clipped: see below)
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        rows[-1][1] = opt.param_groups[0]["lr"]
        rows[-1][4] = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
        if args.steps and len(rows) >= args.steps:
            raise _Stop

    train_mod.tet_loss = observed_loss
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    handle = register_optimizer_step_pre_hook(before_step)
    try:
        train_mod.train_model(cfg, splits["train"], splits["val"])
    except _Stop:
        pass
    finally:
        handle.remove()
        train_mod.tet_loss = tet_loss
    if args.csv:
        with open(args.csv, "w") as fh:
            fh.write("step,lr,loss,batch_acc,grad_norm\n")
            fh.writelines(",".join(f"{v:.6g}" for v in r) + "\n" for r in rows)
    clip = cfg.pretrain.grad_clip
    norms = [r[4] for r in rows[:150]]
    jump = max(range(1, len(rows)), key=lambda i: rows[i][2] - rows[i - 1][2])
    print(f"{len(rows)} steps; gradient norm{f' (after clipping at {clip})' if clip else ''} over the first "
          f"{len(norms)} steps: median {statistics.median(norms):.2f}, max {max(norms):.2f} "
          f"(step {norms.index(max(norms)) + 1})")
    s0, s1 = rows[jump - 1], rows[jump]
    print(f"largest one-step loss rise: step {s1[0]:.0f} (lr {s1[1]:.4f}): loss {s0[2]:.2f} -> {s1[2]:.2f}, "
          f"gradient norm of the step before {s0[4]:.2f}; mean loss of the last 20 steps "
          f"{statistics.mean(r[2] for r in rows[-20:]):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
