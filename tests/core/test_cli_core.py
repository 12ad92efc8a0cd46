"""Shared CLI pieces in core: device refusal, each command's --set example, the Triton warning, import direction."""

from __future__ import annotations

import ast
import importlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from neurotrio.cli import build_parser, main
from neurotrio.core.config import load_config
from neurotrio.core.errors import ConfigError

SRC = Path(__file__).resolve().parents[2] / "src" / "neurotrio"

# Every command with --set, and the config class its --set keys belong to (a new command must be added here).
CONFIGS = {
    ("sleep", "train"): "neurotrio.sleep.train:TrainConfig",
    ("mer", "prepare"): "neurotrio.microexpression.preprocess:PrepareConfig",
    ("mer", "train"): "neurotrio.microexpression.train:LosoConfig",
    ("fewshot", "train"): "neurotrio.fewshot.train:TrainConfig",
    ("fewshot", "eval"): "neurotrio.fewshot.train:TrainConfig",
    ("fewshot", "energy"): "neurotrio.fewshot.train:TrainConfig",
    ("fewshot", "simulate-events"): "neurotrio.fewshot.simulate:SimulatorConfig",
}


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _commands_with_set():
    found = {}
    for system, sp in _subparsers(build_parser()):
        for command, cp in _subparsers(sp):
            if any("--set" in a.option_strings for a in cp._actions):
                found[(system, command)] = cp
    return found


def test_every_commands_help_example_is_a_valid_key_of_its_own_config():
    found = _commands_with_set()
    assert set(found) == set(CONFIGS)  # a command without a known config class fails here
    for key, parser in found.items():
        example = getattr(parser, "config_example", None)
        assert example, f"{key}: no --set example in its help"
        assert f"--set {example}" in " ".join(parser.format_help().split()), key
        module, name = CONFIGS[key].split(":")
        cls = getattr(importlib.import_module(module), name)
        load_config(cls, None, example.split(" --set "))  # raises ConfigError for an unknown key


def test_old_generic_example_is_not_a_key_so_the_check_can_fail():
    from neurotrio.fewshot.train import TrainConfig

    with pytest.raises(ConfigError, match="unknown config key 'train'"):
        load_config(TrainConfig, None, ["train.epochs=5"])


def test_pick_device_refuses_what_the_machine_lacks():
    import torch

    from neurotrio.core.seed import pick_device

    assert pick_device("cpu").type == "cpu" and pick_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="not a torch device"):
        pick_device("gpu0")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ConfigError, match="CUDA"):
        pick_device(f"cuda:{n}")
    if n == 0:
        with pytest.raises(ConfigError, match="no CUDA device"):
            pick_device("cuda")


@pytest.mark.parametrize("argv", [
    ["sleep", "train", "--data", "nowhere", "--out", "OUT"],
    ["mer", "train", "--dataset", "casme2", "--data", "nowhere", "--out", "OUT"],
    ["fewshot", "train", "--dataset", "synthetic", "--out", "OUT"],
    ["fewshot", "eval", "--weights", "nowhere.safetensors", "--out", "OUT"],
])
def test_device_cuda_without_cuda_is_one_line_exit_2_in_every_system(argv, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main([*argv, "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: device 'cuda': no CUDA device") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_triton_filter_drops_only_that_message():
    from neurotrio.core.cli import quiet_triton_warning

    quiet_triton_warning()
    quiet_triton_warning()  # idempotent
    logger = logging.getLogger("torch._library.triton")
    assert sum(type(f).__name__ == "_TritonUnavailable" for f in logger.filters) == 1

    def record(msg):
        return logging.LogRecord(logger.name, logging.WARNING, __file__, 1, msg, (), None)

    assert not logger.filter(record("Triton not available, find_triton_kernels = []"))
    assert logger.filter(record("Triton kernel failed"))


def test_run_command_silences_the_triton_warning_of_spikingjelly_import():
    code = ("import sys\nfrom neurotrio.core.cli import run_command\n"
            "sys.exit(run_command(lambda a: __import__('spikingjelly.activation_based.neuron') and 0, "
            "__import__('argparse').Namespace()))\n")
    bare = "import spikingjelly.activation_based.neuron\nfrom spikingjelly._ops import lif\n"
    control = subprocess.run([sys.executable, "-c", bare], capture_output=True, text=True)
    if "Triton not available" not in control.stderr:
        pytest.skip("this torch does not log the Triton warning (Triton installed)")
    quiet = subprocess.run([sys.executable, "-c", code.replace("activation_based.neuron')", "_ops.lif')")],
                           capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    assert "Triton not available" not in quiet.stderr


def test_systems_and_core_never_import_the_top_level_cli():
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] not in ("core", "sleep", "microexpression", "fewshot"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            assert "neurotrio.cli" not in names, f"{rel} imports the top-level neurotrio.cli"


def test_fewshot_main_runs_alone(capsys):
    from neurotrio.fewshot.cli import main as fewshot_main

    assert fewshot_main(["energy", "--dataset", "synthetic"]) == 2  # refused before any work
    assert "--weights" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        fewshot_main(["train", "--help"])
    assert exc.value.code == 0 and "usage: neurotrio fewshot train" in capsys.readouterr().out


def test_malformed_override_names_no_invalid_example_key():
    from neurotrio.fewshot.train import TrainConfig

    with pytest.raises(ConfigError) as exc:
        load_config(TrainConfig, None, ["pretrain.epochs"])
    assert "train.epochs=5" not in str(exc.value) and "KEY=VALUE" in str(exc.value)


def _imports_of(path: Path) -> set[str]:
    """``neurotrio.*`` modules a file imports anywhere in it (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("neurotrio.")}


def test_no_two_modules_import_each_other():
    modules = {".".join(("neurotrio", *p.relative_to(SRC).with_suffix("").parts)): p for p in SRC.rglob("*.py")
               if p.name != "__init__.py"}
    graph = {m: _imports_of(p) & set(modules) for m, p in modules.items()}
    pairs = sorted((a, b) for a in graph for b in graph[a] if a < b and a in graph.get(b, set()))
    assert not pairs, f"modules importing each other: {pairs}"


def _fails_mid_bar(_args):
    from tqdm import tqdm

    from neurotrio.core.errors import InputError

    bar = tqdm(total=10, desc="read data", leave=False, mininterval=0)  # held by the failing frame
    for i in range(10):
        if i == 3:
            raise InputError("item3.png", "not an image")
        bar.update()


def test_error_line_starts_a_line_after_a_progress_bar(capsys):
    import argparse

    from neurotrio.core.cli import run_command

    assert run_command(_fails_mid_bar, argparse.Namespace()) == 2
    err = capsys.readouterr().err
    assert "read data" in err  # the bar was drawn
    assert [line for line in err.splitlines() if line.startswith("error:")] == ["error: item3.png: not an image"]
