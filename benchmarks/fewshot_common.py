"""Shared pieces of the FSL-SNN benchmarks: configs at CPU scale or full scale, one train+eval run.

Not a benchmark itself; ``fewshot_omniglot``, ``fewshot_cub``, ``fewshot_dvs`` and ``fewshot_energy`` use it.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MESM = {"5w1s": 94.86, "5w5s": 97.99, "20w1s": 84.87, "20w5s": 93.42}


def shared_data() -> Path:
    return Path(os.environ.get("NEUROTRIO_SHARED_DATA", str(ROOT.parent / "shared" / "data")))


def base_args(description: str, default_out: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--full", action="store_true",
                    help="paper-scale settings (width 1, T=4, long schedules) for a GPU; default is the CPU scale")
    ap.add_argument("--out", default=default_out, help="folder for weights and result JSON")
    ap.add_argument("--cache-dir", default="/tmp/neurotrio_fewshot_cache", help="decoded-data cache (outside the repo)")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra TrainConfig overrides, e.g. pretrain.epochs=2")
    return ap


def machine(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    return f"this {os.cpu_count()}-core CPU ({platform.machine()}), {torch.get_num_threads()} thread(s)"


def apply_overrides(cfg: Any, overrides: list[str]) -> Any:
    from neurotrio.core.config import apply_overrides as _apply

    return _apply(cfg, overrides) if overrides else cfg


def run(cfg: Any, out: Path) -> dict[str, Any]:
    """Load splits once, train, evaluate on the test classes; returns records with wall times."""
    import torch

    from neurotrio.core.checkpoint import save_weights
    from neurotrio.core.config import to_dict
    from neurotrio.core.results import write_results
    from neurotrio.core.seed import pick_device
    from neurotrio.fewshot.evaluate import evaluate_model, load_splits
    from neurotrio.fewshot.train import train_model

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    t0 = time.perf_counter()
    splits = load_splits(cfg.data, need=("train", "val", "test"), seed=cfg.seed)
    t_load = time.perf_counter() - t0
    model, record = train_model(cfg, splits["train"], splits["val"])
    device = pick_device(cfg.device)
    report = evaluate_model(model, splits["test"], cfg.eval, device)
    out.mkdir(parents=True, exist_ok=True)
    record["model_config"] = to_dict(record["model_config"])
    save_weights(model, out / "model.safetensors", metadata={"model_config": record["model_config"],
                                                             "data": to_dict(cfg.data)})
    record.update(load_s=t_load, total_s=time.perf_counter() - t0, machine=machine(str(device)))
    write_results(out, "benchmark", {"train": record, "test": report}, config=cfg, seed=cfg.seed)
    return {"train": record, "test": report, "model": model, "splits": splits, "device": device}


def protonet_readout(model: Any, test: Any, cfg: Any, device: Any) -> dict[str, Any]:
    """Ablation without retraining: the trained backbone's F0 scored by ProtoNet (no SFE, no CFC)."""
    from neurotrio.fewshot.evaluate import evaluate_model
    from neurotrio.fewshot.fslsnn import ProtoNet

    proto = ProtoNet(replace(model.cfg, method="protonet", use_sfe=False)).to(device)
    proto.backbone.load_state_dict(model.backbone.state_dict())
    return evaluate_model(proto, test, cfg.eval, device)


def selection_note(tr: dict[str, Any]) -> str:
    """How the model was picked, on validation classes only: the pre-training epoch, and whether
    fine-tuning was kept."""
    pre = tr["pretrain_history"]
    text = ""
    if pre:
        best = max(pre, key=lambda e: e["val_acc"])
        curve = " → ".join(f"{100 * e['val_acc']:.1f}" for e in pre)
        text = f"Pre-training validation accuracy per epoch {curve} %; epoch {best['epoch']} kept. "
    ft = tr["finetune_history"]
    if ft:
        best_ft = max(e["val_acc"] for e in ft)
        text += (f"Fine-tuning: validation {100 * tr['finetune_start_val_acc']:.1f} % before, best "
                 f"{100 * best_ft:.1f} % after; the {tr['kept']} model is used.")
    return text


def fmt(r: dict[str, Any]) -> str:
    return f"{r['mean']:.2f} ± {r['ci95']:.2f}"


def write_section(key: str, text: str, no_write: bool) -> None:
    from neurotrio.core.results import update_markdown_section

    print(text)
    if not no_write:
        update_markdown_section(ROOT / "BENCHMARKS.md", key, text)


class BudgetedLoader:
    """The first ``steps`` batches of ``loader`` per pass (``len`` too, so the cosine schedule spans the
    plan), and none once ``time.perf_counter()`` passes ``deadline`` (``stopped_at`` records the step)."""

    def __init__(self, loader: Any, steps: int, deadline: float):
        self.loader, self.steps, self.deadline = loader, min(steps, len(loader)), deadline
        self.generator, self.sampler = getattr(loader, "generator", None), getattr(loader, "sampler", None)
        self.done, self.stopped_at = 0, None

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i >= self.steps:
                break
            if time.perf_counter() > self.deadline:
                self.stopped_at = self.stopped_at or self.done
                break
            self.done += 1
            yield batch
