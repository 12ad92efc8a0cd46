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


def _score_options(args: argparse.Namespace) -> dict:
    return {"model": args.model, "channels": _channels(args.channels), "aliases": _aliases(args.channel),
            "trim_wake_min": None if args.compare_all else args.trim_wake_min, "plot": not args.no_plot,
            "lights_off": args.lights_off, "lights_on": args.lights_on,
            "reference_epoch_s": args.reference_epoch_s, "reference_codes": args.reference_codes}


def _is_many(psg: list[str]) -> bool:
    import glob

    return len(psg) > 1 or Path(psg[0]).is_dir() or (not Path(psg[0]).exists() and glob.has_magic(psg[0]))


def cmd_score(args: argparse.Namespace) -> int:
    if _is_many(args.psg):
        return _score_many(args)
    from neurotrio.sleep.outputs import format_result
    from neurotrio.sleep.score import score_recording

    reference = args.reference
    if args.reference_pattern and not reference:  # one night: its hypnogram by the same pattern
        from neurotrio.sleep.nights import pair_reference

        reference = pair_reference(args.psg[0], args.reference_pattern)
    elif args.reference_pattern:
        raise ConfigError("give --reference or --reference-pattern, not both")
    res = score_recording(args.psg[0], out_dir=args.out, reference=reference, **_score_options(args))
    print(format_result(res, args.psg[0]))
    if res.files:
        print(f"wrote {', '.join(p.name for p in res.files.values())} to {args.out}")
    else:
        print("nothing written (no --out): add --out FOLDER to write the hypnogram CSV/EDF+/PNG, "
              "statistics CSV and JSON summary")
    return 0


def _score_many(args: argparse.Namespace) -> int:
    from neurotrio.sleep.nights import SUMMARY, score_nights

    if args.reference:
        raise ConfigError("--reference names one night's hypnogram; for many nights pair them by name with "
                          "--reference-pattern (e.g. '{stem}-Hypnogram.edf', or sleep-edf)")

    def show(row: dict) -> None:
        what = (f"error: {row['error']}" if row["status"] != "ok" else
                f"{row['n_epochs']} epochs" + (f", kappa {row['kappa']:.3f} on {row['n_compared']}"
                                               if row.get("kappa") != "" else ""))
        tqdm_write(f"{row['night']}: {what}" + (f" ({row['note']})" if row.get("note") else ""))

    from tqdm.auto import tqdm

    tqdm_write = tqdm.write
    res = score_nights(args.psg, args.out, args.reference_pattern, progress=not args.quiet, on_night=show,
                       **_score_options(args))
    print(f"scored {len(res.rows) - res.n_failed} of {len(res.rows)} nights"
          + (f"; {res.n_failed} failed (see the error column)" if res.n_failed else ""))
    unpaired = [r["night"] for r in res.rows if r.get("note", "").startswith("no hypnogram")]
    if unpaired:
        print(f"note: {len(unpaired)} of {len(res.rows)} nights had no hypnogram matching --reference-pattern "
              f"{args.reference_pattern!r} and were scored without a comparison: {', '.join(unpaired[:5])}"
              + (", ..." if len(unpaired) > 5 else ""))
    if res.summary is not None:
        print(f"wrote {SUMMARY} and each night's outputs to {args.out}")
    else:
        print("nothing written (no --out): add --out FOLDER for each night's outputs and the summary CSV")
    return 2 if res.n_failed else 0


