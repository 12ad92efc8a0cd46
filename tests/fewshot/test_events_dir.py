"""`simulate-events` output used by training and evaluation (`data.events_dir`), and its alphabet/character choice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurotrio.cli import main
from neurotrio.core.errors import ConfigError, InputError
from neurotrio.fewshot.evaluate import DataConfig, load_splits
from neurotrio.fewshot.simulated_events import events_split_dir

from .test_datasets import omniglot_zip


@pytest.fixture
def omniglot(tmp_path):
    omniglot_zip(tmp_path / "images_background.zip", alphabets=("Alpha", "Beta", "Gamma"), chars=2, drawers=2)
    return tmp_path


def _simulate(root, out, *extra):
    return main(["fewshot", "simulate-events", "--source", str(root), "--out", str(out), "--set", "display_fps=30.0",
                 *extra])


def _simulated_classes(out):
    return sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in out.rglob("*.npz"))


def test_simulate_chooses_alphabets_and_characters(omniglot, capsys):
    assert _simulate(omniglot, omniglot / "ab", "--alphabets", "Beta,Gamma") == 0
    assert set(_simulated_classes(omniglot / "ab")) == {"Beta/character01", "Beta/character02",
                                                       "Gamma/character01", "Gamma/character02"}
    assert _simulate(omniglot, omniglot / "ch", "--characters", "Alpha/character02,Gamma/character01") == 0
    assert set(_simulated_classes(omniglot / "ch")) == {"Alpha/character02", "Gamma/character01"}
    assert _simulate(omniglot, omniglot / "lim", "--alphabets", "Gamma", "--limit", "1") == 0
    assert set(_simulated_classes(omniglot / "lim")) == {"Gamma/character01"}  # the first of the selection
    assert json.loads((omniglot / "lim" / "summary.json").read_text())["classes"] == 1
    capsys.readouterr()
    assert _simulate(omniglot, omniglot / "bad", "--alphabets", "Delta") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'Delta'" in err and "Alpha, Beta, Gamma" in err and err.count("\n") == 1
    assert not (omniglot / "bad").exists()


def test_training_reads_only_the_simulated_folder(omniglot, capsys):
    events = omniglot / "events"
    assert _simulate(omniglot, events / "background", "--alphabets", "Alpha,Beta") == 0
    capsys.readouterr()
    cfg = DataConfig(dataset="omniglot-dvs", root=str(omniglot), events_dir=str(events), val_fraction=0.25)
    splits = load_splits(cfg, need=("train", "val"))
    names = splits["train"].class_names
    used = {names[int(t)] for s in splits.values() for t in s.targets.unique()}
    assert used == {"Alpha/character01", "Alpha/character02", "Beta/character01", "Beta/character02"}  # no Gamma
    # the events come from the files: blank one drawing's file and its frames are blank
    from neurotrio.fewshot.events import EVENT_DTYPE, save_events_npz
    from neurotrio.fewshot.simulate import SimulatorConfig

    victim = events / "background" / "Alpha" / "character01" / "0001_01.npz"
    assert victim.is_file()
    save_events_npz(victim, np.zeros(0, EVENT_DTYPE), SimulatorConfig().sensor_hw)
    again = load_splits(cfg, need=("train", "val"))
    sums = sorted(float(x.sum()) for s in again.values() for x in s.images)
    assert sums[0] == 0.0 and sums[1] > 0  # exactly the blanked drawing is empty
    assert events_split_dir(events, "background") == events / "background"
    assert events_split_dir(events / "background", "background") == events / "background"


def test_events_dir_refusals(omniglot, capsys):
    with pytest.raises(InputError, match="no simulated 'evaluation' events"):
        events_split_dir(omniglot, "evaluation")
    with pytest.raises(ConfigError, match="omniglot-dvs"):
        load_splits(DataConfig(dataset="omniglot", root=str(omniglot), events_dir=str(omniglot)), need=("train",))
    out = omniglot / "run"
    assert main(["fewshot", "train", "--dataset", "omniglot-dvs", "--root", str(omniglot), "--set",
                 f"data.events_dir={omniglot / 'nowhere'}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "simulate-events" in err and err.count("\n") == 1 and not out.exists()


def test_simulate_refuses_a_non_empty_folder_and_records_its_selection(omniglot, capsys):
    # before: a second run into the same --out added its files to the first's, summary.json described only the
    # second, and training on the folder read both (`simulated_events.SimulatedOnly` takes every file there)
    out = omniglot / "dvs"
    assert _simulate(omniglot, out, "--alphabets", "Alpha", "--limit", "1") == 0
    selection = json.loads((out / "summary.json").read_text())["selection"]
    assert selection == {"source": str(omniglot.resolve()), "alphabets": ["Alpha"], "characters": [], "limit": 1,
                         "only_strokes": False}
    assert "config.yaml and summary.json" in capsys.readouterr().out
    assert _simulate(omniglot, out, "--alphabets", "Beta", "--limit", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: dvs: output folder is not empty") and err.count("\n") == 1
    assert set(_simulated_classes(out)) == {"Alpha/character01"}
