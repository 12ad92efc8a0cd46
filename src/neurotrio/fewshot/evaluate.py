"""Data splits for training and testing, and evaluation over many test episodes with a 95 % CI.

Evaluation embeds every test image once (eval mode: batch-norm running statistics, neuron state reset
per batch, so an image's feature map does not depend on what it is batched with), then scores
``episodes`` random N-way K-shot episodes on the stored feature maps. The per-episode accuracies give
the mean and the half-width of the normal 95 % confidence interval (``core.metrics.mean_ci95``).

Scoring a trained model file end to end (``run_evaluation``) is in ``fewshot.scoring``.

Example:
    >>> report = evaluate_model(load_model("runs/omniglot/model.safetensors"), test, EvalConfig(), device)
    >>> report["5w1s"]["mean"], report["5w1s"]["ci95"]
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.core.metrics import mean_ci95
from neurotrio.fewshot.fslsnn import FewShotNet

log = logging.getLogger(__name__)

DATASETS = ("omniglot", "omniglot-dvs", "nomniglot", "cub", "miniimagenet", "synthetic")


@dataclass(frozen=True)
class DataConfig:
    """Which data, where, and how it is cut into train / val / test classes.

    Attributes:
        dataset: one of ``DATASETS``.
        root: dataset folder (Omniglot zips or folders, N-Omniglot root, CUB root, miniImageNet root).
        image_size: side of the (square) network input in pixels.
        time_bins: frames per event sample (N-Omniglot, Omniglot-DVS).
        val_fraction: for datasets without a validation split (Omniglot, N-Omniglot, Omniglot-DVS),
            the fraction of background classes held out (seeded) for model selection.
        max_per_class: cap on images per class (0 = all) for CPU-scale runs.
        max_classes: keep at most this many classes per loaded split, evenly spaced (0 = all).
        test_fraction: if > 0, test classes are held out of the background split (seeded) instead of
            read from the evaluation split (Omniglot-DVS with ``only_strokes``: only background
            characters have stroke files).
        only_strokes: Omniglot-DVS: keep only drawings with stroke files (pen trajectories).
        split_dir: FEAT split CSV folder for CUB (official layout) / miniImageNet.
        synthetic_classes: classes of the synthetic dataset (split 60/20/20 %).
        cache_dir: if set, decoded splits are kept there as tensors (``torch.load(weights_only=True)``)
            so later runs skip decoding; derived from the data, so keep it outside the repository.
        events_dir: Omniglot-DVS: a folder of events written by ``fewshot simulate-events``, either one
            split's output (its ``summary.json`` names the split) or a parent with ``background/`` and
            ``evaluation/`` outputs. Only the drawings simulated there are used, read from their files
            (so ``--alphabets``/``--characters``/``--limit`` of ``simulate-events`` choose the data);
            empty: every drawing, simulated on the fly.
        rotations: quarter turns (degrees) applied to the *training* classes only, each turn a new class
            (Vinyals et al. 2016; Snell et al. 2017: Omniglot's 964 background characters × 4). Validation
            and test classes are never rotated. ``(0,)`` = none; ``(0, 90, 180, 270)`` is the standard
            Omniglot protocol (used by ``--full``; at the CPU budget it lost on validation, docs/fewshot.md).
    """

    dataset: Literal["omniglot", "omniglot-dvs", "nomniglot", "cub", "miniimagenet", "synthetic"] = "omniglot"
    root: str = ""
    image_size: int = 28
    time_bins: int = 4
    val_fraction: float = 0.1
    max_per_class: int = 0
    max_classes: int = 0
    test_fraction: float = 0.0
    only_strokes: bool = False
    split_dir: str = ""
    synthetic_classes: int = 30
    cache_dir: str = ""
    rotations: tuple[int, ...] = (0,)
    events_dir: str = ""


@dataclass(frozen=True)
class EvalConfig:
    """Test protocol: settings like ``"5w1s"``, episodes per setting, queries per class."""

    settings: tuple[str, ...] = ("5w1s", "5w5s", "20w1s", "20w5s")
    episodes: int = 600
    n_query: int = 15
    val_episodes: int = 100
    batch_size: int = 256
    seed: int = 1234


@dataclass
class TensorSet:
    """A split held in memory: ``images (N, C, H, W)`` or ``(N, T, C, H, W)``, ``targets (N,)``."""

    images: Tensor
    targets: Tensor
    class_names: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def n_classes(self) -> int:
        return int(self.targets.unique().numel())


class FeatureSet(NamedTuple):
    """Embedded split: ``feats (N, T, C, H, W)`` and ``targets (N,)``."""

    feats: Tensor
    targets: Tensor


def parse_setting(text: str) -> tuple[int, int]:
    """``"5w1s"`` → ``(5, 1)``."""
    m = re.fullmatch(r"(\d+)w(\d+)s", text.strip())
    if not m:
        raise ConfigError(f"setting {text!r} is not like '5w1s' (N-way K-shot)")
    return int(m.group(1)), int(m.group(2))


def materialize(ds: Any, max_per_class: int = 0, source: str = "", max_classes: int = 0,
                progress: str | None = None) -> TensorSet:
    """Read a ``(x, label)`` dataset into memory (optionally capped per class and in classes).

    ``progress``: show a progress bar (with time remaining) under this label while items are decoded.
    """
    from tqdm.auto import tqdm

    raw = ds.targets if hasattr(ds, "targets") else [ds[i][1] for i in range(len(ds))]
    targets = [int(t) for t in raw]
    classes = sorted(set(targets))
    if 0 < max_classes < len(classes):
        classes = [classes[int(i)] for i in torch.linspace(0, len(classes) - 1, max_classes).round().long()]
    allowed = set(classes)
    keep, seen = [], {}
    for i, t in enumerate(targets):
        if t not in allowed:
            continue
        seen[t] = seen.get(t, 0) + 1
        if max_per_class <= 0 or seen[t] <= max_per_class:
            keep.append(i)
    if not keep:
        raise InputError(source or None, "the dataset holds no items")
    with tqdm(keep, desc=progress, disable=progress is None, leave=False, unit="img") as items:  # closed on error too
        images = torch.stack([torch.as_tensor(ds[i][0], dtype=torch.float32) for i in items])
    return TensorSet(images, torch.tensor([targets[i] for i in keep]), list(getattr(ds, "class_names", [])), source)


def subset_classes(ts: TensorSet, classes: Tensor) -> TensorSet:
    mask = torch.isin(ts.targets, classes)
    return TensorSet(ts.images[mask], ts.targets[mask], ts.class_names, ts.source)


def split_classes(ts: TensorSet, fraction: float, seed: int) -> tuple[TensorSet, TensorSet]:
    """Hold out ``fraction`` of the classes (seeded) as validation classes; returns (train, val)."""
    classes = ts.targets.unique()
    perm = classes[torch.randperm(len(classes), generator=torch.Generator().manual_seed(seed))]
    n_val = max(1, int(round(fraction * len(classes))))
    if n_val >= len(classes):
        raise ConfigError(f"val_fraction {fraction} leaves no training classes out of {len(classes)}")
    return subset_classes(ts, perm[n_val:]), subset_classes(ts, perm[:n_val])


def synthetic_glyphs(n_classes: int, per_class: int, size: int, seed: int) -> TensorSet:
    """Seeded stand-in for Omniglot: each class a random stroke-like binary glyph, items shifted + noisy."""
    g = torch.Generator().manual_seed(seed)
    protos = (torch.rand(n_classes, 1, size // 4, size // 4, generator=g) > 0.6).float()
    protos = torch.nn.functional.interpolate(protos, size=(size, size), mode="nearest")
    imgs, labels = [], []
    for c in range(n_classes):
        for _ in range(per_class):
            dx, dy = torch.randint(-2, 3, (2,), generator=g).tolist()
            img = torch.roll(protos[c], shifts=(dy, dx), dims=(1, 2))
            flip = torch.rand(img.shape, generator=g) < 0.05
            imgs.append(torch.where(flip, 1 - img, img))
            labels.append(c)
    return TensorSet(torch.stack(imgs), torch.tensor(labels), [f"glyph{c}" for c in range(n_classes)], "synthetic")


def _cached(cfg: DataConfig, split: str, make: Any, progress: bool = False) -> TensorSet:
    """``materialize(make())``, stored under ``cfg.cache_dir`` keyed by everything that shapes the tensors."""
    label = f"read {cfg.dataset} {split}" if progress else None
    if not cfg.cache_dir:
        return materialize(make(), cfg.max_per_class, cfg.root, cfg.max_classes, label)
    import hashlib

    key = (cfg.dataset, str(Path(cfg.root).resolve()), cfg.image_size, cfg.time_bins, cfg.max_per_class,
           cfg.max_classes, cfg.only_strokes, cfg.split_dir, split)
    if cfg.events_dir:  # appended only when set, so caches written before the field existed still match
        key = (*key, str(Path(cfg.events_dir).resolve()))
    key = repr(key)
    path = Path(cfg.cache_dir) / f"{cfg.dataset}-{split}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.pt"
    if path.is_file():
        d = torch.load(path, map_location="cpu", weights_only=True)
        return TensorSet(d["images"], d["targets"], list(d["class_names"]), cfg.root)
    ts = materialize(make(), cfg.max_per_class, cfg.root, cfg.max_classes, label)
    from neurotrio.core.io import atomic_path

    with atomic_path(path) as tmp:
        torch.save({"images": ts.images, "targets": ts.targets, "class_names": ts.class_names}, tmp)
    return ts


def _by_class_split(full: TensorSet, fraction: float, seed: int) -> dict[str, TensorSet]:
    train, val = split_classes(full, fraction, seed)
    return {"train": train, "val": val}


def train_rotations(cfg: DataConfig) -> tuple[int, ...]:
    """The quarter turns applied to training classes (``cfg.rotations``), checked."""
    rot = tuple(int(r) for r in cfg.rotations)
    if not rot or any(r % 90 for r in rot) or len({r % 360 for r in rot}) != len(rot):
        raise ConfigError(f"data.rotations must be distinct multiples of 90 degrees, got {rot}")
    return rot


def rotate_classes(ts: TensorSet, rotations: tuple[int, ...]) -> TensorSet:
    """Every class once per quarter turn in ``rotations``, each turn a new class (ids offset by the class count).

    Images ``(N, ..., H, W)`` are turned in their last two axes (``torch.rot90``, counter-clockwise).
    """
    if tuple(rotations) == (0,):
        return ts
    offset = max(int(ts.targets.max()) + 1, len(ts.class_names))
    base = list(ts.class_names) + [f"class{c}" for c in range(len(ts.class_names), offset)]
    imgs, tgts, names = [], [], []
    for j, r in enumerate(rotations):
        imgs.append(torch.rot90(ts.images, k=(r // 90) % 4, dims=(-2, -1)))
        tgts.append(ts.targets + j * offset)
        names += [n if r % 360 == 0 else f"{n}/rot{r % 360}" for n in base]
    return TensorSet(torch.cat(imgs), torch.cat(tgts), names, ts.source)


def load_splits(cfg: DataConfig, need: tuple[str, ...] = ("train", "val", "test"), seed: int = 0,
                progress: bool = False) -> dict[str, TensorSet]:
    """Load the splits ``need`` names into memory (train/val from base classes, test from novel classes).

    The training split is then augmented by ``train_rotations(cfg)`` (validation and test never are).
    ``progress``: a progress bar while images are decoded (a cached split loads at once).
    """
    out = _load_splits(cfg, need, seed, progress)
    if "train" in out:
        out["train"] = rotate_classes(out["train"], train_rotations(cfg))
    return out


def _load_splits(cfg: DataConfig, need: tuple[str, ...], seed: int, progress: bool = False) -> dict[str, TensorSet]:
    from neurotrio.fewshot import datasets

    if cfg.dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {cfg.dataset!r}; choose one of {', '.join(DATASETS)}")
    if cfg.events_dir and cfg.dataset != "omniglot-dvs":
        raise ConfigError(f"data.events_dir is for --dataset omniglot-dvs (simulated events), not {cfg.dataset}")
    if cfg.dataset == "synthetic":
        full = synthetic_glyphs(cfg.synthetic_classes, max(cfg.max_per_class, 20), cfg.image_size, seed)
        n = cfg.synthetic_classes
        cut1, cut2 = int(0.6 * n), int(0.8 * n)
        return {"train": subset_classes(full, torch.arange(cut1)), "val": subset_classes(full, torch.arange(cut1, cut2)),
                "test": subset_classes(full, torch.arange(cut2, n))}
    if not cfg.root:
        raise ConfigError(f"data.root is empty: give the {cfg.dataset} folder (--set data.root=PATH)")
    root, out = Path(cfg.root), {}
    if cfg.dataset in ("omniglot", "nomniglot", "omniglot-dvs"):

        def make(split: str) -> Any:
            if cfg.dataset == "omniglot":
                return datasets.Omniglot(root, split=split, image_size=cfg.image_size)
            if cfg.dataset == "nomniglot":
                from neurotrio.fewshot.nomniglot import NOmniglot

                return NOmniglot(root, split=split, frames=cfg.time_bins, size=cfg.image_size)
            from neurotrio.fewshot.omniglot_dvs import OmniglotDVS
            from neurotrio.fewshot.simulated_events import SimulatedOnly, events_split_dir

            events = events_split_dir(cfg.events_dir, split) if cfg.events_dir else None
            ds = OmniglotDVS(root, split=split, frames=cfg.time_bins, size=cfg.image_size,
                             only_strokes=cfg.only_strokes, events_dir=events)
            return SimulatedOnly(ds) if events is not None else ds

        if cfg.test_fraction > 0:
            base, test = split_classes(_cached(cfg, "background", lambda: make("background"), progress), cfg.test_fraction,
                                       seed + 7)
            out.update(_by_class_split(base, cfg.val_fraction / (1 - cfg.test_fraction), seed))
            return {k: v for k, v in {**out, "test": test}.items() if k in need}
        if "train" in need or "val" in need:
            out.update(_by_class_split(_cached(cfg, "background", lambda: make("background"), progress), cfg.val_fraction, seed))
        if "test" in need:
            out["test"] = _cached(cfg, "evaluation", lambda: make("evaluation"), progress)
        return out
    cls = datasets.CUB if cfg.dataset == "cub" else datasets.MiniImageNet
    kwargs = {"split_dir": cfg.split_dir} if cfg.split_dir else {}
    for split in need:
        out[split] = _cached(cfg, split, lambda split=split: cls(root, split=split, image_size=cfg.image_size, **kwargs),
                             progress)
    return out


def split_episode(indices: list[int], targets: Tensor, k_shot: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Class-major episode indices (as ``EpisodeSampler`` yields) → support/query indices and local labels."""
    idx = torch.as_tensor(indices)
    classes = list(dict.fromkeys(targets[idx].tolist()))
    s_idx, s_y, q_idx, q_y = [], [], [], []
    for label, c in enumerate(classes):
        members = idx[targets[idx] == c]
        s_idx.append(members[:k_shot])
        q_idx.append(members[k_shot:])
        s_y.append(torch.full((k_shot,), label))
        q_y.append(torch.full((len(members) - k_shot,), label))
    return torch.cat(s_idx), torch.cat(s_y), torch.cat(q_idx), torch.cat(q_y)


class episode_batches:  # noqa: N801 - an iterable used like a loader
    """Fresh random episodes on every pass: ``(support, support_labels, query, query_labels)`` tensors."""

    def __init__(self, data: TensorSet, n_way: int, k_shot: int, n_query: int, n_episodes: int,
                 generator: torch.Generator):
        from neurotrio.fewshot.episodes import EpisodeSampler

        self.data, self.k_shot = data, k_shot
        self.sampler = EpisodeSampler(data.targets, n_way, k_shot, n_query, n_episodes, generator, data.source or None)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for indices in self.sampler:
            s, sy, q, qy = split_episode(indices, self.data.targets, self.k_shot)
            yield self.data.images[s], sy, self.data.images[q], qy


@torch.no_grad()
def embed_all(model: FewShotNet, images: Tensor, device: torch.device, batch_size: int = 256) -> Tensor:
    """Feature maps ``(N, T, C, H, W)`` of every image, in eval mode, on the CPU."""
    was = model.training
    model.eval()
    feats = [model.embed(images[i:i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)]
    model.train(was)
    return torch.cat(feats)


@torch.no_grad()
def episode_accuracy(model: FewShotNet, data: FeatureSet, n_way: int, k_shot: int, n_query: int,
                     n_episodes: int, generator: torch.Generator, source: str | None = None,
                     desc: str | None = None) -> Tensor:
    """Accuracy of each of ``n_episodes`` episodes on pre-computed feature maps → ``(n_episodes,)``.

    ``desc``: show a progress bar (with time remaining) under this label.
    """
    from tqdm.auto import tqdm

    from neurotrio.fewshot.episodes import EpisodeSampler

    was = model.training
    model.eval()
    sampler = EpisodeSampler(data.targets, n_way, k_shot, n_query, n_episodes, generator, source)
    dev = next(model.parameters()).device
    accs = []
    for indices in tqdm(sampler, desc=desc, disable=desc is None, leave=False):
        s, sy, q, qy = split_episode(indices, data.targets, k_shot)
        out = model.episode_from_features(data.feats[s].to(dev), sy.to(dev), data.feats[q].to(dev), n_way)
        accs.append((out.logits.mean(1).argmax(-1).cpu() == qy).float().mean())
    model.train(was)
    return torch.stack(accs)


def evaluate_model(model: FewShotNet, test: TensorSet, cfg: EvalConfig, device: torch.device,
                   progress: bool = False) -> dict[str, Any]:
    """Mean accuracy and 95 % CI (in %) per setting over ``cfg.episodes`` test episodes each (``progress``: a bar)."""
    t0 = time.perf_counter()
    feats = FeatureSet(embed_all(model, test.images, device, cfg.batch_size), test.targets)
    results: dict[str, Any] = {"embed_s": time.perf_counter() - t0, "n_test_images": len(test.targets),
                               "n_test_classes": test.n_classes}
    for setting in cfg.settings:
        n_way, k_shot = parse_setting(setting)
        gen = torch.Generator().manual_seed(cfg.seed)
        accs = episode_accuracy(model, feats, n_way, k_shot, cfg.n_query, cfg.episodes, gen, test.source or None,
                                desc=setting if progress else None)
        mean, ci = mean_ci95(100.0 * accs.numpy())
        results[setting] = {"mean": mean, "ci95": ci, "episodes": cfg.episodes, "n_query": cfg.n_query}
    results["eval_s"] = time.perf_counter() - t0
    return results


def load_model(weights: str | Path, image_size: int | None = None) -> FewShotNet:
    """Rebuild a model from a ``model.safetensors`` written by training (its config is in the header).

    Returns the model in eval mode (batch norm on its running statistics). With ``image_size``, an input
    size other than the one recorded at training raises ``ConfigError``: the convolutions would run, but
    on feature maps of another size than the SFE/CFC were trained on (the default changed from 28 to 36
    with the issue-9 recipe).
    """
    from neurotrio.core.checkpoint import load_state_into, read_weights
    from neurotrio.core.config import from_dict
    from neurotrio.fewshot.fslsnn import FSLSNNConfig, build_model

    state, meta = read_weights(weights)
    if "model_config" not in meta:
        raise InputError(weights, "no FSL-SNN model config in this weights file (not written by fewshot train)")
    trained = (meta.get("data") or {}).get("image_size")
    if image_size is not None and trained is not None and int(trained) != int(image_size):
        raise ConfigError(f"{Path(weights).name} was trained on {trained}×{trained} inputs, not {image_size}×"
                          f"{image_size}: pass --set data.image_size={trained}")
    model = build_model(from_dict(FSLSNNConfig, meta["model_config"]))
    load_state_into(model, state, weights)
    return model.eval()
