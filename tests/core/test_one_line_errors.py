"""Errors stay on one line: a YAML config's parse error, and any multi-line library message in the CLI."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from neurotrio.core.cli import run_command
from neurotrio.core.config import load_config
from neurotrio.core.errors import InputError


@dataclass(frozen=True)
class Cfg:
    a: int = 1


def test_bad_yaml_config_is_one_line_with_its_position(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")  # PyYAML's message spans 7 lines with the text and a caret
    with pytest.raises(InputError) as exc:
        load_config(Cfg, bad)
    assert "\n" not in str(exc.value)
    assert str(exc.value).startswith("bad.yaml: not valid YAML at line 2, column 1: expected ',' or ']'")
    with pytest.raises(InputError, match="missing.yaml: cannot read config: No such file"):
        load_config(Cfg, tmp_path / "missing.yaml")


def test_cli_prints_a_multi_line_error_on_one_line(capsys):
    def fails(args):
        raise InputError("x.csv", "first line\n  second line\n\n")

    assert run_command(fails, argparse.Namespace()) == 2
    assert capsys.readouterr().err == "error: x.csv: first line; second line\n"
