"""`neurotrio sleep {score, train, export, fetch, demo, info}`: thin wrappers over the sleep library.

Heavy modules (MNE, torch models, onnxruntime, matplotlib) are imported inside each command so that
``neurotrio --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neurotrio.core.cli import add_config_args, config_from_args
from neurotrio.core.errors import ConfigError


def _aliases(pairs: list[str]) -> dict[str, str]:
    out = {}
    for item in pairs or []:
        name, sep, label = item.partition("=")
        if not sep or not name.strip() or not label.strip():
            raise ConfigError(f"--channel needs NAME=LABEL (e.g. --channel 'EEG Fpz-Cz=C4-M1'), got {item!r}")
        out[name.strip()] = label.strip()
    return out


def _channels(text: str | None) -> tuple[str, ...] | None:
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else None


def cmd_score(args: argparse.Namespace) -> int:
    from neurotrio.sleep.score import format_agreement, score_recording

    res = score_recording(args.psg, args.model, args.out, reference=args.reference, channels=_channels(args.channels),
                          aliases=_aliases(args.channel), trim_wake_min=None if args.compare_all else args.trim_wake_min,
                          plot=not args.no_plot)
    counts = ", ".join(f"{s} {res.stage_names.count(s)}" for s in ("W", "N1", "N2", "N3", "REM"))
    print(f"staged {len(res.stages)} epochs of {Path(args.psg).name} in {res.seconds['stage']:.2f} s ({counts})")
    if res.metrics is not None:
        print(format_agreement(res.metrics) + f"\n(compared: {res.metrics['compared']})")
    if res.files:
        print(f"wrote {', '.join(p.name for p in res.files.values())} to {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from neurotrio.core.distributed import init_distributed, is_main
    from neurotrio.sleep.sleepedf import find_records, load_sleepedf, prepare_record
    from neurotrio.sleep.train import TrainConfig, cross_validate, run_within_recording

    init_distributed()  # a no-op unless launched by torchrun

    cfg = config_from_args(TrainConfig, args, protocol=args.protocol, subset=args.subset, epochs=args.epochs,
                           seed=args.seed, device=args.device)
    aliases = _aliases(args.channel)
    if cfg.protocol == "within-recording":
        records = find_records(args.data, "all")
        chosen = [r for r in records if args.record in (None, r.record)]
        if not chosen:
            raise ConfigError(f"record {args.record!r} not in {args.data}; found {', '.join(r.record for r in records)}")
        night = prepare_record(chosen[0], cfg.channels, cfg.model.sfreq_hz, cfg.trim_wake_min, args.cache, aliases)
        res = run_within_recording(night, cfg, args.out)
        if not is_main():
            return 0
        m = res["test"]
        print(f"within-recording ({night.record}, development only; not a Sleep-EDF-20/78 result): test on "
              f"{m['n']} later epochs: accuracy {m['accuracy']:.3f} macro-F1 {m['macro_f1']:.3f} kappa {m['kappa']:.3f}")
    else:
        nights = load_sleepedf(args.data, cfg.subset, cfg.channels, args.cache, progress=True,
                               sfreq_hz=cfg.model.sfreq_hz, trim_wake_min=cfg.trim_wake_min, aliases=aliases)
        res = cross_validate(nights, cfg, args.out, resume=args.resume)
        if not is_main():
            return 0
        p = res["pooled"]
        print(f"{cfg.subset}, {res['n_folds']}-fold subject-wise: pooled accuracy {p['accuracy']:.3f} "
              f"macro-F1 {p['macro_f1']:.3f} kappa {p['kappa']:.3f} over {p['n']} epochs")
    print(f"wrote results to {args.out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from neurotrio.sleep.export import export_onnx

    res = export_onnx(args.out, args.model, fused=not args.unfused)
    print(f"wrote {res.path} ({'fused' if res.fused else 'training-form'} graph, input (batch, {len(res.channels)}, "
          f"3000) for {', '.join(res.channels)}); onnxruntime matches torch within {res.max_abs_diff:.1e}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from neurotrio.sleep.fetch import fetch_sleepedf

    files = fetch_sleepedf(args.dest, args.subset, progress=not args.quiet)
    print(f"{len(files)} files of {args.subset} present and verified in {args.dest}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from neurotrio.sleep.demo import run_demo
    from neurotrio.sleep.score import format_agreement

    res = run_demo(args.out, args.model)
    print(f"demo: Sleep-EDF SC4001 excerpt (3.5 h, {len(res.stages)} epochs) staged in {res.seconds['stage']:.2f} s")
    print(format_agreement(res.metrics))
    print("The embedded weights were trained on the earlier part of this same night (one person): this is a "
          "demonstration, not a general sleep stager. Train your own with `neurotrio sleep train`.")
    if res.files:
        print(f"wrote {', '.join(p.name for p in res.files.values())} to {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    if args.model and Path(args.model).suffix.lower() == ".onnx":
        from neurotrio.sleep.onnx_model import onnx_summary as model_summary
    else:
        from neurotrio.sleep.model import model_summary

    print(model_summary(args.model))
    return 0


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the sleep sub-commands on ``parser`` (the ``neurotrio sleep`` parser)."""
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def channel_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--channel", action="append", default=[], metavar="NAME=LABEL",
                       help="read the model's channel NAME from the file's LABEL, e.g. --channel 'EEG Fpz-Cz=C4-M1' "
                            "(repeatable)")

    p = sub.add_parser("score", help="stage a night: EDF in, hypnogram CSV/EDF+/PNG out",
                       description="Stage every 30-s epoch of a PSG and write <name>.hypnogram.csv/.edf/.png.")
    p.add_argument("psg", help="EDF/EDF+/BDF recording")
    p.add_argument("--out", help="output folder (written atomically; nothing is written on error)")
    p.add_argument("--reference", help="expert hypnogram (EDF+ annotations) to compare with")
    p.add_argument("--model", help="model file: .safetensors (torch) or .onnx from `sleep export` (onnxruntime, "
                                   "no torch import: faster start); default: the embedded weights' ONNX twin")
    p.add_argument("--channels", help="comma-separated channel names replacing the model's (same count)")
    channel_args(p)
    p.add_argument("--trim-wake-min", type=float, default=30.0,
                   help="compare on the sleep period with this much wake around it (default 30, as Sleep-EDF)")
    p.add_argument("--compare-all", action="store_true", help="compare on every expert-scored epoch")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("train", help="train ULW-SleepNet (subject-wise k-fold or within-recording)",
                       description="Train and evaluate ULW-SleepNet on Sleep-EDF data in PhysioNet's layout.")
    p.add_argument("--data", required=True, help="Sleep-EDF folder (holding sleep-cassette/)")
    p.add_argument("--out", required=True, help="results folder")
    p.add_argument("--protocol", choices=("kfold", "within-recording"),
                   help="kfold: subject-wise cross-validation (default); within-recording: one night, development only")
    p.add_argument("--subset", choices=("sleep-edf-20", "sleep-edf-78", "all"), help="default sleep-edf-20")
    p.add_argument("--record", help="night for within-recording (default: the first found)")
    p.add_argument("--epochs", type=int, help="training epochs (default 50)")
    p.add_argument("--seed", type=int, help="random seed (default 32)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:1 ...")
    p.add_argument("--cache", help="cache folder for prepared epochs")
    p.add_argument("--resume", action="store_true", help="skip finished folds, resume the running one")
    channel_args(p)
    add_config_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="export a model to ONNX (checked in onnxruntime within 1e-5)",
                       description="Write an ONNX file (channels, normalization and config in its metadata, "
                                   "so `sleep score --model FILE.onnx` needs no torch) and check onnxruntime "
                                   "against torch within 1e-5.")
    p.add_argument("--out", required=True, help="output .onnx file")
    p.add_argument("--model", help="model file (default: the embedded weights)")
    p.add_argument("--unfused", action="store_true", help="export the training-form graph (slower)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("fetch", help="download Sleep-EDF-20/78 from PhysioNet (SHA1-checked, resumable)",
                       description="Download Sleep-EDF Expanded sleep-cassette files into PhysioNet's layout.")
    p.add_argument("--dest", required=True, help="dataset folder")
    p.add_argument("--subset", choices=("sleep-edf-20", "sleep-edf-78", "all"), default="sleep-edf-20")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("demo", help="score the embedded demo night and compare with the expert",
                       description="Score the embedded Sleep-EDF SC4001 excerpt and print agreement with the expert.")
    p.add_argument("--out", help="also write the hypnogram files here")
    p.add_argument("--model", help="model file, .safetensors or .onnx (default: the embedded weights' ONNX twin)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("info", help="describe a model: architecture, parameters, FLOPs, training data",
                       description="Print a model's architecture, parameter and FLOP counts, channels and origin.")
    p.add_argument("--model", help="model file, .safetensors or .onnx (default: the embedded weights)")
    p.set_defaults(func=cmd_info)
