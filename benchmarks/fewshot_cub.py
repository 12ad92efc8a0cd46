"""FSL-SNN on CUB (the 100 development classes: FEAT-train classes train, FEAT-val select, FEAT-test test),
5w1s and 5w5s beside ProtoNet Conv-4; writes the ``fewshot-cub`` section of BENCHMARKS.md.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_cub         # CPU scale (40×40 inputs, 5×5 maps)
    python -m benchmarks.fewshot_cub --full                     # 84×84, paper scale, for a GPU

Data: ``../shared/data/fewshot/cub`` (46 train, 32 val, 22 test classes present); development data.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from benchmarks.fewshot_common import (
    apply_overrides,
    base_args,
    fmt,
    protonet_readout,
    run,
    selection_note,
    shared_data,
    write_section,
)

PROTONET_CONV4 = {"5w1s": "51.31", "5w5s": "—"}  # CloserLook (Chen et al. 2019), CUB 1-shot


def config(full: bool, cache_dir: str):
    from neurotrio.fewshot.evaluate import DataConfig, EvalConfig
    from neurotrio.fewshot.fslsnn import FSLSNNConfig
    from neurotrio.fewshot.model import BackboneConfig
    from neurotrio.fewshot.recipes import dataset_recipe
    from neurotrio.fewshot.train import FinetuneConfig, PretrainConfig, TrainConfig

    root = str(shared_data() / "fewshot" / "cub")
    ev = EvalConfig(settings=("5w1s", "5w5s"), episodes=600, val_episodes=100)
    if full:
        return TrainConfig(model=FSLSNNConfig(backbone=BackboneConfig(width=1.0, time_steps=4, in_channels=3)),
                           data=DataConfig(dataset="cub", root=root, image_size=84, cache_dir=cache_dir),
                           pretrain=PretrainConfig(epochs=100, batch_size=64, lr=0.05),
                           finetune=FinetuneConfig(episodes=2000, val_every=200), eval=ev)
    recipe = dataset_recipe("cub")  # the library's CUB recipe (40×40, strides on layers 2, 4, 6 → 5×5 maps)
    return replace(recipe, data=replace(recipe.data, root=root, cache_dir=cache_dir), eval=ev)


def main(argv: list[str] | None = None) -> int:
    ap = base_args(__doc__.splitlines()[0], "/tmp/neurotrio_bench/fewshot_cub")
    args = ap.parse_args(argv)
    cfg = apply_overrides(config(args.full, args.cache_dir), args.overrides)
    res = run(cfg, Path(args.out))
    test, tr = res["test"], res["train"]
    ablation = protonet_readout(res["model"], res["splits"]["test"], cfg, res["device"])
    bb, scale = cfg.model.backbone, "full scale" if args.full else "CPU scale"
    rows = "\n".join(f"| {s} | {fmt(test[s])} | {fmt(ablation[s])} | {PROTONET_CONV4[s]} |" for s in cfg.eval.settings)
    cmd = "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.fewshot_cub" + (" --full" if args.full else "")
    text = f"""### fewshot-cub: FSL-SNN on CUB ({scale}), beside ProtoNet Conv-4

Command: `{cmd}`<br>
Data: development data — the 100 CUB classes in ../shared/data ({tr['n_train_classes']} FEAT-train classes for
training, {tr['n_val_classes']} FEAT-val classes for selection, {test['n_test_classes']} FEAT-test classes /
{test['n_test_images']} images for test); images resized and centre-cropped to {cfg.data.image_size}×{cfg.data.image_size}, no bounding boxes.
Model: width {bb.width}, T={bb.time_steps}, SFE + CFC; {cfg.pretrain.epochs} pre-training epochs, {cfg.finetune.episodes}
fine-tuning episodes. Test: {cfg.eval.episodes} episodes, {cfg.eval.n_query} queries per class, % with 95 % CI.
Machine: {tr['machine']}. Wall time: data {tr['load_s']:.0f} s, pre-training {tr['pretrain_s']:.0f} s,
fine-tuning {tr['finetune_s']:.0f} s, test {test['eval_s']:.0f} s.
{selection_note(tr)}

| setting | FSL-SNN (ours, {scale}) | same backbone, ProtoNet readout | ProtoNet Conv-4 (CloserLook, full CUB) |
|---|---|---|---|
{rows}

The published ProtoNet figure uses 100 training classes at 84×84; this run has 46 training classes{"" if args.full else f" at {cfg.data.image_size}×{cfg.data.image_size} and a CPU budget"}.
"""
    write_section("fewshot-cub", text, args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
