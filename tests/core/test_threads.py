"""core.threads and the shared --threads option.

What would break: `--threads N` parsed but never applied; a negative count accepted; the default for
training silently becoming torch's (one thread per core, which collapses on a shared machine); the
allocator setting not switchable off.
"""

from __future__ import annotations

import argparse
import sys

import pytest
import torch

from neurotrio.core import threads
from neurotrio.core.cli import add_config_args, run_command


def test_threads_option_is_applied_by_run_command() -> None:
    parser = argparse.ArgumentParser()
    add_config_args(parser, example="epochs=5")
    seen = []
    before = torch.get_num_threads()
    try:
        code = run_command(lambda a: seen.append(torch.get_num_threads()), parser.parse_args(["--threads", "1"]))
        assert code == 0 and seen == [1]
        assert run_command(lambda a: 0, parser.parse_args(["--threads", "-2"])) == 2  # one-line error, exit 2
    finally:
        torch.set_num_threads(before)
    assert "e.g. --set epochs=5" in " ".join(parser.format_help().split())


def test_default_is_one_thread_unless_the_environment_says(monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.resolve_threads(None) == threads.DEFAULT_TRAIN_THREADS == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.resolve_threads(None) == 2
    assert threads.resolve_threads(3) == 3  # an explicit --threads wins


def test_keep_freed_memory_can_be_switched_off(monkeypatch) -> None:
    monkeypatch.setattr(threads, "_allocator_tuned", False)
    monkeypatch.setenv("NEUROTRIO_KEEP_FREED_MEMORY", "0")
    assert threads.keep_freed_memory() is False
    monkeypatch.delenv("NEUROTRIO_KEEP_FREED_MEMORY")
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt only exists on Linux")
    first = threads.keep_freed_memory()
    assert threads.keep_freed_memory() is first  # idempotent
