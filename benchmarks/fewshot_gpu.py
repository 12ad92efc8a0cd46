"""FSL-SNN at paper scale on one GPU within a wall-clock budget: trains, tests, prints the Omniglot table.

    python -m benchmarks.fewshot_gpu                       # on the GPU machine: at most --budget-s 480 s
    python -m benchmarks.fewshot_gpu --precision bf16 --set pretrain.epochs=30
    python -m benchmarks.fewshot_gpu --tiny                # the CPU check of the whole path (synthetic data)
    python -m benchmarks.fewshot_gpu --estimate            # FLOPs of the run and the H200 seconds they take

The recipe is ``benchmarks.fewshot_omniglot --full``: today's ``TrainConfig()`` recipe (20×20 inputs, step-mode
SFE) at width 1, T = 4, stride 2 on layers 2 and 4 (→ 5×5 maps), training classes × 4 rotations, 60 TET epochs,
4000 fine-tuning episodes, 1000 test episodes per setting; in float32 (TF32 convolutions on the GPU).
``--precision bf16`` autocasts pre-training: faster, but in 250-step checks on the CPU it validated 1.5 pp
lower on average (BENCHMARKS.md, "fewshot-speed-check"). ``--estimate`` counts 6.55 GFLOP per training image,
27 PFLOP of pre-training: 149 s at 40 % of one H200's dense TF32 peak, before 32,520 steps' elementwise work
and kernel launches, 60 validations, 4000 fine-tuning and 8000 test episodes; whether it all fits 8 minutes
is not known, so the script fits the schedule to the budget instead of cutting it off:

1. load the data (training and validation classes of the background alphabets, test classes of the
   evaluation alphabets), then time, on this machine, pre-training steps, one validation, fine-tuning
   episodes, and test embedding + episodes (``calibrate``);
2. plan (``plan_budget``): the test and ``finetune_share`` of the rest for fine-tuning, then as many whole
   pre-training epochs as fit (at most the configured number; the cosine schedule spans what is planned);
   if not even one fits, one shortened epoch;
3. train with the library's ``train_model`` (best validation epoch kept; fine-tuning kept only if it
   improves validation accuracy); a guard stops pre-training batches at the planned deadline;
4. test on the test classes (5w1s, 5w5s, 20w1s, 20w5s, 95 % CIs), with the ProtoNet readout of the same
   backbone beside it and MESM's numbers; print the table and write ``results.json`` in ``--out``.

It has NOT been run on a GPU in this repository: no GPU numbers are claimed. Data:
``../shared/data/fewshot/omniglot`` or ``--root`` (development data).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from benchmarks.fewshot_common import MESM, BudgetedLoader, apply_overrides, fmt, machine, protonet_readout


@dataclass(frozen=True)
class Plan:
    """What fits the budget: pre-training epochs × steps per epoch, fine-tuning episodes; projected seconds."""

    epochs: int
    steps_per_epoch: int
    finetune_episodes: int
    val_every: int
    pretrain_s: float
    finetune_s: float
    test_s: float


def plan_budget(left_s: float, step_s: float, val_s: float, episode_s: float, test_s: float,
                steps_per_epoch: int, max_epochs: int, max_episodes: int, finetune_share: float = 0.15,
                margin: float = 0.9) -> Plan:
    """Fit pre-training and fine-tuning into ``left_s`` seconds, given measured unit costs (seconds).

    ``margin`` of ``left_s`` is planned (the rest absorbs timing noise). The test (``test_s``) comes
    first; fine-tuning gets ``finetune_share`` of what remains (at most ``max_episodes`` episodes, with
    2 validations plus the one before it); pre-training the rest: whole epochs of ``steps_per_epoch`` steps
    plus one validation each, at most ``max_epochs``; if no whole epoch fits, one epoch of the steps that do.

    Raises:
        ConfigError: the budget cannot hold the test and one validated pre-training step.
    """
    from neurotrio.core.errors import ConfigError

    usable = left_s * margin - test_s
    if usable < step_s + val_s:
        raise ConfigError(f"budget too small: {left_s:.0f} s left, the test alone takes ~{test_s:.0f} s and a "
                          f"validated pre-training step ~{step_s + val_s:.1f} s; raise --budget-s")
    episodes = min(max_episodes, int(finetune_share * usable / episode_s)) if max_episodes > 0 else 0
    if episodes > 0 and episodes * episode_s + 3 * val_s > finetune_share * usable:
        episodes = max(0, int((finetune_share * usable - 3 * val_s) / episode_s))
    val_every = max(1, episodes // 2)
    ft_s = episodes * episode_s + (3 * val_s if episodes else 0)
    pre_s = usable - ft_s
    epoch_s = steps_per_epoch * step_s + val_s
    epochs = min(max_epochs, int(pre_s // epoch_s))
    steps = steps_per_epoch
    if epochs < 1:
        epochs, steps = 1, max(1, min(steps_per_epoch, int((pre_s - val_s) / step_s)))
    return Plan(epochs, steps, episodes, val_every, epochs * (steps * step_s + val_s), ft_s, test_s)


@contextmanager
def budgeted_pretraining(steps: int, deadline: float):
    """Inside the block, ``core.distributed.make_loader`` (pre-training's loader) returns ``BudgetedLoader``s."""
    from neurotrio.core import distributed

    made: list[BudgetedLoader] = []
    make = distributed.make_loader

    def wrapped(*args: Any, **kwargs: Any) -> BudgetedLoader:
        made.append(BudgetedLoader(make(*args, **kwargs), steps, deadline))
        return made[-1]

    distributed.make_loader = wrapped
    try:
        yield made
    finally:
        distributed.make_loader = make


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def calibrate(cfg: Any, splits: dict[str, Any], device: torch.device, steps: int) -> dict[str, float]:
    """Seconds per pre-training step, validation, fine-tuning episode, and for the whole test (both readouts),
    measured with the library's functions on a throwaway copy of the model."""
    from neurotrio.core.seed import seed_everything
    from neurotrio.fewshot.evaluate import (
        FeatureSet,
        embed_all,
        episode_accuracy,
        episode_batches,
        parse_setting,
    )
    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.losses import fewshot_loss, tet_loss
    from neurotrio.fewshot.train import resolve_model_config, validation_score

    train, val, test = splits["train"], splits["val"], splits["test"]
    gen = seed_everything(cfg.seed)
    model = build_model(resolve_model_config(cfg, train)).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    pc, amp = cfg.pretrain, cfg.pretrain.precision == "bf16"
    _, labels = train.targets.unique(return_inverse=True)
    idx = torch.randint(0, len(labels), (steps + 2, pc.batch_size), generator=gen)

    def train_step(i: int) -> None:
        x, y = train.images[idx[i]].to(device), labels[idx[i]].to(device)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        tet_loss(logits.float(), y, cfg.loss.tet_lambda, cfg.loss.tet_phi).backward()
        opt.step()

    for i in range(2):  # warm-up: allocator, cuDNN algorithm choice
        train_step(i)
    sync(device)
    t0 = time.perf_counter()
    for i in range(2, steps + 2):
        train_step(i)
    sync(device)
    step_s = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    validation_score(model, train, val, cfg, device, cfg.seed + 1)
    val_s = time.perf_counter() - t0
    ft = cfg.finetune
    t0, n_ep = time.perf_counter(), 2
    for s, sy, q, qy in episode_batches(train, ft.n_way, ft.k_shot, ft.n_query, n_ep, gen):
        opt.zero_grad(set_to_none=True)
        out = model.episode(s.to(device), sy.to(device), q.to(device), ft.n_way)
        fewshot_loss(out.logits, out.query_emb, out.proto_emb, qy.to(device), cfg.loss).backward()
        opt.step()
    sync(device)
    episode_s = (time.perf_counter() - t0) / n_ep
    model.eval()
    t0 = time.perf_counter()
    feats = FeatureSet(embed_all(model, val.images, device, cfg.eval.batch_size), val.targets)
    embed_s = (time.perf_counter() - t0) / len(val.targets) * len(test.targets)
    score_s, n_score = 0.0, 3
    for setting in cfg.eval.settings:
        n_way, k_shot = parse_setting(setting)
        t0 = time.perf_counter()
        episode_accuracy(model, feats, min(n_way, val.n_classes), k_shot, cfg.eval.n_query, n_score, gen)
        score_s += (time.perf_counter() - t0) / n_score * cfg.eval.episodes
    return {"step_s": step_s, "val_s": val_s, "episode_s": episode_s, "test_s": 2 * (embed_s + score_s)}


H200_DENSE_TFLOPS = {"bf16": 989.0, "fp32": 494.0}  # NVIDIA H200 SXM datasheet, dense (fp32 convs run as TF32)


def estimate(cfg: Any, n_train_images: int, n_test_images: int, n_classes: int) -> dict[str, float]:
    """FLOPs of the configured run (``FlopCounterMode``: convolutions and matrix products, 2 per MAC) and
    the seconds they take on one H200 at its dense peak and at 40 % of it. Elementwise work (LIF, batch
    norm, the SFE's unfold) and Python overhead are not counted, so real runs take longer."""
    from torch.utils.flop_counter import FlopCounterMode

    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.losses import tet_loss

    model = build_model(replace(cfg.model, n_base_classes=n_classes))
    s = cfg.data.image_size
    x, y = torch.zeros(2, cfg.model.backbone.in_channels, s, s), torch.zeros(2, dtype=torch.long)
    with FlopCounterMode(display=False) as fwd:
        with torch.no_grad():
            model(x)
    with FlopCounterMode(display=False) as train:
        tet_loss(model(x), y).backward()
    per_fwd, per_train = fwd.get_total_flops() / 2, train.get_total_flops() / 2
    pc, ft = cfg.pretrain, cfg.finetune
    pre = per_train * (n_train_images // pc.batch_size) * pc.batch_size * pc.epochs
    fine = per_train * ft.episodes * ft.n_way * (ft.k_shot + ft.n_query)
    test = 2 * per_fwd * n_test_images  # FSL-SNN and the ProtoNet readout each embed the test set
    total = pre + fine + test
    peak = H200_DENSE_TFLOPS[pc.precision] * 1e12
    return {"gflop_per_train_image": per_train / 1e9, "gflop_per_forward": per_fwd / 1e9, "pretrain_pflop": pre / 1e15,
            "finetune_pflop": fine / 1e15, "test_pflop": test / 1e15, "s_at_peak": total / peak,
            "s_at_40pct": total / (0.4 * peak)}


def config(args: argparse.Namespace) -> Any:
    """The paper-scale recipe of ``fewshot_omniglot --full`` (or, with ``--tiny``, a seconds-long one on
    synthetic glyphs), with ``--precision`` and the ``--set`` overrides."""
    from benchmarks.fewshot_omniglot import config as omniglot_config
    from neurotrio.fewshot.evaluate import EvalConfig

    cfg = omniglot_config(True, args.cache_dir)
    cfg = replace(cfg, pretrain=replace(cfg.pretrain, precision=args.precision), device=args.device)
    if args.root:
        cfg = replace(cfg, data=replace(cfg.data, root=args.root))
    if args.tiny:  # every stage runs, each for seconds: 16x16 glyphs, 4x4 maps, 1 epoch, 2 episodes
        bb = replace(cfg.model.backbone, width=1 / 16, time_steps=2)
        cfg = replace(cfg, model=replace(cfg.model, backbone=bb),
                      data=replace(cfg.data, dataset="synthetic", synthetic_classes=100, image_size=16, root="",
                                   cache_dir="", rotations=(0, 180)),
                      pretrain=replace(cfg.pretrain, epochs=1, batch_size=32),
                      finetune=replace(cfg.finetune, episodes=2), bn_recalibration_batches=2,
                      eval=EvalConfig(episodes=5, val_episodes=5, batch_size=256))
    return apply_overrides(cfg, args.overrides)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=480.0, help="wall-clock budget of the whole run (seconds)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="pre-training autocast")
    ap.add_argument("--root", default="", help="Omniglot folder (default ../shared/data/fewshot/omniglot)")
    ap.add_argument("--cache-dir", default="/tmp/neurotrio_fewshot_cache", help="decoded-data cache (outside the repo)")
    ap.add_argument("--calibration-steps", type=int, default=5)
    ap.add_argument("--finetune-share", type=float, default=0.15, help="share of the training time for fine-tuning")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--estimate", action="store_true",
                    help="only count the configured run's FLOPs and the H200 seconds they take (no training)")
    ap.add_argument("--tiny", action="store_true", help="tiny model on synthetic glyphs: checks the script on a CPU")
    ap.add_argument("--out", default="runs/fewshot_gpu")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    from neurotrio.core.checkpoint import save_weights
    from neurotrio.core.config import to_dict
    from neurotrio.core.errors import NeurotrioError
    from neurotrio.core.results import markdown_table, write_results
    from neurotrio.core.seed import pick_device
    from neurotrio.fewshot.evaluate import evaluate_model, load_splits
    from neurotrio.fewshot.train import train_model

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: no CUDA device here: run on the GPU machine, or with --device cpu (slow)", file=sys.stderr)
        return 2
    try:
        cfg = config(args)
        device = pick_device(cfg.device)
    except NeurotrioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if cfg.data.dataset != "synthetic" and not Path(cfg.data.root).exists():
        print(f"skip: Omniglot not found at {cfg.data.root}; pass --root", file=sys.stderr)
        return 0
    if device.type == "cpu":  # as the other FSL-SNN benchmarks: 1 thread unless OMP_NUM_THREADS says more
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    bb = cfg.model.backbone
    print(f"device {machine(str(device))}; width {bb.width}, T={bb.time_steps}, {cfg.data.image_size}×"
          f"{cfg.data.image_size}, strides {list(bb.stride_layers)}, SFE {cfg.model.sfe.time_mode}/"
          f"{cfg.model.sfe.reduction}, pre-training {cfg.pretrain.precision}; budget {args.budget_s:.0f} s", flush=True)
    splits = load_splits(cfg.data, need=("train", "val", "test"), seed=cfg.seed)
    load_s = time.perf_counter() - t_start
    if args.estimate:
        est = estimate(cfg, len(splits["train"].targets), len(splits["test"].targets), splits["train"].n_classes)
        print(f"{est['gflop_per_train_image']:.2f} GFLOP per training image (forward {est['gflop_per_forward']:.2f}); "
              f"pre-training {est['pretrain_pflop']:.1f} PFLOP ({len(splits['train'].targets)} images × "
              f"{cfg.pretrain.epochs} epochs), fine-tuning {est['finetune_pflop']:.1f}, test {est['test_pflop']:.2f} "
              f"PFLOP → one H200 ({cfg.pretrain.precision}, dense peak {H200_DENSE_TFLOPS[cfg.pretrain.precision]:.0f}"
              f" TFLOP/s): {est['s_at_peak']:.0f} s at peak, {est['s_at_40pct']:.0f} s at 40 % of peak, before "
              "elementwise work, validation and Python overhead", flush=True)
        return 0
    cal = calibrate(cfg, splits, device, args.calibration_steps)
    spe = len(splits["train"].targets) // cfg.pretrain.batch_size
    left = args.budget_s - (time.perf_counter() - t_start)
    try:
        plan = plan_budget(left, cal["step_s"], cal["val_s"], cal["episode_s"], cal["test_s"], spe,
                           cfg.pretrain.epochs, cfg.finetune.episodes, args.finetune_share)
    except NeurotrioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(f"data {load_s:.0f} s; per step {cal['step_s']:.3f} s, validation {cal['val_s']:.1f} s, episode "
          f"{cal['episode_s']:.3f} s, test ~{cal['test_s']:.0f} s → plan: {plan.epochs} epoch(s) × "
          f"{plan.steps_per_epoch}/{spe} steps (configured {cfg.pretrain.epochs} × {spe}), {plan.finetune_episodes} "
          f"fine-tuning episodes (configured {cfg.finetune.episodes}); projected {plan.pretrain_s:.0f} + "
          f"{plan.finetune_s:.0f} + {plan.test_s:.0f} s", flush=True)
    run_cfg = replace(cfg, pretrain=replace(cfg.pretrain, epochs=plan.epochs),
                      finetune=replace(cfg.finetune, episodes=plan.finetune_episodes, val_every=plan.val_every))
    t_train = time.perf_counter()
    with budgeted_pretraining(plan.steps_per_epoch, t_train + plan.pretrain_s / 0.9) as loaders:
        model, record = train_model(run_cfg, splits["train"], splits["val"])
    stopped = next((ld.stopped_at for ld in loaders if ld.stopped_at is not None), None)
    if stopped is not None:
        print(f"budget guard: pre-training stopped after {stopped} steps", flush=True)
    test = evaluate_model(model, splits["test"], cfg.eval, device)
    ablation = protonet_readout(model, splits["test"], cfg, device)
    total = time.perf_counter() - t_start
    rows = [[s, fmt(test[s]), fmt(ablation[s]), f"{MESM[s]:.2f}"] for s in cfg.eval.settings]
    print(markdown_table(["setting", "FSL-SNN", "same backbone, ProtoNet readout", "MESM (paper)"], rows))
    kept = record["kept"] if plan.finetune_episodes else "pretrained (no fine-tuning planned)"
    curve = " → ".join(f"{100 * e['val_acc']:.1f}" for e in record["pretrain_history"])
    print(f"{cfg.eval.episodes} test episodes per setting, {splits['test'].n_classes} test classes; validation per "
          f"epoch {curve} %; kept {kept}; wall: data "
          f"{load_s:.0f} s, pre-training {record['pretrain_s']:.0f} s, fine-tuning {record['finetune_s']:.0f} s, test "
          f"{test['eval_s'] + ablation['eval_s']:.0f} s, total {total:.0f} s of {args.budget_s:.0f} s on "
          f"{machine(str(device))}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record["model_config"] = to_dict(record["model_config"])
    save_weights(model, out / "model.safetensors", metadata={"model_config": record["model_config"],
                                                             "data": to_dict(cfg.data)})
    write_results(out, "results", {"train": record, "test": test, "protonet_readout": ablation,
                                   "calibration": cal, "plan": plan.__dict__, "stopped_at": stopped,
                                   "total_s": total, "budget_s": args.budget_s}, config=run_cfg, seed=cfg.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
