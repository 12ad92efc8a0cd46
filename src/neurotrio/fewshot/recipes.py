"""The validated CPU-scale training recipe of each data set, in one place.

``TrainConfig()`` is the recipe validated on Omniglot. CUB and Omniglot-DVS were validated with other
settings (``benchmarks/fewshot_cub.py`` and ``benchmarks/fewshot_dvs.py``, BENCHMARKS.md sections
"fewshot-cub" and "fewshot-dvs"); both benchmarks and ``neurotrio fewshot train --dataset …`` start from
:func:`dataset_recipe`, so a CLI run trains with the settings the benchmark measured.

Example:
    >>> cfg = dataset_recipe("cub")
    >>> cfg.data.image_size, cfg.model.backbone.stride_layers
    (40, (2, 4, 6))
"""

from __future__ import annotations

from dataclasses import replace

from neurotrio.core.errors import ConfigError
from neurotrio.fewshot.evaluate import DATASETS
from neurotrio.fewshot.train import FinetuneConfig, PretrainConfig, TrainConfig


def _cub(base: TrainConfig) -> TrainConfig:
    # 40×40 RGB inputs; strides on layers 2, 4, 6 leave the SFE/CFC a 5×5 map as at 20×20 with (2, 4).
    model = replace(base.model, backbone=replace(base.model.backbone, in_channels=3, stride_layers=(2, 4, 6)))
    return replace(base, model=model, data=replace(base.data, dataset="cub", image_size=40),
                   pretrain=PretrainConfig(epochs=15, batch_size=32, lr=0.05),
                   finetune=FinetuneConfig(episodes=30, val_every=15, n_query=10))


def _omniglot_dvs(base: TrainConfig) -> TrainConfig:
    # T = the 4 event bins, 2 polarity channels; 20×20 keeps the Omniglot recipe's 5×5 maps. Which drawings
    # are used (the benchmark's stroke-only subset, test classes held out of the background split) is a
    # data choice, not part of the recipe: a `data.events_dir` of simulated background and evaluation
    # splits (docs/fewshot-data.md) keeps its meaning.
    model = replace(base.model, backbone=replace(base.model.backbone, time_steps=4, in_channels=2))
    data = replace(base.data, dataset="omniglot-dvs", image_size=20, time_bins=4)
    return replace(base, model=model, data=data, pretrain=PretrainConfig(epochs=15, batch_size=32, lr=0.05),
                   finetune=FinetuneConfig(episodes=40, val_every=20, n_query=5))


def dataset_recipe(dataset: str) -> TrainConfig:
    """The validated CPU-scale :class:`TrainConfig` for ``dataset``, before any user override.

    - ``"omniglot"``, ``"nomniglot"``, ``"miniimagenet"``, ``"synthetic"``: ``TrainConfig()`` (the Omniglot
      recipe: width 0.5, T = 2, strides on layers 2 and 4, 20×20 inputs) with ``data.dataset`` set;
      ``dataset_recipe("omniglot") == TrainConfig()``. Only Omniglot validated it.
    - ``"cub"``: the Omniglot network with 3 input channels and strides on layers 2, 4, 6; 40×40 inputs
      (→ 5×5 feature maps); 15 pre-training epochs of batch 32 at lr 0.05; 30 fine-tuning episodes,
      validated every 15, 10 queries per class.
    - ``"omniglot-dvs"``: the Omniglot network with T = 4 (the event bins) and 2 polarity channels;
      20×20 frames in 4 time bins; 15 pre-training epochs of batch 32 at lr 0.05; 40 fine-tuning
      episodes, validated every 20, 5 queries per class.

    Only ``data.dataset``, ``data.image_size`` (and ``data.time_bins``) belong to a recipe. Data folders
    (``root``, ``cache_dir``), the test protocol (``eval``) and the benchmarks' data selection (class and
    image caps; for Omniglot-DVS stroke drawings only, ``only_strokes``, with test classes held out of the
    background split, ``test_fraction``) stay ``TrainConfig``'s defaults.

    Args:
        dataset: a ``DataConfig.dataset`` name (``evaluate.DATASETS``).

    Returns:
        A new ``TrainConfig`` whose ``data.dataset`` is ``dataset``.

    Raises:
        ConfigError: ``dataset`` is not a known data set (the message lists them).

    Source: the CPU-scale configs of ``benchmarks/fewshot_omniglot.py``, ``fewshot_cub.py`` and
    ``fewshot_dvs.py`` (run on this project's development data; BENCHMARKS.md).
    """
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    base = TrainConfig()
    if dataset == "cub":
        return _cub(base)
    if dataset == "omniglot-dvs":
        return _omniglot_dvs(base)
    return replace(base, data=replace(base.data, dataset=dataset))