def cmd_train(args: argparse.Namespace) -> int:
    from neurotrio.core.distributed import init_distributed, is_main
    from neurotrio.core.threads import set_threads
    from neurotrio.sleep.sleepedf import find_records, load_sleepedf, prepare_record
    from neurotrio.sleep.train import TrainConfig, cross_validate, run_within_recording

    init_distributed()  # a no-op unless launched by torchrun
    set_threads(args.threads)  # default 1 (safe on a shared machine; see core.threads), else --threads N

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
        for warning in res["warnings"]:
            print(f"warning: {warning}")
    else:
        nights = load_sleepedf(args.data, cfg.subset, cfg.channels, args.cache, progress=True,
                               sfreq_hz=cfg.model.sfreq_hz, trim_wake_min=cfg.trim_wake_min, aliases=aliases)
        res = cross_validate(nights, cfg, args.out, resume=args.resume)
        if not is_main():
            return 0
        p = res["pooled"]
        print(f"{cfg.subset}, {res['n_folds']}-fold subject-wise: pooled accuracy {p['accuracy']:.3f} "
              f"macro-F1 {p['macro_f1']:.3f} kappa {p['kappa']:.3f} over {p['n']} epochs")
        for warning in res["warnings"]:
            print(f"warning: {warning}")
    print(f"wrote results to {args.out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from neurotrio.sleep.export import export_onnx

    res = export_onnx(args.out, args.model, fused=not args.unfused)
    print(f"wrote {res.path} ({'fused' if res.fused else 'training-form'} graph, input (batch, {len(res.channels)}, "
          f"3000) for {', '.join(res.channels)}); onnxruntime matches torch within {res.max_abs_diff:.1e}")
    return 0


def _numbers(text: str) -> set[int]:
    """'0-4,7' -> {0, 1, 2, 3, 4, 7}."""
    out: set[int] = set()
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            out.update(range(int(lo), int(hi) + 1) if sep else [int(lo)])
        except ValueError:
            raise ConfigError(f"--subjects takes numbers and ranges such as 0-4,7; got {text!r}") from None
    return out


def cmd_fetch(args: argparse.Namespace) -> int:
    from neurotrio.sleep.fetch import fetch_sleepedf
    from neurotrio.sleep.sleepedf import sleep_cassette_table, subset_records

    records = None
    if args.subjects or args.records:
        wanted = subset_records(args.subset)
        table = [r for r in sleep_cassette_table() if wanted is None or r.record in wanted]
        subjects = _numbers(args.subjects) if args.subjects else None
        names = {n.strip().upper() for n in args.records.split(",")} if args.records else None
        records = [r for r in table if (subjects is None or r.subject in subjects)
                   and (names is None or r.record in names)]
        if not records:
            have = sorted({r.subject for r in table})
            raise ConfigError(f"no night of {args.subset} matches --subjects {args.subjects or '-'} --records "
                              f"{args.records or '-'} ({args.subset} holds subjects {have[0]}-{have[-1]}"
                              f"{' with gaps' if len(have) != have[-1] - have[0] + 1 else ''}, records such as "
                              f"{table[0].record}" + ("; more with --subset sleep-edf-78)" if args.subset ==
                                                      "sleep-edf-20" else ")"))
    files = fetch_sleepedf(args.dest, args.subset, progress=not args.quiet, records=records)
    print(f"{len(files)} files ({len(files) // 2} nights) of {args.subset} present and verified in {args.dest}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from neurotrio.sleep.demo import run_demo
    from neurotrio.sleep.score import format_agreement

    res = run_demo(args.out, args.model)
    print(f"demo: Sleep-EDF SC4001 excerpt (3.5 h, {len(res.stages)} epochs) staged in {res.seconds['stage']:.2f} s "
          f"by {res.model}")
    print(format_agreement(res.metrics))
    print("The embedded weights were trained on the earlier part of this same night (one person): this is a "
          "demonstration, not a general sleep stager. Train your own with `neurotrio sleep train`.")
    if res.files:
        print(f"wrote {', '.join(p.name for p in res.files.values())} to {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from neurotrio.sleep.embedded import model_file

    args.model = model_file(args.model)  # an embedded model's name: psg, eeg-eog, eeg
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

    p = sub.add_parser(
        "score", help="stage nights: EDF in, hypnogram CSV/EDF+/PNG, statistics and agreement out",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Stage every 30-s epoch of a PSG (or of every night in a folder / glob) on the recording's "
                    "clock; print and write the hypnogram, sleep statistics and, with an expert hypnogram, the "
                    "agreement.",
        epilog="outputs in --out, per night: <stem>.hypnogram.csv (epoch, onset_s, clock_time, stage, p_*), "
               "<stem>.hypnogram.edf (EDF+ annotations), <stem>.hypnogram.png, <stem>.stats.csv, "
               "<stem>.score.json; many nights add summary.csv (one row per night). A rerun replaces a night's "
               "outputs as a whole. Without --out nothing is written.\n"
               "examples:\n"
               "  neurotrio sleep score night.edf --reference night-hyp.csv --out results\n"
               "  neurotrio sleep score night.edf --lights-off 22:45 --lights-on 06:30 --out results\n"
               "  neurotrio sleep score sleep-cassette/ --reference-pattern sleep-edf --out results")
    p.add_argument("psg", nargs="+", help="EDF/EDF+/EDF+D/BDF recording; or a folder, a glob or several files "
                                          "(many nights)")
    p.add_argument("--out", help="output folder (written atomically; nothing is written on error)")
    p.add_argument("--reference", help="expert hypnogram to compare with: EDF+ annotations, MNE annotation CSV/TXT, "
                                       "per-epoch stage list (text/CSV, names or R&K/AASM codes), NSRR XML "
                                       "(see docs/sleep.md)")
    p.add_argument("--reference-epoch-s", type=float,
                   help="epoch length of a per-epoch stage list that does not state it (e.g. 20)")
    p.add_argument("--reference-codes", choices=("rk", "aasm"),
                   help="code system of a numeric stage list: rk (0 W, 1-4, 5 REM, 6 movement, 9 unscored) or "
                        "aasm (0 W, 1 N1, 2 N2, 3 N3, 4 REM, as YASA); needed when the codes do not tell")
    p.add_argument("--reference-pattern", metavar="PATTERN",
                   help="each PSG's hypnogram by name, {stem} = PSG name without extension, globs allowed, e.g. "
                        "'{stem}-Hypnogram.edf'; 'sleep-edf' pairs SCxxxxE0-PSG.edf with SCxxxxE?-Hypnogram.edf; "
                        "many nights: a night without a match is scored without a comparison")
    p.add_argument("--model", help="model file: .safetensors (torch) or .onnx from `sleep export` (onnxruntime, "
                                   "no torch import), or an embedded model by name: psg, eeg-eog, eeg; default: "
                                   "the embedded model matching the channels present (psg: EEG Fpz-Cz, EEG Pz-Oz, "
                                   "EOG horizontal, EMG submental; else eeg-eog: EEG Fpz-Cz + EOG horizontal; "
                                   "else eeg: EEG Fpz-Cz)")
    p.add_argument("--channels", help="comma-separated channel names replacing the model's (same count)")
    channel_args(p)
    p.add_argument("--lights-off", metavar="TIME", help="start of the analysed period: clock time (22:45, "
                   "22:45:30) or seconds from the recording start; epochs before it are staged and written but "
                   "left out of the statistics and the comparison")
    p.add_argument("--lights-on", metavar="TIME", help="end of the analysed period (clock time or seconds)")
    p.add_argument("--trim-wake-min", type=float, default=30.0,
                   help="compare on the sleep period with this much wake around it (default 30, as Sleep-EDF)")
    p.add_argument("--compare-all", action="store_true", help="compare on every expert-scored epoch")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("--quiet", action="store_true", help="many nights: no progress bar")
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
    add_config_args(p, example="epochs=5 --set batch_size=64")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="export a model to ONNX (checked in onnxruntime within 1e-5)",
                       description="Write an ONNX file (channels, normalization and config in its metadata, "
                                   "so `sleep score --model FILE.onnx` needs no torch) and check onnxruntime "
                                   "against torch within 1e-5.")
    p.add_argument("--out", required=True, help="output .onnx file")
    p.add_argument("--model", help="model file (default: the embedded weights)")
    p.add_argument("--unfused", action="store_true", help="export the training-form graph (slower)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "fetch", help="download Sleep-EDF-20/78 from PhysioNet (SHA1-checked, resumable)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Download Sleep-EDF Expanded sleep-cassette files into PhysioNet's layout "
                    "(DEST/sleep-cassette/SCxxxxE0-PSG.edf + SCxxxxEx-Hypnogram.edf). Files already present with "
                    "the right SHA1 are skipped; an interrupted download resumes.",
        epilog="download sizes (estimated from SC4001E0-PSG.edf, 48.3 MB for its 22 h; hypnograms are a few kB):\n"
               "  one night          about 50 MB\n"
               "  sleep-edf-20       39 nights, 20 subjects (0-19): about 1.9 GB\n"
               "  sleep-edf-78, all  153 nights, 78 subjects (0-82 with gaps): about 7.4 GB\n"
               "examples:\n"
               "  neurotrio sleep fetch --dest data/sleep-edf --records SC4001          # one night, ~50 MB\n"
               "  neurotrio sleep fetch --dest data/sleep-edf --subjects 0-4            # 10 nights, ~0.5 GB\n"
               "  neurotrio sleep fetch --dest data/sleep-edf --subset sleep-edf-78 --subjects 20-29\n"
               "Data: Sleep-EDF Expanded (Kemp et al. 2000, PhysioNet), ODC-By 1.0.")
    p.add_argument("--dest", required=True, help="dataset folder")
    p.add_argument("--subset", choices=("sleep-edf-20", "sleep-edf-78", "all"), default="sleep-edf-20")
    p.add_argument("--subjects", metavar="LIST", help="only these subject numbers of the subset, e.g. 0-4,7")
    p.add_argument("--records", metavar="LIST", help="only these nights, e.g. SC4001,SC4002")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("demo", help="score the embedded demo night and compare with the expert",
                       description="Score the embedded Sleep-EDF SC4001 excerpt and print agreement with the expert.")
    p.add_argument("--out", help="also write the hypnogram files here")
    p.add_argument("--model", help="model file, .safetensors or .onnx, or an embedded model by name: psg "
                                   "(default), eeg-eog, eeg")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("info", help="describe a model: architecture, parameters, FLOPs, training data",
                       description="Print a model's architecture, parameter and FLOP counts, channels and origin.")
    p.add_argument("--model", help="model file, .safetensors or .onnx (default: the embedded weights)")
    p.set_defaults(func=cmd_info)
