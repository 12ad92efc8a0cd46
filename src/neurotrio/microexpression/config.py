"""Configs of MPFNet training and of a LOSO run (typed, frozen dataclasses; checked when built).

``MPFNetConfig`` holds the model and its three stages' settings, ``LosoConfig`` one run. Their defaults are
the settings chosen by the training-side validation study (docs/mer.md, "Tuning"). ``train`` (LOSO),
``final`` (one model on every subject) and ``predict`` (a saved model's settings) read them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from neurotrio.core.errors import ConfigError
from neurotrio.microexpression.augment import AugmentConfig
from neurotrio.microexpression.model import CAI3DConfig
from neurotrio.microexpression.mpfnet import VARIANTS
from neurotrio.microexpression.shallow import ShallowCAConfig
from neurotrio.microexpression.stages import EpisodeConfig, StageConfig

ALL_VARIANTS = (*VARIANTS, "ststnet")


#: The CA-I3D validated first for the composite's 28×28 maps (10.1K parameters; docs/mer.md), used with
#: ``encoder="cai3d"``.
SMALL_BACKBONE = CAI3DConfig(stem_channels=8, stem_stride=2, blocks=(16, 32), pool_after=(0,), embed_dim=32)

#: The default prior encoder (``encoder="shallow"``): the STSTNet-like trunk (3, 5, 8 filters) with
#: coordinate attention, dropout 0.3 and a 32-d embedding — chosen by the training-side study (docs/mer.md).
SHALLOW_ENCODER = ShallowCAConfig(filters=(3, 5, 8), dropout=0.3, embed_dim=32)


@dataclass(frozen=True)
class MPFNetConfig:
    """MPFNet model and training settings (shared by every fold).

    The defaults are the settings chosen by the training-side validation study (docs/mer.md, "Tuning"):
    the shallow encoder, inputs centred on their per-sample medians, flow-aware flip and shifts, plain
    class-balancing (φ = 1), 15 + 15 epochs and 100 stage-3 episodes of 10 shots and 10 queries.

    Attributes:
        encoder: ``cai3d`` (the paper's CA-I3D, configured by ``backbone``) or ``shallow`` (the
            STSTNet-like trunk with coordinate attention of ``shallow.py``, configured by ``shallow``).
        backbone: CA-I3D width/depth of both encoders (``in_channels`` is set from the data); the default
            is ``SMALL_BACKBONE``; ``model.RAW_CONFIG`` suits the full (5, 10, 128, 128) tensors.
        shallow: width of the shallow encoder (``in_channels`` is set from the data).
        augment: flow-aware training augmentation of every stage and of the baseline (``augment.py``).
        center: subtract each sample's per-channel spatial median before standardising
            (``inputs.center_flow``: zero motion = 0 in every min-max-encoded map); MPFNet only, the
            STSTNet-like baseline gets the inputs as Liong et al. use them.
        gamma: weight of the AFE similarity in MPFNet-P.
        temperature: scale of cosine logits in stage 3.
        fuse_channels: extra input channels the MPFNet-C cascade derives from the GFE maps.
        fuse_gate: those channels enter through a learned gate that starts at 0 (``mpfnet.Fuse``).
        fuse_dropout: probability of dropping the fused channels of a training sample (``mpfnet.Fuse``).
        margin: triplet margin (L2 distance between normalised embeddings).
        triplet_mining: ``all`` (mean over every valid triplet of a batch) or ``hard`` (batch-hard).
        phi_range: amplification factor range of the stage-2 balancing copies, within [1, 10].
        gfe: stage 1 (``epochs``); afe: stage 2 (``epochs``); meta: stage 3 (``episodes``).
        baseline: training of the STSTNet-like baseline (epochs).
    """

    encoder: str = "shallow"
    backbone: CAI3DConfig = SMALL_BACKBONE
    shallow: ShallowCAConfig = SHALLOW_ENCODER
    augment: AugmentConfig = AugmentConfig(flip=0.5, shift=2)
    center: bool = True
    gamma: float = 0.7
    temperature: float = 10.0
    fuse_channels: int = 3
    fuse_gate: bool = False
    fuse_dropout: float = 0.0
    margin: float = 1.0
    triplet_mining: str = "all"
    phi_range: tuple[float, float] = (1.0, 1.0)
    gfe: StageConfig = StageConfig(epochs=15, lr=5e-3, weight_decay=0.0, batch_size=64)
    afe: StageConfig = StageConfig(epochs=15, lr=5e-3, weight_decay=0.0, batch_size=64)
    meta: EpisodeConfig = EpisodeConfig(episodes=100, lr=1e-3, k_shot=10, n_query=10)
    baseline: StageConfig = StageConfig(epochs=15, lr=5e-3, weight_decay=0.0, batch_size=64)

    def __post_init__(self) -> None:
        if self.encoder not in ("cai3d", "shallow"):
            raise ConfigError(f"model.encoder={self.encoder!r}: choose 'cai3d' (CA-I3D, model.backbone) or "
                              "'shallow' (the STSTNet-like trunk with coordinate attention, model.shallow)")
        bad = [f"model.{k}.epochs={getattr(self, k).epochs} (needs ≥ 1)" for k in ("gfe", "afe", "baseline")
               if getattr(self, k).epochs < 1]
        bad += [f"model.{k}.batch_size={getattr(self, k).batch_size} (needs ≥ 1)" for k in ("gfe", "afe", "baseline")
                if getattr(self, k).batch_size < 1]
        bad += [f"model.{k}.lr={getattr(self, k).lr} (needs > 0)" for k in ("gfe", "afe", "baseline", "meta")
                if not getattr(self, k).lr > 0]
        bad += [f"model.{k}.mixup={getattr(self, k).mixup} (needs ≥ 0; 0: off)" for k in ("afe", "baseline")
                if getattr(self, k).mixup < 0]
        if self.meta.episodes < 0:
            bad.append(f"model.meta.episodes={self.meta.episodes} (needs ≥ 0)")
        bad += [f"model.meta.{k}={getattr(self.meta, k)} (needs ≥ 1)" for k in ("k_shot", "n_query")
                if getattr(self.meta, k) < 1]
        if self.fuse_channels < 1:
            bad.append(f"model.fuse_channels={self.fuse_channels} (needs ≥ 1)")
        if len(self.phi_range) != 2:
            bad.append(f"model.phi_range={list(self.phi_range)} (needs [low, high])")
        if not 0.0 <= self.augment.flip <= 1.0 or self.augment.shift < 0 or self.augment.rotate < 0:
            bad.append(f"model.augment flip={self.augment.flip}, shift={self.augment.shift}, rotate="
                       f"{self.augment.rotate} (flip a probability in [0, 1]; shift, rotate ≥ 0)")
        if not 0.0 <= self.fuse_dropout < 1.0:
            bad.append(f"model.fuse_dropout={self.fuse_dropout} (a probability, 0 ≤ p < 1)")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            bad.append(f"model.temperature={self.temperature} (needs a finite value > 0)")
        if not math.isfinite(self.gamma):
            bad.append(f"model.gamma={self.gamma} (needs a finite value)")
        if bad:
            raise ConfigError("bad MPFNet setting: " + "; ".join(bad))

    @property
    def encoder_config(self) -> CAI3DConfig | ShallowCAConfig:
        """The config of both prior encoders: ``backbone`` (CA-I3D) or ``shallow``, as ``encoder`` says."""
        return self.shallow if self.encoder == "shallow" else self.backbone


@dataclass(frozen=True)
class LosoConfig:
    """One LOSO run.

    Attributes:
        dataset: composite, casme2, samm or smic.
        data: the dataset folder; sheet: its coding sheet (CASME II / SAMM; default: found in ``data``).
        variants: any of P, C, GFE, AFE, ststnet, trained in the same run on the same folds.
        max_folds: run only the first N folds (0: all) — for smoke runs.
        folds: run exactly these fold indices (overrides max_folds; to spread folds over processes).
        n_val_subjects: validation subjects per fold, drawn from the training side; stage 3 then keeps
            the checkpoint with the best validation UF1 (checked ``val_checks`` times).
        seed, device: ``auto`` picks CUDA when present.
        cache_dir: prepared-tensor cache for raw-frame datasets; workers: processes preparing it.
        fold_workers: processes the folds are spread over (round robin, ``fold_share``), one thread each;
            results do not depend on it (each fold is seeded by its index).
        baseline_augment: train the STSTNet-like baseline with ``model.augment`` too (off: the plain
            baseline of Liong et al.).
    """

    dataset: str = "composite"
    data: str = ""
    sheet: str = ""
    variants: tuple[str, ...] = ("P", "C", "ststnet")
    max_folds: int = 0
    folds: tuple[int, ...] = ()
    n_val_subjects: int = 0
    val_checks: int = 5
    seed: int = 0
    device: str = "auto"
    cache_dir: str = ".mer_cache"
    workers: int = 2
    fold_workers: int = 1
    baseline_augment: bool = False
    model: MPFNetConfig = field(default_factory=MPFNetConfig)

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in ALL_VARIANTS]
        if bad or not self.variants:
            raise ConfigError(f"unknown variant(s) {bad or '(none)'}; choose from {', '.join(ALL_VARIANTS)}")
        if self.max_folds < 0 or self.fold_workers < 1:
            raise ConfigError(f"max_folds={self.max_folds}, fold_workers={self.fold_workers}: max_folds needs ≥ 0 "
                              "(0: all folds) and fold_workers ≥ 1")
