"""Cost of one FSL-SNN pre-training step (batch 64) and one fine-tuning episode for candidate recipes.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_calibrate --set model.backbone.width=0.5 ...

Random inputs of the configured size; prints images/s of pre-training (forward + backward + SGD step)
and the feature-map size the SFE/CFC see. Used to budget the recipe study (docs/fewshot.md) on this CPU.
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> int:
    import torch

    from benchmarks.fewshot_common import apply_overrides
    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.losses import fewshot_loss, tet_loss
    from neurotrio.fewshot.model import feature_shape
    from neurotrio.fewshot.train import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = apply_overrides(TrainConfig(), args.overrides)
    s, bb = cfg.data.image_size, cfg.model.backbone
    from dataclasses import replace

    model = build_model(replace(cfg.model, n_base_classes=3000))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.rand(cfg.pretrain.batch_size, bb.in_channels, s, s).round(), torch.randint(0, 3000, (cfg.pretrain.batch_size,))
    times = []
    for _ in range(args.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        tet_loss(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    step = sorted(times[1:])[len(times[1:]) // 2]
    ft = cfg.finetune
    n = ft.n_way * (ft.k_shot + ft.n_query)
    xs = torch.rand(n, bb.in_channels, s, s).round()
    sl = torch.arange(ft.n_way).repeat_interleave(ft.k_shot)
    ql = torch.arange(ft.n_way).repeat_interleave(ft.n_query)
    t0 = time.perf_counter()
    for _ in range(2):
        opt.zero_grad()
        out = model.episode(xs[: len(sl)], sl, xs[len(sl):], ft.n_way)
        fewshot_loss(out.logits, out.query_emb, out.proto_emb, ql, cfg.loss).backward()
        opt.step()
    ep = (time.perf_counter() - t0) / 2
    print(f"{' '.join(args.overrides)} | map {feature_shape(bb, (s, s))} | pretrain step {step:.3f} s = "
          f"{cfg.pretrain.batch_size / step:.0f} img/s | episode {ep:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
