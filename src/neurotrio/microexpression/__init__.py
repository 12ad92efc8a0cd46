"""MPFNet micro-expression recognition: preprocessing, dataset adapters, CA-I3D, MPFNet-P/-C, LOSO.

Exports are resolved lazily (PEP 562) so ``import neurotrio.microexpression`` loads neither torch, OpenCV
nor dlib until a name is used.

Example:
    >>> from neurotrio.microexpression import LosoConfig, run_loso
    >>> run_loso(LosoConfig(data="megc2019_composite", max_folds=2), "runs/smoke")
"""

from __future__ import annotations

from neurotrio.core.lazy import lazy_exports

_EXPORTS = {
    # datasets and protocol
    "MESample": "datasets", "load_composite": "datasets", "load_casme2": "datasets", "load_samm": "datasets",
    "load_smic": "datasets", "load_sequences": "datasets", "load_dataset": "datasets", "load_inputs": "datasets", "class_names": "datasets",
    "Fold": "loso", "loso_splits": "loso", "fold_share": "loso",
    # preprocessing (mer-prep)
    "PrepareConfig": "preprocess", "prepare_sample": "preprocess", "prepare_sequence": "preprocess",
    "prepare_many": "preprocess", "load_flow_map": "preprocess",
    # models
    "CAI3D": "model", "CAI3DConfig": "model", "CoordAttention3d": "attention", "MPFNet": "mpfnet",
    "STSTNet": "baselines",
    # training and inference
    "StageConfig": "stages", "EpisodeConfig": "stages", "MPFNetConfig": "config", "LosoConfig": "config",
    "run_loso": "train", "train_final": "final", "load_model": "predict", "predict_sample": "predict",
    "sample_tensor": "predict",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
