"""`neurotrio fewshot {train, eval, energy, simulate-events}`: thin wrappers over the library.

Heavy modules (spikingjelly, the model, the data readers) are imported inside each command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurotrio.core.cli import add_config_args, config_from_args, system_main
from neurotrio.core.errors import ConfigError, InputError


def _direct(args: argparse.Namespace, model: bool = True) -> dict:
    direct = {"data.dataset": getattr(args, "dataset", None), "data.root": getattr(args, "root", None),
              "seed": getattr(args, "seed", None), "device": getattr(args, "device", None)}
    if model:
        direct["model.method"] = getattr(args, "method", None)
    if hasattr(args, "quiet"):  # the CLI shows progress unless --quiet (the library default is quiet)
        direct["progress"] = not args.quiet
    return direct


DATA_PATHS = ("root", "events_dir", "cache_dir", "split_dir")


def _absolute_data_paths(cfg):
    """``cfg`` with its data folders made absolute, as the model header, config.yaml and eval.json record them.

    A relative ``--root`` or ``data.events_dir`` saved in the weights would be read against the folder
    ``fewshot eval`` is started from, not the one training ran in.
    """
    import os
    from dataclasses import replace

    paths = {k: os.path.abspath(os.path.expanduser(v)) for k in DATA_PATHS if (v := getattr(cfg.data, k, ""))}
    return replace(cfg, data=replace(cfg.data, **paths))


def _merged(base: dict, extra: dict) -> dict:
    """``base`` with ``extra``'s keys laid over it, nested mappings merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _train_config(args: argparse.Namespace):
    """Recipe of the data set (``recipes.dataset_recipe``) < --config file < --dataset/--root/... < --set.

    The data set is the one named by the flags, --set or the file (default omniglot); a --config file's keys
    are laid over that recipe, so a file that names only a few settings keeps the rest of the recipe.
    """
    import yaml

    from neurotrio.core.config import from_dict, to_dict
    from neurotrio.fewshot.recipes import dataset_recipe
    from neurotrio.fewshot.train import TrainConfig

    direct = _direct(args)
    dataset = config_from_args(TrainConfig, args, **direct).data.dataset  # also checks the file and --set
    base = dataset_recipe(dataset)
    if getattr(args, "config", None) is not None:  # read and checked just above
        base = from_dict(TrainConfig, _merged(to_dict(base), yaml.safe_load(Path(args.config).read_text()) or {}))
    no_file = argparse.Namespace(**{**vars(args), "config": None})
    return _absolute_data_paths(config_from_args(TrainConfig, no_file, base=base, **direct))


def _trained_model_config(args: argparse.Namespace, weights: str):
    """The config for scoring ``weights``: its own model, its training data unless --config (``evaluation_config``).

    ``--set model.…`` and ``--method`` are refused: a trained model's architecture is in its weights file.
    """
    from neurotrio.fewshot.scoring import evaluation_config
    from neurotrio.fewshot.train import TrainConfig

    base = evaluation_config(weights)  # first: an unreadable weights file is the error to report
    changed = [o.split("=", 1)[0].strip() for o in args.overrides if o.split("=", 1)[0].strip().startswith("model.")]
    if getattr(args, "method", None):
        changed.insert(0, "--method")
    if changed:
        raise ConfigError(f"{changed[0]}: the model's architecture comes from its weights file {weights}; drop "
                          "the model options (to change it, train another model)")
    cfg = config_from_args(TrainConfig, args, base=base, **_direct(args, model=False))
    return _absolute_data_paths(evaluation_config(weights, cfg))


