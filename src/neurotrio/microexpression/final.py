"""Train one MPFNet variant (or the baseline) on every subject and save a model folder for ``predict``.

The same stages as one LOSO fold (``train.train_priors``, ``train.build_variant``, ``train.finetune``)
on all samples; the folder's ``model.json`` records the input preparation (centring, statistics) that
``predict`` applies to new samples.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from neurotrio.microexpression.config import LosoConfig
from neurotrio.microexpression.inputs import (
    _amplifier_factory,
    _load,
    _standardized,
    center_flow,
    input_stats,
    standardize,
)
from neurotrio.microexpression.stages import train_classifier
from neurotrio.microexpression.train import (
    _for_input_channels,
    build_variant,
    finetune,
    train_priors,
)

log = logging.getLogger(__name__)


def train_final(cfg: LosoConfig, out_dir: str | Path, progress: bool = True) -> Path | None:
    """Train the first variant of ``cfg`` on ALL subjects and save a model folder for ``predict``.

    The folder holds ``model.safetensors`` (weights and, for MPFNet, the prototypes of all samples),
    ``model.json`` (variant, classes, input shape, model config), ``losses.json`` (per-epoch losses of
    every stage, per-episode losses of stage 3) and ``config.yaml``. With ``progress`` each stage's start
    and end (elapsed seconds, final loss) is printed to stderr.

    One small model, no data parallelism: under torchrun rank 0 trains and writes it alone, and the
    other ranks return None at once (no collective, so a long training cannot time out a barrier).
    """
    from neurotrio.core import distributed
    from neurotrio.core.checkpoint import save_weights
    from neurotrio.core.config import save_config, to_dict
    from neurotrio.core.io import atomic_dir, write_json
    from neurotrio.core.seed import pick_device, provenance, seed_everything
    from neurotrio.microexpression.baselines import STSTNet

    if not distributed.is_main():
        return None
    device = pick_device(cfg.device)
    samples, x, y, names = _load(cfg)
    gen = seed_everything(cfg.seed, deterministic=False)
    variant = cfg.variants[0]
    if len(cfg.variants) > 1:       # one model per folder: say which variants were not trained
        log.warning("--protocol all trains one model: %s, the first of the variants %s (the others are not "
                    "trained; pass --variant NAME for another)", variant, ", ".join(cfg.variants))
    mcfg = _for_input_channels(cfg, x.shape[1])
    center = variant != "ststnet" and mcfg.center
    if center:
        x = center_flow(x)
    mean, std = input_stats(x)
    x = standardize(x, mean, std)
    factory = _amplifier_factory(samples, cfg)
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if progress:
            print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    say(f"{len(y)} samples of {cfg.dataset}, {len({s.subject for s in samples})} subjects; training {variant}")
    if variant == "ststnet":
        net = STSTNet(x.shape[1], len(names))
        losses = {"baseline": train_classifier(net, x, y, cfg.model.baseline, gen, device)}
        say(f"baseline: {len(losses['baseline'])} epochs, final loss {losses['baseline'][-1]:.3f}")
    else:
        amp = _standardized(factory(list(range(len(samples)))), mean, std, center) if factory else None
        say("stages 1–2: training the priors (GFE triplet, AFE balanced classifier) …")
        priors = train_priors(x, y, len(names), mcfg, (variant,), gen, device, amp)
        losses = dict(priors["losses"])
        say("priors done: " + ", ".join(f"{k} {len(v)} epochs, final loss {v[-1]:.3f}" for k, v in losses.items()))
        net = build_variant(variant, priors, mcfg).to(device)
        say(f"stage 3: {mcfg.meta.episodes} episodes of fine-tuning …")
        info = finetune(net, x, y, len(names), mcfg, gen, device)
        losses["meta"] = info.get("losses", [])
        fl = info["final_loss"]
        say(f"stage 3 done: final loss {'-' if fl is None else f'{fl:.3f}'}; prototypes from all {len(y)} samples")
    meta = {"variant": variant, "dataset": cfg.dataset, "classes": list(names), "input_shape": list(x.shape[1:]),
            "input_center": center, "input_mean": mean.tolist(), "input_std": std.tolist(), "model": to_dict(mcfg), "n_train": len(y), "provenance": provenance(cfg.seed)}
    with atomic_dir(out_dir) as tmp:
        save_weights(net.cpu(), tmp / "model.safetensors", {"variant": variant, "classes": list(names)})
        write_json(tmp / "model.json", meta)
        write_json(tmp / "losses.json", {k: [float(v) for v in vals] for k, vals in losses.items()})
        save_config(cfg, tmp / "config.yaml")
    say(f"model folder written: {out_dir}")
    return Path(out_dir)
