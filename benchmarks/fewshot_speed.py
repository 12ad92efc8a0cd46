"""FSL-SNN pre-training speed on this CPU: images/s of candidate speed-ups beside today's code, in one run.

    .venv/bin/python -m benchmarks.fewshot_speed                          # both presets, all candidates
    .venv/bin/python -m benchmarks.fewshot_speed --preset 20x20-map5 --rounds 0 --check-steps 250  # accuracy check

What is timed: one pre-training step of ``train.pretrain`` (forward of the configured model, TET loss,
backward, SGD with momentum) on a batch of ``pretrain.batch_size`` random binary images of the configured
size, head over ``--classes`` base classes. Candidates (each its own copy of the same initial model):

- ``today``: the code as it is (1 thread, float32, spikingjelly's multi-step LIF op) — the baseline;
- ``2 threads``: ``torch.set_num_threads(2)``;
- ``bf16``: the forward under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (``pretrain.precision``);
- ``channels_last``: every Conv2d weight in channels-last memory format (and with bf16);
- ``LIF single-step``: spikingjelly's single-step ``lif_step`` called once per time step;
- ``LIF reference``: spikingjelly's multi-step torch reference (autograd through every operation);
- ``compiled`` (``--compile``): ``torch.compile`` of the model; its compile time is reported.

The machine is shared and noisy, so the candidates are measured interleaved (round r times each candidate
for ``--steps`` steps, the order rotated every round) and each round's rate is divided by the baseline's of
the same round; the table gives the median rate and the median (min-max) ratio over ``--rounds`` rounds.
Before timing, the LIF forms are checked to give today's loss and gradients.

``--check-steps N`` then trains each ``--check`` precision with the library's ``pretrain`` for N steps on
Omniglot's training classes (same seed, same batches) and scores 5-way 1-shot episodes of the held-out
validation classes (never test classes): the accuracy check of a speed-up.
Data: ``../shared/data/fewshot/omniglot`` (development data). Writes the ``fewshot-speed`` section.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from benchmarks.fewshot_common import apply_overrides, machine, shared_data, write_section

# explicit, so that a change of TrainConfig()'s defaults does not change what a preset times (width 0.5,
# T = 2 and the batch come from TrainConfig()): the 2x2-map recipe of commit 6878aac and the 5x5-map one
PRESETS = {
    "28x28-map2": ["data.image_size=28", "model.backbone.stride_layers=[2,4,6,8]", "model.sfe.time_mode=fold",
                   "model.sfe.reduction=4"],
    "20x20-map5": ["data.image_size=20", "model.backbone.stride_layers=[2,4]", "model.sfe.time_mode=step",
                   "model.sfe.reduction=16"],
}


@dataclass(frozen=True)
class Candidate:
    name: str
    threads: int = 1
    bf16: bool = False
    channels_last: bool = False
    lif: str = "op"  # "op" (spikingjelly's registered multi-step op), "single", "reference"
    compile: bool = False


CANDIDATES = (
    Candidate("today (1 thread, fp32)"),
    Candidate("2 threads", threads=2),
    Candidate("bf16 autocast", bf16=True),
    Candidate("channels_last", channels_last=True),
    Candidate("bf16 + channels_last", bf16=True, channels_last=True),
    Candidate("LIF single-step (lif_step per t)", lif="single"),
    Candidate("LIF multi-step torch reference", lif="reference"),
)


class LIFForm(nn.Module):
    """The dynamics of a spikingjelly ``LIFNode`` (multi-step input ``(T, N, ...)``) through another of
    spikingjelly's code paths: ``"single"`` calls ``functional.lif_step`` per time step, ``"reference"``
    the multi-step torch reference. State starts at ``v_reset`` every call (the backbone resets anyway)."""

    def __init__(self, node: nn.Module, form: str):
        super().__init__()
        self.node, self.form = node, form

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        from spikingjelly._ops.lif.reference import multi_step
        from spikingjelly.activation_based import functional

        n = self.node
        v = torch.full_like(x_seq[0], float(n.v_reset), dtype=torch.float32)
        args = (n.tau, n.decay_input, n.v_threshold, n.v_reset, n.surrogate_function, n.detach_reset)
        if self.form == "reference":
            return multi_step(x_seq, v, *args)[0]
        out = []
        for x in x_seq:
            s, v = functional.lif_step(x, v, *args)
            out.append(s)
        return torch.stack(out)


def build(cfg: Any, cand: Candidate, classes: int) -> nn.Module:
    from spikingjelly.activation_based import neuron

    from neurotrio.fewshot.fslsnn import build_model

    torch.manual_seed(0)
    model = build_model(replace(cfg.model, n_base_classes=classes))
    if cand.lif != "op":
        feats = model.backbone.features
        for i, m in enumerate(feats):
            if isinstance(m, neuron.LIFNode):
                feats[i] = LIFForm(m, cand.lif)
    if cand.channels_last:
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.to(memory_format=torch.channels_last)
    return model


class Runner:
    """One candidate's model, optimizer and step on a fixed batch."""

    def __init__(self, cfg: Any, cand: Candidate, classes: int, x: torch.Tensor, y: torch.Tensor):
        self.cand, self.x, self.y, self.cfg = cand, x, y, cfg
        self.model = build(cfg, cand, classes)
        pc = cfg.pretrain
        self.opt = torch.optim.SGD(self.model.parameters(), lr=pc.lr, momentum=pc.momentum,
                                   weight_decay=pc.weight_decay, nesterov=True)
        self.net = torch.compile(self.model, dynamic=False) if cand.compile else self.model  # per preset
        self.compile_s = 0.0

    def loss(self) -> torch.Tensor:
        from neurotrio.fewshot.losses import tet_loss

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cand.bf16):
            logits = self.net(self.x)
        return tet_loss(logits.float(), self.y, self.cfg.loss.tet_lambda, self.cfg.loss.tet_phi)

    def step(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        self.loss().backward()
        self.opt.step()

    def rate(self, steps: int) -> float:
        """Images per second over ``steps`` steps at this candidate's thread count."""
        torch.set_num_threads(self.cand.threads)
        try:
            t0 = time.perf_counter()
            for _ in range(steps):
                self.step()
            return steps * len(self.x) / (time.perf_counter() - t0)
        finally:
            torch.set_num_threads(1)


def check_lif_forms(cfg: Any, classes: int) -> float:
    """Largest relative difference of loss and gradients between the LIF forms and today's op (fp32)."""
    x = (torch.rand(4, 1, cfg.data.image_size, cfg.data.image_size, generator=torch.Generator().manual_seed(1))
         > 0.8).float()
    y = torch.arange(4) % classes
    worst, ref = 0.0, None
    for form in ("op", "single", "reference"):
        r = Runner(cfg, Candidate(form, lif=form), classes, x, y)
        loss = r.loss()
        loss.backward()
        grads = [p.grad.clone() for p in r.model.parameters() if p.grad is not None]
        if ref is None:
            ref = (float(loss.detach()), grads)
            continue
        worst = max(worst, abs(float(loss.detach()) - ref[0]) / abs(ref[0]))
        for g, g0 in zip(grads, ref[1]):
            worst = max(worst, float((g - g0).abs().max() / g0.abs().max().clamp_min(1e-12)))
    return worst


def measure(cfg: Any, cands: tuple[Candidate, ...], classes: int, rounds: int, steps: int,
            warmup: int) -> list[dict[str, Any]]:
    """Interleaved timing; the first candidate is the baseline of every round's ratio."""
    bs, s = cfg.pretrain.batch_size, cfg.data.image_size
    x = (torch.rand(bs, 1, s, s, generator=torch.Generator().manual_seed(0)) > 0.8).float()  # binary glyph-like
    y = torch.randint(0, classes, (bs,), generator=torch.Generator().manual_seed(0))
    runners = []
    for c in cands:
        r = Runner(cfg, c, classes, x, y)
        t0 = time.perf_counter()
        try:
            for _ in range(warmup):
                r.rate(1)
        except Exception as exc:  # noqa: BLE001 - a candidate that fails (e.g. compile) is reported, others run
            print(f"{c.name}: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})", flush=True)
            continue
        r.compile_s = time.perf_counter() - t0
        runners.append(r)
        print(f"{c.name}: warm-up {r.compile_s:.1f} s", flush=True)
    rates: list[list[float]] = [[] for _ in runners]
    for k in range(rounds):
        order = list(range(len(runners)))
        order = order[k % len(order):] + order[: k % len(order)]
        for i in order:
            rates[i].append(runners[i].rate(steps))
        print(f"round {k + 1}/{rounds}: " + ", ".join(f"{r.cand.name} {rates[i][-1]:.0f}"
                                                    for i, r in enumerate(runners)), flush=True)
    out = []
    for i, r in enumerate(runners):
        ratios = [a / b for a, b in zip(rates[i], rates[0])]
        out.append({"name": r.cand.name, "rate": statistics.median(rates[i]), "ratio": statistics.median(ratios),
                    "ratio_min": min(ratios), "ratio_max": max(ratios), "warmup_s": r.compile_s})
    return out


def timing_table(cfg: Any, cands: tuple[Candidate, ...], args: argparse.Namespace) -> str:
    """LIF-form check, interleaved timing, and the Markdown table of one preset."""
    diff = check_lif_forms(cfg, args.classes)
    print(f"LIF forms vs today's op: max relative difference of loss and gradients {diff:.1e}", flush=True)
    rows = measure(cfg, cands, args.classes, args.rounds, args.steps, args.warmup)
    table = ["| candidate | images/s (median) | ratio to today (median, min–max) | warm-up s |", "|---|---|---|---|"]
    table += [f"| {r['name']} | {r['rate']:.1f} | {r['ratio']:.2f} ({r['ratio_min']:.2f}–{r['ratio_max']:.2f}) | "
              f"{r['warmup_s']:.1f} |" for r in rows]
    return f"; LIF forms agree with today's op to {diff:.0e} (loss, gradients).\n\n" + "\n".join(table)


def accuracy_check(cfg: Any, precisions: list[str], steps: int) -> list[dict[str, Any]]:
    """``pretrain`` for ``steps`` steps per precision on Omniglot training classes; validation classes score."""
    from benchmarks.fewshot_study import _cap_loader
    from neurotrio.core.seed import seed_everything
    from neurotrio.fewshot.evaluate import load_splits
    from neurotrio.fewshot.fslsnn import build_model
    from neurotrio.fewshot.train import pretrain, resolve_model_config

    _cap_loader(steps)
    data = replace(cfg.data, dataset="omniglot", root=str(shared_data() / "fewshot" / "omniglot"),
                   cache_dir="/tmp/neurotrio_fewshot_cache")
    cfg = replace(cfg, data=data, device="cpu", pretrain=replace(cfg.pretrain, epochs=1))
    splits = load_splits(cfg.data, need=("train", "val"), seed=cfg.seed)
    out = []
    for prec in precisions:
        run_cfg = replace(cfg, pretrain=replace(cfg.pretrain, precision=prec))
        gen = seed_everything(cfg.seed)
        model = build_model(resolve_model_config(run_cfg, splits["train"]))
        t0 = time.perf_counter()
        hist = pretrain(model, splits["train"], splits["val"], run_cfg, torch.device("cpu"), gen)
        rec = {"precision": prec, "train_loss": hist[-1]["train_loss"], "val_acc": 100 * hist[-1]["val_acc"],
               "wall_s": time.perf_counter() - t0, "n_train_classes": splits["train"].n_classes,
               "n_val_classes": splits["val"].n_classes}
        print(f"check {prec}: {rec}", flush=True)
        out.append(rec)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", choices=sorted(PRESETS), help="config(s) to time (default: all)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="TrainConfig overrides applied on top of every preset")
    ap.add_argument("--classes", type=int, default=868, help="base classes of the pre-training head (Omniglot: 868)")
    ap.add_argument("--rounds", type=int, default=5, help="timing rounds (0: no timing, only --check-steps)")
    ap.add_argument("--steps", type=int, default=2, help="steps per candidate per round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    ap.add_argument("--check-steps", type=int, default=0, help="accuracy check: pre-training steps per precision")
    ap.add_argument("--check", action="append", default=None, help="precisions to check (default fp32, bf16)")
    ap.add_argument("--note", default="", help="a line on the machine's load, printed under the tables")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args(argv)
    from neurotrio.fewshot.model import feature_shape
    from neurotrio.fewshot.train import TrainConfig

    torch.set_num_threads(1)
    cands = CANDIDATES + ((Candidate("torch.compile", compile=True),) if args.compile else ())
    presets = args.preset or list(PRESETS)
    cmd = ".venv/bin/python -m benchmarks.fewshot_speed " + " ".join(
        [f"--preset {p}" for p in args.preset or []] + [f"--set {o}" for o in args.overrides]
        + [f"--rounds {args.rounds}", f"--steps {args.steps}"] + (["--compile"] if args.compile else [])
        + ([f"--check-steps {args.check_steps}"] if args.check_steps else [])
        + [f"--check {c}" for c in args.check or []])
    parts, checks_md = [], []
    t_start, load_start = time.perf_counter(), os.getloadavg()[0]
    for name in presets:
        cfg = apply_overrides(TrainConfig(), PRESETS[name] + args.overrides)
        bb, s = cfg.model.backbone, cfg.data.image_size
        fmap = feature_shape(bb, (s, s))
        desc = (f"width {bb.width}, T={bb.time_steps}, {s}×{s} inputs, stride 2 on layers {list(bb.stride_layers)} "
                f"→ {fmap[1]}×{fmap[2]} maps, SFE {cfg.model.sfe.time_mode} mode reduction {cfg.model.sfe.reduction}"
                f", batch {cfg.pretrain.batch_size}")
        print(f"== {name}: {desc}", flush=True)
        if args.rounds > 0:
            parts.append(f"**{name}** ({desc}, {args.classes} classes)" + timing_table(cfg, cands, args))
        if args.check_steps:
            checks = accuracy_check(cfg, args.check or ["fp32", "bf16"], args.check_steps)
            checks_md.append(f"**{name}** ({desc}): {args.check_steps} pre-training steps on the {checks[0]['n_train_classes']}"
                             f" Omniglot training classes (cosine lr {cfg.pretrain.lr} → 0), then "
                             f"{cfg.eval.val_episodes} 5-way 1-shot episodes of the {checks[0]['n_val_classes']} "
                             "validation classes:\n\n"
                             "| precision | train loss (mean over the steps) | validation accuracy % | wall s |\n"
                             "|---|---|---|---|\n" + "\n".join(
                                 f"| {c['precision']} | {c['train_loss']:.3f} | {c['val_acc']:.1f} | {c['wall_s']:.0f} |"
                                 for c in checks))
    total = time.perf_counter() - t_start
    note = (f"{args.note + '; ' if args.note else ''}1-minute load average {load_start:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end (2 = both cores busy)")
    if parts:
        text = f"""### fewshot-speed: FSL-SNN pre-training speed on this CPU (candidates vs today's code, one run)

Command: `{cmd}`<br>
Machine: {machine('cpu')} (AVX-512 BF16); {note}. Candidates timed interleaved,
{args.rounds} rounds × {args.steps} steps each after {args.warmup} warm-up steps, ratio to today's code in the same
round; random binary inputs, 20 % ink (speed does not depend on the data). Whole run {total / 60:.1f} min.

{chr(10).join(p + chr(10) for p in parts)}"""
        write_section("fewshot-speed", text, args.no_write)
    if checks_md:
        text = f"""### fewshot-speed-check: does bf16 pre-training keep the accuracy? (validation classes only)

Command: `{cmd}`<br>
Data: development data, official Omniglot zips, background alphabets only (training classes train, held-out
validation classes score; test classes are not loaded). Same seed, same initial weights, same batches for each
precision; the library's `pretrain` with `pretrain.precision`. Machine: {machine('cpu')}; {note}.

{chr(10).join(c + chr(10) for c in checks_md)}"""
        write_section("fewshot-speed-check", text, args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