def cmd_train(args: argparse.Namespace) -> int:
    from neurotrio.core.distributed import init_distributed, is_main
    from neurotrio.fewshot.train import run_training

    init_distributed()  # a no-op unless launched by torchrun
    cfg = _train_config(args)
    record = run_training(cfg, args.out)
    if not is_main():
        return 0
    val = [e["val_acc"] for e in record["pretrain_history"] + record["finetune_history"]]
    n_val = record["n_val_classes"]
    n_way = min(cfg.finetune.n_way, n_val)  # train.validation_score: fewer classes, fewer ways
    fewer = f", fewer than finetune.n_way={cfg.finetune.n_way}" if n_way < cfg.finetune.n_way else ""
    best = (f"best val acc {100 * max(val):.2f} % on {n_way}-way episodes of {n_val} validation classes{fewer}"
            if val else "no validation")
    kept = record.get("kept_epoch")
    where = f"; kept {kept['stage']} epoch {kept['epoch']}" if kept else ""
    size = f"{cfg.data.image_size}×{cfg.data.image_size}"
    print(f"trained {cfg.model.method} on {cfg.data.dataset} ({size} inputs) in "
          f"{record['pretrain_s'] + record['finetune_s']:.1f} s "
          f"({best}{where}); wrote model.safetensors, train.json, train.png, config.yaml to {args.out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from neurotrio.fewshot.scoring import run_evaluation

    cfg = _trained_model_config(args, args.weights)
    report = run_evaluation(args.weights, cfg, args.out, progress=cfg.progress)
    t = report["test"]
    hint = "" if t["caps"] == "none" else " (--set data.max_classes=0 --set data.max_per_class=0: all)"
    print(f"test classes: {t['n_classes']} ({t['split']} of {t['dataset']}; caps: {t['caps']}{hint}), "
          f"{t['n_images']} images")
    for s in cfg.eval.settings:
        print(f"{s}: {report[s]['mean']:.2f} ± {report[s]['ci95']:.2f} % over {report[s]['episodes']} episodes")
    print(f"wrote eval.json, eval.md, eval.png, config.yaml to {args.out}")
    return 0


def cmd_energy(args: argparse.Namespace) -> int:
    from neurotrio.fewshot.energy import energy_json, energy_markdown, measure_energy

    if args.weights and args.untrained:
        raise ConfigError("give --weights or --untrained, not both")
    if not args.weights and not args.untrained:
        raise ConfigError("fewshot energy needs --weights MODEL.safetensors (firing rates of a trained model); "
                          "--untrained measures a randomly initialised network instead")
    if args.out and not args.out.lower().endswith(".md"):
        raise InputError(args.out, "--out is a Markdown file (.md); the .json and .png are written beside it")
    cfg = _trained_model_config(args, args.weights) if args.weights else _train_config(args)
    result = measure_energy(cfg, args.weights, args.ann_weights, args.batch, progress=not args.quiet)
    text = energy_markdown(result)
    print(text)
    if args.out:
        from neurotrio.core.config import to_dict
        from neurotrio.core.io import atomic_write_text, write_json
        from neurotrio.core.seed import provenance
        from neurotrio.fewshot.figures import plot_energy
        from neurotrio.fewshot.scoring import file_sha256

        out = Path(args.out)
        record = {**energy_json(result), "weights_sha256": file_sha256(args.weights) if args.weights else None,
                  "config": to_dict(cfg), "provenance": provenance(cfg.seed)}
        for key in ("weights", "ann_weights"):  # absolute, as eval.json records them
            if getattr(args, key):
                record[key] = str(Path(getattr(args, key)).resolve())
        title = ("UNTRAINED " if result["untrained"] else "") + f"{cfg.model.method} on {cfg.data.dataset}"
        writers = [(out.with_suffix(".png"), lambda p: plot_energy(result["snn"], result["ann"], p,
                                                                    strict=result["snn_strict"], title=title)),
                   (out.with_suffix(".json"), lambda p: write_json(p, record)),
                   (out, lambda p: atomic_write_text(p, text + "\n"))]
        written: list[Path] = []
        try:  # each file is atomic; all three or none (a failed figure no longer leaves the .md and .json)
            for path, write in writers:
                write(path)
                written.append(path)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        print(f"wrote {out}, {out.with_suffix('.json').name}, {out.with_suffix('.png').name}")
    return 0


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip().strip("/") for n in (text or "").split(",") if n.strip())


