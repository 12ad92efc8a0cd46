"""LOSO inputs: loading a dataset's tensors, per-channel standardisation, and amplified copies.

Raw-frame datasets get amplified copies for stage 2's balancing re-prepared from the frames with the
apex magnified by φ (:func:`_amplifier_factory`), standardised like the inputs (:func:`_standardized`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

import numpy as np
import torch

from neurotrio.core.errors import ConfigError


class DataConfig(Protocol):
    """What the loaders need of a run's config (``train.LosoConfig`` satisfies it); a Protocol, so this
    module does not import ``train`` (imports run one way: train → inputs)."""

    dataset: str
    data: str
    sheet: str
    cache_dir: str
    workers: int


def input_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of (N, C, T, H, W) inputs, each (C,); std floored at 1e-6."""
    dims = (0, 2, 3, 4)
    return x.mean(dim=dims), x.std(dim=dims).clamp_min(1e-6)


def standardize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(x − mean) / std per channel, with statistics of the training samples only."""
    return (x - mean.view(1, -1, 1, 1, 1)) / std.view(1, -1, 1, 1, 1)


def center_flow(x: torch.Tensor) -> torch.Tensor:
    """Subtract each sample's per-channel spatial median from (N, C, T, H, W) inputs (a new tensor).

    The composite's maps are per-image min-max encodings, so zero motion sits at a different level in every
    map (near its median: most of a face does not move); after centring, zero motion is 0 in every sample
    and the sign of u, v is the direction of motion again. A per-sample rule, so no other sample's (or the
    test subject's) statistics are used. Chosen by the training-side study (docs/mer.md, "Tuning").
    """
    med = x.flatten(2).median(dim=2).values
    return x - med[:, :, None, None, None]


def prepare_inputs(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, center: bool) -> torch.Tensor:
    """The network's input: ``center_flow`` (when ``center``), then ``standardize`` with (mean, std)."""
    return standardize(center_flow(x) if center else x, mean, std)


def _load(cfg: DataConfig):
    from neurotrio.microexpression.datasets import class_names, load_dataset, load_inputs

    if not cfg.data:
        raise ConfigError("no dataset folder: pass --data DIR (or set data= in the config)")
    samples = load_dataset(cfg.dataset, cfg.data, cfg.sheet or None)
    x = load_inputs(samples, cache_dir=cfg.cache_dir, workers=cfg.workers, progress=False)
    y = torch.tensor([s.label for s in samples])
    return samples, x, y, class_names(cfg.dataset)


def _amplifier_factory(samples, cfg: DataConfig):
    """Raw-frame datasets: amplified copies are re-prepared with the apex magnified by φ (mer-prep's magnify)."""
    if samples[0].kind != "frames":
        return None
    from neurotrio.microexpression.datasets import frame_positions
    from neurotrio.microexpression.preprocess import PrepareConfig, prepare_many

    def factory(train_idx: list[int]):
        def amp(_x: torch.Tensor, i: int, phi: float) -> torch.Tensor:
            s = samples[train_idx[i]]
            pcfg = replace(PrepareConfig(), phi=round(phi, 1))
            path = prepare_many([(s.path, *frame_positions(s))], pcfg, cfg.cache_dir, workers=1, progress=False)[0]
            return torch.from_numpy(np.load(path))
        return amp

    return factory


def _standardized(amp, mean: torch.Tensor, std: torch.Tensor, center: bool = False):
    """Wrap a raw-frame amplifier so its re-prepared copies get the same input preparation as the inputs."""
    return lambda xi, i, phi: prepare_inputs(amp(xi, i, phi)[None], mean, std, center)[0]


__all__ = ["center_flow", "input_stats", "prepare_inputs", "standardize"]
