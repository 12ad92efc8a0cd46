"""Scoring a trained model file: the config it runs with, what was tested, provenance, ``run_evaluation``.

One rule for ``run_evaluation`` in Python and ``neurotrio fewshot eval`` (:func:`evaluation_config`): the
architecture is always the weights' own; the data settings are the caller's, or (``cfg=None``, and the
CLI unless ``--config``) the ones the model was trained with, read from the file's header.

Example:
    >>> report = run_evaluation("runs/omniglot/model.safetensors", None, "runs/omniglot/eval")
    >>> report["5w1s"]["mean"], report["5w1s"]["ci95"], report["test"]["n_classes"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.fewshot.evaluate import DataConfig, TensorSet, evaluate_model, load_model, load_splits
from neurotrio.fewshot.train import TrainConfig


def model_metadata(weights: str | Path) -> dict[str, Any]:
    """The header of a ``model.safetensors`` written by training: ``model_config`` and ``data`` (no tensors read).

    Raises:
        InputError / CheckpointError: not a safetensors file, or one without an FSL-SNN model config.
    """
    from neurotrio.core.checkpoint import read_metadata

    path = Path(weights)
    meta = read_metadata(path)
    if "model_config" not in meta:
        raise InputError(path, "no FSL-SNN model config in this weights file (not written by fewshot train)")
    return meta


def trained_data_config(meta: dict[str, Any]) -> DataConfig:
    """The ``DataConfig`` a model was trained with, from its header (fields unknown to this version dropped)."""
    from dataclasses import fields

    from neurotrio.core.config import from_dict

    known = {f.name for f in fields(DataConfig)}
    return from_dict(DataConfig, {k: v for k, v in (meta.get("data") or {}).items() if k in known})


def evaluation_config(weights: str | Path, cfg: Any = None) -> Any:
    """The config an evaluation of ``weights`` runs with; one rule for ``run_evaluation`` and ``fewshot eval``.

    * ``model``: always the weights' own architecture (read from the file; a trained model's architecture
      cannot be changed, so ``cfg.model`` is replaced).
    * ``data``: ``cfg.data`` when ``cfg`` is given; with ``cfg=None`` (and in ``fewshot eval`` unless
      ``--config`` is given) the data settings the model was trained with, so ``data.max_classes``,
      ``data.max_per_class`` and ``data.image_size`` of training apply to the test split too. The test
      classes are then that split's classes (``load_splits``), capped by ``data.max_classes`` (evenly
      spaced) and ``data.max_per_class``; ``eval.json`` lists them.
    """
    from dataclasses import replace

    from neurotrio.core.config import from_dict
    from neurotrio.fewshot.fslsnn import FSLSNNConfig

    meta = model_metadata(weights)
    if cfg is None:
        cfg = TrainConfig(data=trained_data_config(meta))
    return replace(cfg, model=from_dict(FSLSNNConfig, meta["model_config"]))


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_test(data: DataConfig, test: TensorSet) -> dict[str, Any]:
    """Which test classes an evaluation used: where from, the caps, how many, and their names."""
    if data.dataset == "synthetic":
        split = "last 20 % of the classes"
    elif data.dataset in ("omniglot", "nomniglot", "omniglot-dvs"):
        split = (f"{data.test_fraction:.0%} of the background classes, held out (seeded)" if data.test_fraction > 0
                 else "evaluation alphabets")
    else:
        split = "test split"
    if data.events_dir:
        split += f" as simulated in {data.events_dir}"
    ids = test.targets.unique().tolist()
    names = [test.class_names[i] if i < len(test.class_names) else f"class{i}" for i in ids]
    caps = ", ".join(f"data.{k}={getattr(data, k)}" for k in ("max_classes", "max_per_class") if getattr(data, k))
    return {"dataset": data.dataset, "split": split, "n_classes": len(ids), "n_images": len(test.targets),
            "caps": caps or "none", "classes": names}


def check_settings(settings: Any, test: TensorSet | None = None, n_query: int = 15) -> None:
    """Refuse ``eval.settings`` the test split cannot fill, before any episode runs, naming those it can.

    Without ``test`` only the spelling is checked (``"5w1s"``). A setting N-way K-shot needs N test classes
    with at least K + ``n_query`` images each (``EpisodeSampler``'s rule).

    Raises:
        ConfigError: a setting is misspelt.
        InputError: a setting needs more classes than the test split has (as ``EpisodeSampler`` would raise).
    """
    import torch

    from neurotrio.fewshot.evaluate import parse_setting

    parsed = {s: parse_setting(s) for s in settings}
    if test is None:
        return
    counts = torch.bincount(test.targets)
    usable = {s: int((counts >= k + n_query).sum()) for s, (_, k) in parsed.items()}
    bad = [s for s, (n, _) in parsed.items() if usable[s] < n]
    if bad:
        n, k = parsed[bad[0]]
        fits = [s for s in parsed if s not in bad]
        hint = (f"--set eval.settings=[{','.join(fits)}] runs the others" if fits else
                "lower eval.n_query, or lift data.max_classes / data.max_per_class")
        raise InputError(None, f"eval.settings: {bad[0]} ({n}-way {k}-shot) needs {n} test classes with at least "
                               f"{k + n_query} images (K + eval.n_query={n_query}); this test split has "
                               f"{usable[bad[0]]} such classes ({test.n_classes} in all): {hint}")


def run_evaluation(weights: str | Path, cfg: Any = None, out_dir: str | Path | None = None,
                   progress: bool = False) -> dict[str, Any]:
    """Evaluate trained weights on the test classes; writes ``eval.json``, ``eval.md``, ``eval.png``, ``config.yaml``.

    Args:
        weights: ``model.safetensors`` from ``run_training``.
        cfg: a ``TrainConfig`` (its ``data``, ``eval``, ``seed`` and ``device`` are used; its ``model`` is
            replaced by the weights' own), or None for the data settings the model was trained with;
            the rule is :func:`evaluation_config`'s.
        out_dir: output folder, written atomically; None writes nothing.
        progress: a progress bar over the test episodes.

    Returns:
        ``{setting: {"mean", "ci95", "episodes", "n_query"}, "test": describe_test(...), "weights": {...},
        "device", "n_test_images", "n_test_classes", "embed_s", "eval_s"}``; ``config.yaml`` beside it is the
        config that ran (the model's own architecture).
    """
    from neurotrio.core.config import to_dict
    from neurotrio.core.io import atomic_dir
    from neurotrio.core.results import markdown_table, write_results
    from neurotrio.core.seed import pick_device, seed_everything

    cfg = evaluation_config(weights, cfg)
    check_settings(cfg.eval.settings)
    if cfg.eval.episodes < 2 or cfg.eval.n_query < 1:  # else a NaN CI (invalid JSON in eval.json) or no queries
        raise ConfigError(f"eval.episodes must be at least 2 for a 95 % CI (got {cfg.eval.episodes}) and eval.n_query "
                          f"at least 1 (got {cfg.eval.n_query})")
    meta = model_metadata(weights)
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    model = load_model(weights, cfg.data.image_size).to(device)
    test = load_splits(cfg.data, need=("test",), seed=cfg.seed, progress=progress)["test"]
    check_settings(cfg.eval.settings, test, cfg.eval.n_query)
    report = evaluate_model(model, test, cfg.eval, device, progress=progress)
    report["test"] = describe_test(cfg.data, test)
    report["device"] = str(device)  # what ran: config.yaml keeps the requested one ("auto")
    report["weights"] = {"path": str(Path(weights).resolve()), "sha256": file_sha256(weights),
                         "model_config": to_dict(cfg.model), "trained_data": meta.get("data")}
    if out_dir is None:
        return report
    from neurotrio.fewshot.figures import plot_eval_accuracy

    rows = [(s, f"{report[s]['mean']:.2f} ± {report[s]['ci95']:.2f}", report[s]["episodes"]) for s in cfg.eval.settings]
    t = report["test"]
    note = (f"\nTest: {t['n_classes']} classes ({t['split']} of {t['dataset']}; caps: {t['caps']}), "
            f"{t['n_images']} images. Weights: {report['weights']['path']} (sha256 {report['weights']['sha256'][:16]}…).\n")
    with atomic_dir(out_dir) as tmp:
        write_results(tmp, "eval", report, config=cfg, seed=cfg.seed,
                      markdown=markdown_table(["setting", "accuracy % (95 % CI)", "episodes"], rows) + note)
        plot_eval_accuracy(report, cfg.eval.settings, tmp / "eval.png",
                           title=f"{cfg.model.method} on {t['dataset']} ({t['n_classes']} test classes)")
    return report


__all__ = ["check_settings", "describe_test", "evaluation_config", "file_sha256", "model_metadata", "run_evaluation",
           "trained_data_config"]
