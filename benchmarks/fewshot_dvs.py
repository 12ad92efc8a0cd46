"""FSL-SNN on Omniglot-DVS (events simulated from Omniglot pen strokes, binned like N-Omniglot): 5-way 1-shot
and 5-shot; writes the ``fewshot-dvs`` section of BENCHMARKS.md.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_dvs       # CPU scale: stroke characters only
    python -m benchmarks.fewshot_dvs --full                   # all characters (saccades where no strokes)

CPU scale: only the background characters with stroke files exist as pen trajectories (242 classes in the
official small1+small2 subsets), so classes are split three ways from them (seeded, disjoint).
Data: ``../shared/data/fewshot/omniglot``; development data. Events are simulated on first use and cached.
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


def config(full: bool, cache_dir: str):
    from neurotrio.fewshot.evaluate import DataConfig, EvalConfig
    from neurotrio.fewshot.fslsnn import FSLSNNConfig
    from neurotrio.fewshot.model import BackboneConfig
    from neurotrio.fewshot.recipes import dataset_recipe
    from neurotrio.fewshot.train import FinetuneConfig, PretrainConfig, TrainConfig

    root = str(shared_data() / "fewshot" / "omniglot")
    if full:
        data = DataConfig(dataset="omniglot-dvs", root=root, image_size=28, time_bins=4, cache_dir=cache_dir)
        return TrainConfig(model=FSLSNNConfig(backbone=BackboneConfig(width=1.0, time_steps=4, in_channels=2)),
                           data=data, pretrain=PretrainConfig(epochs=60, batch_size=128, lr=0.1),
                           finetune=FinetuneConfig(episodes=4000, val_every=500),
                           eval=EvalConfig(settings=("5w1s", "5w5s"), episodes=1000, val_episodes=300))
    recipe = dataset_recipe("omniglot-dvs")  # the library's recipe: 20×20, 4 event bins, T=4, 2 polarities
    data = replace(recipe.data, root=root, only_strokes=True, max_classes=100, max_per_class=10, test_fraction=0.25,
                   val_fraction=0.1, cache_dir=cache_dir)  # the CPU-scale data selection (docstring)
    return replace(recipe, data=data,
                   eval=EvalConfig(settings=("5w1s", "5w5s"), episodes=600, n_query=5, val_episodes=100))


def main(argv: list[str] | None = None) -> int:
    ap = base_args(__doc__.splitlines()[0], "/tmp/neurotrio_bench/fewshot_dvs")
    args = ap.parse_args(argv)
    cfg = apply_overrides(config(args.full, args.cache_dir), args.overrides)
    res = run(cfg, Path(args.out))
    test, tr = res["test"], res["train"]
    ablation = protonet_readout(res["model"], res["splits"]["test"], cfg, res["device"])
    d, bb = cfg.data, cfg.model.backbone
    scale = "full scale" if args.full else "CPU scale"
    rows = "\n".join(f"| {s} | {fmt(test[s])} | {fmt(ablation[s])} |" for s in cfg.eval.settings)
    cmd = "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.fewshot_dvs" + (" --full" if args.full else "")
    what = ("all characters; evaluation alphabets for test" if args.full else
            f"{d.max_classes} stroke characters (evenly spaced), {d.max_per_class} drawings each, classes split "
            f"{tr['n_train_classes']} train / {tr['n_val_classes']} val / {test['n_test_classes']} test")
    text = f"""### fewshot-dvs: FSL-SNN on Omniglot-DVS (simulated events, {scale})

Command: `{cmd}`<br>
Data: development data — Omniglot pen strokes turned into DVS events by `neurotrio.fewshot.simulate`
(default `SimulatorConfig`; see the fewshot-simulator section), {d.time_bins} equal time bins, 2 polarities,
binary frames, {d.image_size}×{d.image_size}; {what}.
Model: width {bb.width}, T={bb.time_steps} (the event bins), SFE + CFC; {cfg.pretrain.epochs} pre-training epochs,
{cfg.finetune.episodes} fine-tuning episodes. Test: {cfg.eval.episodes} episodes, {cfg.eval.n_query} queries per class,
% with 95 % CI. Machine: {tr['machine']}. Wall time: data + simulation {tr['load_s']:.0f} s (cached afterwards),
pre-training {tr['pretrain_s']:.0f} s, fine-tuning {tr['finetune_s']:.0f} s, test {test['eval_s']:.0f} s.
{selection_note(tr)}

| setting | FSL-SNN (ours, {scale}) | same backbone, ProtoNet readout |
|---|---|---|
{rows}
"""
    write_section("fewshot-dvs", text, args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
