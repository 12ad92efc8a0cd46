"""A command whose reader closes the pipe (`neurotrio ... | head -1`) stops quietly, not as an internal error."""

from __future__ import annotations

import subprocess
import sys


def test_closed_pipe_is_not_an_internal_error():
    # `sleep --help`-free path: `neurotrio --version` prints one line; feed it into a reader that has
    # already closed its end by running a command that prints a lot through run_command.
    code = ("import sys, argparse\n"
            "from neurotrio.core.cli import run_command\n"
            "def spam(_):\n"
            "    for i in range(200000):\n"
            "        print('line', i)\n"
            "sys.exit(run_command(spam, argparse.Namespace()))\n")
    proc = subprocess.run(f"{sys.executable} -c \"{code}\" | head -1", shell=True, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout == "line 0\n"
    assert "internal error" not in proc.stderr
    assert "Traceback" not in proc.stderr
