"""`neurotrio mer {prepare, train, predict, info}`: thin wrappers over the micro-expression library.

Torch models, OpenCV and dlib are imported inside each command so that ``neurotrio --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neurotrio.core.cli import add_config_args, config_from_args
from neurotrio.core.errors import ConfigError, InputError

DATASETS = ("composite", "casme2", "samm", "smic", "sequences")
VARIANTS = ("P", "C", "GFE", "AFE", "ststnet")


def cmd_prepare(args: argparse.Namespace) -> int:
    """One sample → a .npy tensor, or a whole dataset → the cache."""
    import numpy as np

    from neurotrio.core.io import atomic_path
    from neurotrio.microexpression.preprocess import PrepareConfig

    cfg = config_from_args(PrepareConfig, args, phi=args.phi, size=args.size, length=args.length)
    if args.dataset:
        from neurotrio.microexpression.datasets import load_dataset, load_inputs

        if not args.data:
            raise ConfigError("--dataset needs --data DIR (the dataset folder)")
        samples = load_dataset(args.dataset, args.data, args.sheet)
        x = load_inputs(samples, cfg, args.cache, workers=args.workers, progress=True)
        where = "flow maps, read directly" if samples[0].kind == "flow" else f"cached in {args.cache}"
        print(f"prepared {len(samples)} {args.dataset} samples → {tuple(x.shape[1:])} each ({where})")
        if samples[0].kind != "flow":
            print("face detector per sample: " + _face_counts(samples, cfg, args.cache))
        return 0
    if not args.source:
        raise ConfigError("give a SOURCE (frames folder, video, sequence folder) or --dataset with --data")
    from neurotrio.microexpression.predict import input_path, sample_tensor

    if not args.out:
        raise ConfigError("give --out FILE.npy for the prepared tensor")
    path = input_path(args.source, args.onset, args.apex, cfg)
    info: dict = {}
    x = sample_tensor(args.source, args.onset, args.apex, cfg, info=info).numpy()
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, x)
    print(f"prepared {args.source} as {path} → {args.out} {tuple(x.shape)} float32")
    if info.get("face_detector"):
        print(f"face found by {info['face_detector']} at {tuple(info['face_box'])} (left, top, right, bottom)")
    return 0


def _face_counts(samples, cfg, cache_dir) -> str:
    """Which detector found each cached sample's face, from the metadata beside the cache entries."""
    from pathlib import Path

    from neurotrio.microexpression.datasets import frame_positions
    from neurotrio.microexpression.preprocess import as_sample, cache_key
    from neurotrio.microexpression.sample_meta import face_detector_counts

    items = [(s.path, *frame_positions(s)) if s.kind == "frames" else s.path for s in samples]  # as load_inputs
    counts = face_detector_counts(Path(cache_dir) / f"{cache_key(as_sample(i), cfg)}.npy" for i in items)
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def cmd_train(args: argparse.Namespace) -> int:
    """LOSO evaluation or a final model; under torchrun the folds are spread over the ranks, rank 0 reports."""
    from neurotrio.core.distributed import init_distributed, is_main
    from neurotrio.microexpression.config import LosoConfig
    from neurotrio.microexpression.final import train_final
    from neurotrio.microexpression.train import run_loso

    init_distributed()  # a no-op unless launched by torchrun
    variants = [v.strip() for v in (args.variant or "").split(",") if v.strip()] or None
    cfg = config_from_args(LosoConfig, args, dataset=args.dataset, data=args.data, sheet=args.sheet,
                           variants=variants, max_folds=args.folds, seed=args.seed, device=args.device,
                           cache_dir=args.cache)
    import os
    from dataclasses import replace

    # absolute in config.yaml / results.json, so they say which folders ran wherever they are read
    cfg = replace(cfg, **{k: os.path.abspath(os.path.expanduser(v)) for k in ("data", "sheet", "cache_dir")
                          if (v := getattr(cfg, k))})
    if args.protocol == "all":
        out = train_final(cfg, args.out, progress=not args.quiet)
        if not is_main():
            return 0
        print(f"trained MPFNet variant {cfg.variants[0]} on all of {cfg.dataset}; wrote model.safetensors, model.json, "
              f"losses.json, config.yaml to {out}")
        return 0
    m = run_loso(cfg, args.out, progress=not args.quiet)
    if not is_main():
        return 0
    run = m["_run"]
    procs = f" over {run['world_size']} processes" if run["world_size"] > 1 else ""
    print(f"LOSO {cfg.dataset}: {run['folds']} folds, {run['samples_tested']} test samples, "
          f"{run['wall_s']:.0f} s{procs}")
    for v in cfg.variants:
        p, d = m[v]["pooled"], m[v].get("vs_baseline")
        vs = (f"  vs baseline UF1 {d['uf1']['diff']:+.3f} [{d['uf1']['lo']:+.3f}, {d['uf1']['hi']:+.3f}], "
              f"UAR {d['uar']['diff']:+.3f}" if d else "")
        print(f"  {v:8s} UF1 {p['uf1']:.3f}  UAR {p['uar']:.3f}  acc {p['accuracy']:.3f}{vs}")
    names = ["results.json", "results.md", "predictions.csv", "config.yaml",
             *(f"confusion_{v}.png" for v in cfg.variants), "fold_uf1.png"]
    print(f"wrote {', '.join(n for n in names if (Path(args.out) / n).is_file())} to {args.out}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Class probabilities of one or many samples; ``--out`` writes them as CSV or JSON."""
    from neurotrio.microexpression.predict import predict_many, write_predictions

    if args.out and not args.out.lower().endswith((".csv", ".json")):
        raise InputError(args.out, "predictions are written as .csv or .json; choose one of those endings")
    rows = predict_many(args.model, args.source, args.onset, args.apex)
    if args.out:
        write_predictions(rows, args.out)
    if len(rows) == 1 and not args.out:
        probs = {k[2:]: v for k, v in rows[0].items() if k.startswith("p_")}
        for name, p in sorted(probs.items(), key=lambda kv: -kv[1]):
            print(f"{name:12s} {p:.3f}")
        print(f"prediction: {rows[0]['prediction']}")
        return 0
    for r in rows:
        probs = "  ".join(f"{k[2:]} {v:.3f}" for k, v in r.items() if k.startswith("p_"))
        print(f"{r['sample']}: {r['prediction']}  ({probs})")
    if args.out:
        print(f"{len(rows)} predictions written to {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    if args.model:
        import json

        from neurotrio.core.flops import count_params
        from neurotrio.microexpression.predict import load_model

        net, meta = load_model(args.model)
        print(f"MPFNet variant {meta['variant']} trained on {meta['dataset']} ({meta.get('n_train')} samples); "
              f"classes {', '.join(meta['classes'])}; input {tuple(meta['input_shape'])}; "
              f"{count_params(net):,} parameters")
        if "input_mean" in meta:                  # the input preparation `predict` applies (model.json)
            how = "centred on each sample's per-channel median, then " if meta.get("input_center") else ""
            print(f"inputs: {how}standardised with the training samples' per-channel mean and std")
        print(json.dumps(meta["model"])[:400])
        return 0
    if not args.dataset or not args.data:
        raise ConfigError("give --model DIR, or --dataset NAME with --data DIR")
    from collections import Counter

    from neurotrio.microexpression.datasets import load_dataset

    samples = load_dataset(args.dataset, args.data, args.sheet)
    print(f"{args.dataset}: {len(samples)} samples, {len({s.subject for s in samples})} subjects, "
          f"input kind {samples[0].kind}")
    print("classes: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(s.label_name for s in samples).items())))
    print("databases: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(s.database for s in samples).items())))
    return 0


def _int_or_none(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(None, f"frame index must be an integer, got {text!r}") from None


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the ``mer`` sub-commands on ``parser``."""
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("prepare", help="frames/video/sequence → 5×10×128×128 tensor (.npy), or a whole dataset",
                       description="Offline preprocessing: face crop + alignment, magnification, interpolation, "
                                   "TV-L1 flow and frame differences.")
    p.add_argument("source", nargs="?", help="frames folder, video file, or interpolated sequence folder")
    p.add_argument("--onset", type=_int_or_none, help="onset frame (0-based position in the folder/video)")
    p.add_argument("--apex", type=_int_or_none, help="apex frame (0-based position)")
    p.add_argument("--out", help="output .npy file (single sample)")
    p.add_argument("--dataset", choices=DATASETS, help="prepare every sample of this dataset into --cache")
    p.add_argument("--data", help="dataset folder (with --dataset)")
    p.add_argument("--sheet", help="coding sheet (CASME II / SAMM; CSV, or XLSX with openpyxl)")
    p.add_argument("--cache", default=".mer_cache", help="cache folder (default .mer_cache)")
    p.add_argument("--workers", type=int, default=2, help="worker processes preparing samples (default 2; 1: in this one)")
    p.add_argument("--phi", type=float, help="magnification factor of the apex (default 2.0)")
    p.add_argument("--size", type=int, help="side of the square face crop, pixels (default 128)")
    p.add_argument("--length", type=int, help="interpolated frames L (default 11)")
    add_config_args(p, example="margin=0.15")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("train", help="leave-one-subject-out MPFNet training/evaluation, or a final model",
                       description="Train MPFNet (P, C, GFE, AFE) and/or the STSTNet-like baseline.")
    p.add_argument("--variant", help=f"comma list of {', '.join(VARIANTS)} (default P,C,ststnet)")
    p.add_argument("--dataset", choices=DATASETS, default=None, help="dataset layout (default composite)")
    p.add_argument("--data", help="dataset folder")
    p.add_argument("--sheet", help="coding sheet (CASME II / SAMM; labels CSV for sequences)")
    p.add_argument("--protocol", choices=("loso", "all"), default="loso",
                   help="loso: evaluate; all: train one model on every subject for `predict`")
    p.add_argument("--folds", type=int, help="run only the first N LOSO folds (smoke runs)")
    p.add_argument("--seed", type=int, help="random seed (default 0; each fold is seeded from it and its index)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:1 …")
    p.add_argument("--cache", help="prepared-tensor cache (raw-frame datasets)")
    p.add_argument("--out", required=True, help="output folder (written atomically)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_args(p, example="model.gfe.epochs=5")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="class probabilities of new samples under a trained model",
                       description="SOURCE: a flow-map PNG, a prepared .npy, a sequence folder, or raw frames "
                                   "(folder or video) with --onset/--apex.")
    p.add_argument("model", help="model folder written by `neurotrio mer train --protocol all` (or its model.safetensors)")
    p.add_argument("source", nargs="+", help="one or more samples (e.g. flow_uvos_28/*.png)")
    p.add_argument("--out", help="write every sample's prediction and class probabilities to a .csv or .json")
    p.add_argument("--onset", type=_int_or_none, help="onset frame of raw frames/video (0-based position)")
    p.add_argument("--apex", type=_int_or_none, help="apex frame of raw frames/video (0-based position)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("info", help="summarise a dataset (classes, subjects) or a trained model")
    p.add_argument("--model", help="a model folder: its variant, classes, input shape and parameters")
    p.add_argument("--dataset", choices=DATASETS, help="a dataset: its samples, subjects and classes (with --data)")
    p.add_argument("--data", help="dataset folder")
    p.add_argument("--sheet", help="coding sheet (CASME II / SAMM; labels CSV for sequences)")
    p.set_defaults(func=cmd_info)


__all__ = ["add_commands"]
