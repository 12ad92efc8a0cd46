"""Energy of FSL-SNN vs its ANN twin (same architecture, ReLU, T=1) at their measured Omniglot accuracies;
writes the ``fewshot-energy`` section of BENCHMARKS.md.

    OMP_NUM_THREADS=1 python -m benchmarks.fewshot_energy        # reuses the fewshot_omniglot SNN if present
    python -m benchmarks.fewshot_energy --full                    # paper scale, for a GPU

Energy per image of backbone + SFE: 4.6 pJ per MAC, 0.9 pJ per accumulate (Horowitz 2014), firing rates
measured on real test images (see docs/fewshot.md, "Energy"). Data: development data (Omniglot).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from benchmarks.fewshot_common import apply_overrides, base_args, fmt, run, write_section
from benchmarks.fewshot_omniglot import config as omniglot_config


def main(argv: list[str] | None = None) -> int:
    ap = base_args(__doc__.splitlines()[0], "/tmp/neurotrio_bench/fewshot_energy")
    ap.add_argument("--snn-run", default="/tmp/neurotrio_bench/fewshot_omniglot",
                    help="folder with the SNN's model.safetensors from benchmarks.fewshot_omniglot (else trained here)")
    ap.add_argument("--images", type=int, default=256, help="test images for the firing rates")
    ap.add_argument("--wait-min", type=float, default=0.0,
                    help="after training the ANN twin, wait up to this long for --snn-run to appear")
    args = ap.parse_args(argv)

    import torch

    from neurotrio.core.seed import pick_device
    from neurotrio.fewshot.energy import compare_energy
    from neurotrio.fewshot.evaluate import evaluate_model, load_model
    from neurotrio.fewshot.model import twin_config

    cfg = apply_overrides(omniglot_config(args.full, args.cache_dir), args.overrides)
    device = pick_device(cfg.device)
    t0 = time.perf_counter()
    ann_cfg = replace(cfg, model=replace(cfg.model, backbone=twin_config(cfg.model.backbone, 1)))
    ann_res = run(ann_cfg, Path(args.out) / "ann")
    ann, ann_acc = ann_res["model"], ann_res["test"]
    snn_file = Path(args.snn_run) / "model.safetensors"
    deadline = time.time() + 60 * args.wait_min
    while not snn_file.is_file() and time.time() < deadline:
        time.sleep(20)
    if snn_file.is_file():
        snn = load_model(snn_file).to(device)
        test = ann_res["splits"]["test"]
        snn_acc = evaluate_model(snn, test, cfg.eval, device)
        snn_note = f"the SNN of `benchmarks.fewshot_omniglot` (`{snn_file}`)"
    else:
        res = run(cfg, Path(args.out) / "snn")
        snn, test, snn_acc = res["model"], res["splits"]["test"], res["test"]
        snn_note = "an SNN trained here with the fewshot_omniglot settings"
    g = torch.Generator().manual_seed(cfg.seed)
    images = test.images[torch.randperm(len(test.images), generator=g)[: args.images]].to(device)
    s_rep, a_rep, ratio = compare_energy(snn.cpu(), ann.cpu(), images.cpu(), rule="paper")
    s_strict, _, ratio_strict = compare_energy(snn.cpu(), ann.cpu(), images.cpu(), rule="strict")
    wall = time.perf_counter() - t0
    drop = {s: ann_acc[s]["mean"] - snn_acc[s]["mean"] for s in cfg.eval.settings}
    cmd = "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.fewshot_energy" + (" --full" if args.full else "")
    scale = "full scale" if args.full else "CPU scale"
    rows = "\n".join(f"| {s} | {fmt(snn_acc[s])} | {fmt(ann_acc[s])} | {drop[s]:+.2f} |" for s in cfg.eval.settings)
    within = max(drop.values()) <= 2.0
    verdict = ("met (by both rules)" if within and ratio_strict >= 5 else "not met: " + "; ".join(
        ([] if within else [f"the ANN twin is up to {max(drop.values()):.1f} pp more accurate"])
        + ([] if ratio >= 5 else [f"{ratio:.2f}× by the paper's rule"])
        + ([f"{ratio_strict:.2f}× by the strict rule"] if ratio_strict < 5 else [])))
    text = f"""### fewshot-energy: FSL-SNN vs its ANN twin on Omniglot ({scale})

Command: `{cmd}`<br>
SNN: {snn_note}; T={snn.cfg.backbone.time_steps}. ANN twin: same architecture and schedule, ReLU, T=1, trained
here ({ann_res['train']['pretrain_s'] + ann_res['train']['finetune_s']:.0f} s). Accuracy: {cfg.eval.episodes} test episodes of
the evaluation alphabets per setting, % with 95 % CI. Energy: backbone + SFE per image, firing rates
measured on {args.images} test images; 4.6 pJ/MAC, 0.9 pJ/AC (Horowitz 2014); CFC and BN not counted.
Two rules (`neurotrio.fewshot.energy`): the paper's (MACs for the first layer only, SOPs = input
non-zero rate × MACs for every later layer) and a strict one (every layer with a real-valued input, such as
the SFE's correlation volume, pays dense MACs).
Machine: {ann_res['train']['machine']}; wall time {wall / 60:.1f} min. Data: development data.

| setting | SNN accuracy | ANN twin accuracy | ANN − SNN (pp) |
|---|---|---|---|
{rows}

| model | MACs (dense) | SOPs | energy per image | E_ANN / E_SNN |
|---|---|---|---|---|
| SNN, paper's rule | {s_rep.total_macs:,.0f} | {s_rep.total_sops:,.0f} | {s_rep.total_pj / 1e6:.4f} µJ | **{ratio:.2f}×** |
| SNN, strict rule | {s_strict.total_macs:,.0f} | {s_strict.total_sops:,.0f} | {s_strict.total_pj / 1e6:.4f} µJ | {ratio_strict:.2f}× |
| ANN twin | {a_rep.total_macs:,.0f} | 0 | {a_rep.total_pj / 1e6:.4f} µJ | 1× |

Goal: ≥ 5× less energy within 2 pp of the ANN twin's accuracy — {verdict}.

<details><summary>SNN per-layer tables (paper's rule, then strict)</summary>

{s_rep.table()}

{s_strict.table()}
</details>
"""
    write_section("fewshot-energy", text, args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
