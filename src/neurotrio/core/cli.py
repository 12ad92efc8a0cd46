"""Helpers every system's CLI uses: shared options, config loading, and one-line errors."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from neurotrio.core.errors import NeurotrioError

T = TypeVar("T")


def add_config_args(parser: argparse.ArgumentParser, example: str | None = None) -> None:
    """Add ``--config FILE.yaml``, repeatable ``--set key.sub=value`` overrides and ``--threads N``.

    Args:
        example: a valid ``KEY=VALUE`` of the command's config, shown in the help (e.g. ``epochs=5``);
            several are joined by `` --set ``. Kept as ``parser.config_example`` so a test can parse each
            command's example against its config.
    """
    parser.add_argument("--config", metavar="YAML", help="a config file saved by an earlier run, or your own")
    parser.config_example = example  # type: ignore[attr-defined]
    hint = f", e.g. --set {example}" if example else ""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help=f"override one config field (the keys of the run's config.yaml, dots for nested fields){hint}; "
             "repeatable",
    )
    add_threads_arg(parser)


def add_threads_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (torch's CPU threads; applied by :func:`run_command`)."""
    parser.add_argument(
        "--threads", type=int, metavar="N",
        help="CPU threads for torch (0: one per core). Sleep training defaults to 1: with a core busy elsewhere, "
             "more threads can run many times slower (see docs/sleep.md); OMP_NUM_THREADS is respected",
    )


def config_from_args(cls: type[T], args: argparse.Namespace, base: T | None = None, **direct: Any) -> T:
    """Resolve a typed config: defaults (or ``base``) < --config file < ``direct`` CLI flags (non-None) < --set.

    ``base`` replaces the class defaults (e.g. the config a model was trained with); a ``--config``
    file replaces ``base``.
    """
    from neurotrio.core.config import apply_overrides, load_config

    flags = [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in direct.items() if v is not None]
    overrides = [*flags, *getattr(args, "overrides", [])]
    if base is not None and getattr(args, "config", None) is None:
        return apply_overrides(base, overrides)
    return load_config(cls, getattr(args, "config", None), overrides)


class _TritonUnavailable(logging.Filter):
    """Drop torch's "Triton not available" warning, logged once per spikingjelly kernel registration on a
    machine without Triton (every CPU-only torch): it says nothing a CPU user can act on. Only that exact
    message of that one logger is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Triton not available, find_triton_kernels")


_TRITON_FILTER = _TritonUnavailable()


def quiet_triton_warning() -> None:
    """Install :class:`_TritonUnavailable` on torch's ``torch._library.triton`` logger (idempotent)."""
    logger = logging.getLogger("torch._library.triton")
    if _TRITON_FILTER not in logger.filters:
        logger.addFilter(_TRITON_FILTER)


def system_main(system: str, add_commands: Callable[[argparse.ArgumentParser], None],
                argv: list[str] | None = None) -> int:
    """``neurotrio SYSTEM ...`` for one system alone (``python -m neurotrio.fewshot.cli train ...``).

    The top-level ``neurotrio.cli`` calls the systems; a system's ``main`` calls this instead of it.
    """
    parser = argparse.ArgumentParser(prog=f"neurotrio {system}")
    add_commands(parser)
    args = parser.parse_args(argv)
    return run_command(args.func, args)


def _close_progress_bars() -> None:
    """Close every open tqdm bar (a bar left by the failed step clears its line), so the error starts a line."""
    tqdm_mod = sys.modules.get("tqdm")
    if tqdm_mod is None:
        return
    for bar in list(getattr(tqdm_mod.tqdm, "_instances", ())):
        try:
            bar.close()
        except Exception:  # noqa: BLE001 - a bar that cannot close must not hide the error itself
            pass


def one_line(text: str) -> str:
    """``text`` on one line: its non-blank lines joined by "; " (a library's message can span several)."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def run_command(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a CLI command: project errors become ``error: ...`` on stderr and exit code 2.

    A ``--device`` the machine lacks is refused before the command starts (``core.seed.pick_device``).

    Unexpected exceptions print one line too (set NEUROTRIO_DEBUG=1 for the traceback) and exit 1.
    """
    logging.basicConfig(level=os.environ.get("NEUROTRIO_LOGLEVEL", "WARNING"), format="%(levelname)s %(message)s")
    quiet_triton_warning()
    try:
        device = getattr(args, "device", None)
        if isinstance(device, str) and device.strip() not in ("", "auto", "cpu"):  # before any data is read
            from neurotrio.core.seed import pick_device

            pick_device(device)
        if getattr(args, "threads", None) is not None:  # an explicit --threads, for every command that has it
            from neurotrio.core.threads import set_threads

            set_threads(args.threads)
        code = int(func(args) or 0)
        if code == 0 and "torch" in sys.modules:  # no torch loaded: no process group to tear down
            from neurotrio.core.distributed import finish_distributed

            finish_distributed()
        return code
    except NeurotrioError as exc:
        _close_progress_bars()
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `neurotrio ... | head`: the reader left; stop quietly, as `cat` does
        # Python's documented recipe (signal docs, "Note on SIGPIPE"): point stdout at devnull so the
        # interpreter's final flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by a closed pipe
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a bare traceback
        _close_progress_bars()
        if os.environ.get("NEUROTRIO_DEBUG"):
            traceback.print_exc()
        print(f"error: internal error ({type(exc).__name__}: {exc}); rerun with NEUROTRIO_DEBUG=1 "
              "for the traceback and report it", file=sys.stderr)
        return 1
