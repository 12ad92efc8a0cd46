"""Why episodic fine-tuning collapsed: gradient norm and episode accuracy with batch norm in train mode
(normalised by the episode's own batch) versus frozen (running statistics), from one pre-trained model.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_ft_diagnose --weights /tmp/f1/A3.pt --episodes 4 \
        --set data.image_size=28 --set model.backbone.stride_layers=[2,4] ...   (the model's own settings)

For each of ``--episodes`` training-class episodes (5-way 1-shot, 15 queries): the few-shot loss, the
global gradient norm before any clipping, and the query accuracy, with BN in train mode and frozen. No
update is made, so both see the same weights. Development data (``../shared/data/fewshot/omniglot``).
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    import torch

    from benchmarks.fewshot_common import apply_overrides, shared_data
    from neurotrio.fewshot.evaluate import episode_batches, load_splits
    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.losses import fewshot_loss
    from neurotrio.fewshot.train import EpisodeForward, TrainConfig, resolve_model_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = apply_overrides(TrainConfig(), [f"data.root={shared_data() / 'fewshot' / 'omniglot'}",
                                          "data.cache_dir=/tmp/neurotrio_fewshot_cache", *args.overrides])
    train = load_splits(cfg.data, need=("train",), seed=cfg.seed)["train"]
    model = build_model(resolve_model_config(cfg, train))
    model.load_state_dict(torch.load(args.weights, weights_only=True))
    ft = cfg.finetune
    eps = list(episode_batches(train, ft.n_way, ft.k_shot, ft.n_query, args.episodes, torch.Generator().manual_seed(5)))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    for mode in ("train", "frozen"):
        model.load_state_dict(start)  # train-mode BN moves the running statistics: start each mode afresh
        for s, sy, q, qy in eps:
            net = EpisodeForward(model, freeze_bn=mode == "frozen").train()
            model.zero_grad(set_to_none=True)
            out = net(s, sy, q, ft.n_way)
            loss = fewshot_loss(out.logits, out.query_emb, out.proto_emb, qy, cfg.loss)
            loss.backward()
            grads = [p.grad.norm() for p in model.parameters() if p.grad is not None]
            norm = float(torch.linalg.vector_norm(torch.stack(grads)))
            acc = float((out.logits.mean(1).argmax(-1) == qy).float().mean())
            print(f"bn={mode:6s} loss {float(loss):.3f} grad-norm {norm:10.3g} query acc {100 * acc:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
