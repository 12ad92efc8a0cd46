"""FSL-SNN ablations on one trained Omniglot model: episodic fine-tuning with and without InfoNCE, and the
ProtoNet readout (no SFE, no CFC), all scored on the same test episodes.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_ablation --run /tmp/neurotrio_bench/fewshot_omniglot

``--run`` is the output folder of ``benchmarks.fewshot_omniglot`` (its ``model.safetensors`` and
``benchmark.json``). From that model, fine-tuning runs twice with the library's ``finetune`` (same seed,
same episodes): the recipe's loss ``w_tet·TET + w_nce·InfoNCE`` and TET alone (``loss.w_nce=0``). Both
fine-tuned models are reported as they end (no keep-or-discard rule, so the loss is what differs), with
their validation accuracy before and after (validation classes only) and their test accuracy on the same
600 episodes per setting as the start model and its ProtoNet readout. Development data.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import replace
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import torch

    from benchmarks.fewshot_common import (
        base_args,
        fmt,
        machine,
        protonet_readout,
        shared_data,
        write_section,
    )
    from neurotrio.core.config import from_dict
    from neurotrio.core.seed import seed_everything
    from neurotrio.fewshot.evaluate import evaluate_model, load_model, load_splits
    from neurotrio.fewshot.train import TrainConfig, finetune, validation_score

    ap = base_args(__doc__.splitlines()[0], "/tmp/neurotrio_bench/fewshot_ablation")
    ap.add_argument("--run", default="/tmp/neurotrio_bench/fewshot_omniglot",
                    help="output folder of benchmarks.fewshot_omniglot (model.safetensors, benchmark.json)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    run = Path(args.run)
    bench = json.loads((run / "benchmark.json").read_text())
    cfg = from_dict(TrainConfig, bench["config"])            # the run's own recipe (fine-tuning, loss, eval)
    cfg = replace(cfg, device="cpu", progress=False,
                  data=replace(cfg.data, root=str(shared_data() / "fewshot" / "omniglot"), cache_dir=args.cache_dir))
    if args.overrides:
        from neurotrio.core.config import apply_overrides

        cfg = apply_overrides(cfg, args.overrides)
    device = torch.device("cpu")
    t0 = time.perf_counter()
    splits = load_splits(cfg.data, need=("train", "val", "test"), seed=cfg.seed)
    start = load_model(run / "model.safetensors", cfg.data.image_size)
    kept = bench["metrics"]["train"]["kept"]
    results = {"start": evaluate_model(start, splits["test"], cfg.eval, device),
               "protonet": protonet_readout(start, splits["test"], cfg, device)}
    start_val = validation_score(start, splits["train"], splits["val"], cfg, device, cfg.seed + 1)["val_acc"]
    vals = {"start": [start_val]}
    for name, w_nce in (("tet+infonce", cfg.loss.w_nce), ("tet", 0.0)):
        model = copy.deepcopy(start)
        run_cfg = replace(cfg, loss=replace(cfg.loss, w_nce=w_nce))
        gen = seed_everything(run_cfg.seed)
        hist = finetune(model, splits["train"], splits["val"], run_cfg, device, gen)
        vals[name] = [e["val_acc"] for e in hist]
        results[name] = evaluate_model(model, splits["test"], cfg.eval, device)
        print(name, [round(100 * v, 2) for v in vals[name]], {s: results[name][s]["mean"] for s in cfg.eval.settings},
              flush=True)
    wall = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps({"results": results, "val": vals, "kept": kept}, indent=1))
    ft = cfg.finetune
    rows = "\n".join(f"| {s} | {fmt(results['start'][s])} | {fmt(results['tet+infonce'][s])} | "
                     f"{fmt(results['tet'][s])} | {fmt(results['protonet'][s])} |" for s in cfg.eval.settings)
    curve = {k: " → ".join(f"{100 * v:.1f}" for v in [start_val, *vals[k]]) for k in ("tet+infonce", "tet")}
    text = f"""### fewshot-ablation: with and without InfoNCE, and the ProtoNet readout (Omniglot, CPU scale)

Command: `OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.fewshot_ablation` (after `benchmarks.fewshot_omniglot`)<br>
Start: the model of the fewshot-omniglot section ({kept} weights). From it, {ft.episodes} fine-tuning episodes
({ft.n_way}-way {ft.k_shot}-shot, lr {ft.lr}, gradient clip {ft.grad_clip}, same seed and episodes) with the
recipe's loss (TET + {cfg.loss.w_nce} × InfoNCE) and with TET alone; each is reported as it ends.
Validation (5w1s, validation classes): TET + InfoNCE {curve['tet+infonce']} %; TET alone {curve['tet']} %.
Test: the same {cfg.eval.episodes} episodes per setting for every column, accuracy % with 95 % CI.
Machine: {machine('cpu')}; wall time {wall / 60:.1f} min. Data: development data.

| setting | start model (SFE + CFC) | fine-tuned, TET + InfoNCE | fine-tuned, TET only | start model, ProtoNet readout |
|---|---|---|---|---|
{rows}
"""
    write_section("fewshot-ablation", text, args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