def cmd_simulate(args: argparse.Namespace) -> int:
    from neurotrio.fewshot.omniglot_dvs import simulate_folder
    from neurotrio.fewshot.simulate import SimulatorConfig

    cfg = config_from_args(SimulatorConfig, args)
    summary = simulate_folder(args.source, args.out, split=args.split, limit=args.limit,
                              only_strokes=args.only_strokes, config=cfg, seed=args.seed,
                              alphabets=_names(args.alphabets), characters=_names(args.characters))
    print(f"wrote {summary['samples']} samples ({summary['from_strokes']} from strokes, {summary['from_saccades']} "
          f"from saccades) of {summary['classes']} characters to {args.out}: {summary['events_mean']:.0f} events "
          f"over {summary['duration_s_mean']:.2f} s per sample on average; config.yaml and summary.json beside them")
    return 0


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the fewshot sub-commands on ``parser`` (the ``neurotrio fewshot`` parser)."""
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(p: argparse.ArgumentParser, example: str, scoring: bool = False, energy: bool = False) -> None:
        """``scoring``: the command scores a trained model (data defaults from its weights, no --method);
        ``energy``: it does with --weights, and takes the training defaults with --untrained."""
        default = ("the one the model was trained on" if scoring else
                   "the model's training data with --weights, omniglot with --untrained" if energy else "omniglot")
        p.add_argument("--dataset", choices=("omniglot", "omniglot-dvs", "nomniglot", "cub", "miniimagenet",
                                             "synthetic"), help=f"data set (default: {default})")
        p.add_argument("--root", help="data set folder (Omniglot zips, N-Omniglot, CUB or miniImageNet root)"
                                      + ("; default: the model's training folder" if scoring or energy else ""))
        if not scoring:
            p.add_argument("--method", choices=("fslsnn", "protonet"),
                           help="model (default: fslsnn)" + ("; --untrained only: with --weights the model's own"
                                                             if energy else ""))
        p.add_argument("--seed", type=int, help="random seed (default 0)" + (
            "; it seeds the data split, the test episodes are drawn with eval.seed (default 1234, "
            "--set eval.seed=N)" if scoring else ""))
        p.add_argument("--device", help="auto (default), cpu, cuda, cuda:1 ...")
        add_config_args(p, example=example)

    p = sub.add_parser("train", help="pre-train on base classes, fine-tune on episodes, save the model",
                       description="Pre-train (TET) on the base classes, fine-tune episodically (TET + InfoNCE), "
                                   "select on validation classes; writes model.safetensors, train.json, train.png "
                                   "(loss and validation accuracy per epoch, kept model starred), config.yaml. "
                                   "Starts from the data set's validated CPU recipe (recipes.dataset_recipe: "
                                   "CUB 40×40, Omniglot-DVS 4 event bins, others the Omniglot recipe); "
                                   "--config and --set override it.")
    common(p, "pretrain.epochs=3 --set finetune.episodes=30")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="accuracy ± 95 %% CI over test episodes (5w1s, 5w5s, 20w1s, 20w5s)",
                       description="Evaluate a trained model on the test classes over many random episodes. "
                                   "The model's architecture and, unless --config is given, its data settings "
                                   "(image size, data.max_classes, ...) come from its weights file; --dataset, "
                                   "--root and --set data.… change the data, --set model.… is refused.")
    common(p, "eval.episodes=100", scoring=True)
    p.add_argument("--weights", required=True, help="model.safetensors written by `fewshot train`")
    p.add_argument("--out", required=True, help="output folder (eval.json, eval.md, eval.png, config.yaml)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("energy", help="per-layer SOPs/MACs table and the SNN / ANN-twin energy ratio",
                       description="Measure firing rates on real inputs and print per-layer MACs, SOPs and "
                                   "energy (4.6 pJ/MAC, 0.9 pJ/AC) for the SNN and its ANN twin, and their ratio.")
    common(p, "data.max_per_class=5", energy=True)
    p.add_argument("--weights", help="trained SNN model.safetensors (required unless --untrained)")
    p.add_argument("--untrained", action="store_true",
                   help="measure a randomly initialised network of the config's architecture (said in the output)")
    p.add_argument("--ann-weights", help="trained ANN-twin model.safetensors (default: the SNN's config with ReLU)")
    p.add_argument("--batch", type=int, default=64, help="test images used to measure firing rates (default 64)")
    p.add_argument("--quiet", action="store_true", help="no progress bar while the test images are read")
    p.add_argument("--out", metavar="FILE.md",
                   help="also write the tables to this Markdown file, FILE.json (per-layer rows, totals, ratios) "
                        "and FILE.png (per-layer energy bars) beside it")
    p.set_defaults(func=cmd_energy)

    p = sub.add_parser("simulate-events", help="turn Omniglot into N-Omniglot-like event streams (Omniglot-DVS)",
                       description="Simulate a DVS recording of Omniglot characters: pen strokes rendered over "
                                   "time where stroke files exist, saccades of the static image otherwise.")
    p.add_argument("--source", required=True, help="Omniglot folder with images_*.zip and strokes_*.zip")
    p.add_argument("--out", required=True, help="output folder of event files (new or empty)")
    p.add_argument("--split", default="background", choices=("background", "evaluation"),
                   help="which Omniglot split to simulate (default background; training needs both: "
                        "docs/fewshot-data.md)")
    p.add_argument("--limit", type=int, default=0,
                   help="simulate at most this many characters (0 = all), the first ones of the selection")
    p.add_argument("--alphabets", metavar="NAMES",
                   help="only these alphabets, comma-separated folder names, e.g. Greek,Korean")
    p.add_argument("--characters", metavar="NAMES",
                   help="only these characters, comma-separated Alphabet/characterNN, e.g. Greek/character01")
    p.add_argument("--only-strokes", action="store_true", help="only drawings that have stroke files")
    p.add_argument("--seed", type=int, default=0, help="seed of the sensor noise and threshold mismatch (default 0)")
    add_config_args(p, example="display_fps=30.0")
    p.set_defaults(func=cmd_simulate)


def main(argv: list[str] | None = None) -> int:
    """``neurotrio fewshot ...`` alone (``python -m neurotrio.fewshot.cli train ...``); see ``core.cli.system_main``."""
    return system_main("fewshot", add_commands, argv)


if __name__ == "__main__":
    sys.exit(main())
