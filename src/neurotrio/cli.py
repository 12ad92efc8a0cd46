"""`neurotrio <system> <command>`: a thin dispatcher over each system's CLI module.

Each system module exposes ``add_commands(parser)``; it registers sub-commands whose ``func(args) -> int``
calls one library function. Heavy libraries are imported inside those functions so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from neurotrio import __version__
from neurotrio.core.cli import run_command

SYSTEMS = {
    "sleep": ("neurotrio.sleep.cli", "ULW-SleepNet sleep staging from PSG/EDF"),
    "mer": ("neurotrio.microexpression.cli", "MPFNet micro-expression recognition from face video"),
    "fewshot": ("neurotrio.fewshot.cli", "FSL-SNN spiking few-shot learning on events and images"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurotrio",
        description="Sleep staging (ULW-SleepNet), micro-expression recognition (MPFNet) and spiking "
                    "few-shot learning (FSL-SNN). Run `neurotrio SYSTEM --help` for its commands.",
    )
    parser.add_argument("--version", action="version", version=f"neurotrio {__version__}")
    systems = parser.add_subparsers(dest="system", metavar="SYSTEM", required=True)
    for name, (module, help_text) in SYSTEMS.items():
        sub = systems.add_parser(name, help=help_text, description=help_text)
        try:
            importlib.import_module(module).add_commands(sub)
        except ModuleNotFoundError as exc:  # a system not built yet or missing its optional package
            sub.set_defaults(func=lambda _args, exc=exc: _missing(exc))
    return parser


def _missing(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not hasattr(args, "func"):
        build_parser().parse_args([*(argv or sys.argv[1:]), "--help"])
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
