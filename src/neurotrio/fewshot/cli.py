"""`neurotrio fewshot {train, eval, energy, simulate-events}`: thin wrappers over the library.

Heavy modules (spikingjelly, the model, the data readers) are imported inside each command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurotrio.core.cli import add_config_args, config_from_args


def _train_config(args: argparse.Namespace):
    from neurotrio.fewshot.train import TrainConfig

    direct = {"data.dataset": getattr(args, "dataset", None), "data.root": getattr(args, "root", None),
              "model.method": getattr(args, "method", None), "seed": getattr(args, "seed", None),
              "device": getattr(args, "device", None)}
    return config_from_args(TrainConfig, args, **direct)


def cmd_train(args: argparse.Namespace) -> int:
    from neurotrio.core.distributed import init_distributed, is_main
    from neurotrio.fewshot.train import run_training

    init_distributed()  # a no-op unless launched by torchrun
    cfg = _train_config(args)
    record = run_training(cfg, args.out)
    if not is_main():
        return 0
    val = [e["val_acc"] for e in record["pretrain_history"] + record["finetune_history"]]
    best = f"best val acc {100 * max(val):.2f} %" if val else "no validation"
    print(f"trained {cfg.model.method} on {cfg.data.dataset} in {record['pretrain_s'] + record['finetune_s']:.1f} s "
          f"({best}); wrote {Path(args.out) / 'model.safetensors'}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from neurotrio.fewshot.evaluate import run_evaluation

    cfg = _train_config(args)
    report = run_evaluation(args.weights, cfg, args.out)
    for s in cfg.eval.settings:
        print(f"{s}: {report[s]['mean']:.2f} ± {report[s]['ci95']:.2f} % over {report[s]['episodes']} episodes")
    return 0


def cmd_energy(args: argparse.Namespace) -> int:
    from neurotrio.fewshot.energy import energy_table

    cfg = _train_config(args)
    text = energy_table(cfg, args.weights, args.ann_weights, args.batch)
    print(text)
    if args.out:
        from neurotrio.core.io import atomic_write_text

        atomic_write_text(args.out, text + "\n")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from neurotrio.fewshot.omniglot_dvs import simulate_folder
    from neurotrio.fewshot.simulate import SimulatorConfig

    cfg = config_from_args(SimulatorConfig, args)
    summary = simulate_folder(args.source, args.out, split=args.split, limit=args.limit,
                              only_strokes=args.only_strokes, config=cfg, seed=args.seed)
    print(f"wrote {summary['samples']} samples ({summary['from_strokes']} from strokes, {summary['from_saccades']} "
          f"from saccades) of {summary['classes']} characters to {args.out}: {summary['events_mean']:.0f} events "
          f"over {summary['duration_s_mean']:.2f} s per sample on average")
    return 0


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the fewshot sub-commands on ``parser`` (the ``neurotrio fewshot`` parser)."""
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", choices=("omniglot", "omniglot-dvs", "nomniglot", "cub", "miniimagenet",
                                             "synthetic"), help="data set (default: omniglot)")
        p.add_argument("--root", help="data set folder (Omniglot zips, N-Omniglot, CUB or miniImageNet root)")
        p.add_argument("--method", choices=("fslsnn", "protonet"), help="model (default: fslsnn)")
        p.add_argument("--seed", type=int, help="random seed (default 0)")
        p.add_argument("--device", help="auto (default), cpu, cuda, cuda:1 ...")
        add_config_args(p)

    p = sub.add_parser("train", help="pre-train on base classes, fine-tune on episodes, save the model",
                       description="Pre-train (TET) on the base classes, fine-tune episodically (TET + InfoNCE), "
                                   "select on validation classes; writes model.safetensors, train.json, config.yaml.")
    common(p)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="accuracy ± 95 %% CI over test episodes (5w1s, 5w5s, 20w1s, 20w5s)",
                       description="Evaluate a trained model on the test classes over many random episodes.")
    common(p)
    p.add_argument("--weights", required=True, help="model.safetensors written by `fewshot train`")
    p.add_argument("--out", required=True, help="output folder (eval.json, eval.md, config.yaml)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("energy", help="per-layer SOPs/MACs table and the SNN / ANN-twin energy ratio",
                       description="Measure firing rates on real inputs and print per-layer MACs, SOPs and "
                                   "energy (4.6 pJ/MAC, 0.9 pJ/AC) for the SNN and its ANN twin, and their ratio.")
    common(p)
    p.add_argument("--weights", help="trained SNN model.safetensors (default: untrained weights)")
    p.add_argument("--ann-weights", help="trained ANN-twin model.safetensors (default: the SNN's config with ReLU)")
    p.add_argument("--batch", type=int, default=64, help="test images used to measure firing rates (default 64)")
    p.add_argument("--out", help="also write the tables to this Markdown file")
    p.set_defaults(func=cmd_energy)

    p = sub.add_parser("simulate-events", help="turn Omniglot into N-Omniglot-like event streams (Omniglot-DVS)",
                       description="Simulate a DVS recording of Omniglot characters: pen strokes rendered over "
                                   "time where stroke files exist, saccades of the static image otherwise.")
    p.add_argument("--source", required=True, help="Omniglot folder with images_*.zip and strokes_*.zip")
    p.add_argument("--out", required=True, help="output folder of event files")
    p.add_argument("--split", default="background", choices=("background", "evaluation"))
    p.add_argument("--limit", type=int, default=0, help="simulate at most this many characters (0 = all)")
    p.add_argument("--only-strokes", action="store_true", help="only drawings that have stroke files")
    p.add_argument("--seed", type=int, default=0)
    add_config_args(p)
    p.set_defaults(func=cmd_simulate)


def main(argv: list[str] | None = None) -> int:
    from neurotrio.cli import main as top

    return top(["fewshot", *(argv if argv is not None else sys.argv[1:])])
