"""FSL-SNN: spiking few-shot learning on events and images (backbone, SFE, CFC, TET + InfoNCE, energy).

Exports are loaded lazily so ``import neurotrio.fewshot`` (and ``neurotrio --help``) stays fast:

    >>> from neurotrio.fewshot import FSLSNN, FSLSNNConfig, run_training, run_evaluation
"""

from __future__ import annotations

from neurotrio.core.lazy import lazy_exports

_EXPORTS = {
    "BackboneConfig": "model", "SpikingVGG": "model", "twin_config": "model",
    "SFE": "sfe", "SFEConfig": "sfe",
    "CFC": "cfc", "CFCConfig": "cfc",
    "FSLSNN": "fslsnn", "ProtoNet": "fslsnn", "FSLSNNConfig": "fslsnn", "build_model": "fslsnn",
    "tet_loss": "losses", "info_nce": "losses", "fewshot_loss": "losses", "LossConfig": "losses",
    "EnergyCost": "energy", "estimate_energy": "energy", "compare_energy": "energy", "energy_table": "energy",
    "TrainConfig": "train", "PretrainConfig": "train", "FinetuneConfig": "train", "run_training": "train",
    "train_model": "train", "dataset_recipe": "recipes",
    "DataConfig": "evaluate", "EvalConfig": "evaluate", "load_splits": "evaluate", "evaluate_model": "evaluate",
    "run_evaluation": "scoring", "evaluation_config": "scoring", "load_model": "evaluate",
    "EpisodeSampler": "episodes", "episode_collate": "episodes",
    "read_aedat4": "events", "events_to_frames": "frames", "NOmniglot": "nomniglot",
    "Omniglot": "datasets", "CUB": "datasets", "MiniImageNet": "datasets",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
