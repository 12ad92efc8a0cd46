"""`neurotrio mer {prepare, train, predict, info}` end to end on synthetic data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from neurotrio.cli import main
from tests.mer.synth_layouts import make_composite

TINY = ["--set", "model.backbone.stem_channels=8", "--set", "model.backbone.blocks=[16]",
        "--set", "model.backbone.pool_after=[]", "--set", "model.gfe.steps=1", "--set", "model.afe.steps=1",
        "--set", "model.meta.episodes=2", "--set", "model.baseline.steps=2"]


def test_help_lists_commands_and_is_fast():
    out = subprocess.run([sys.executable, "-m", "neurotrio.cli", "mer", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    for cmd in ("prepare", "train", "predict", "info"):
        assert cmd in out.stdout
    probe = "import sys, neurotrio.microexpression.cli; print('torch' in sys.modules, 'cv2' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.split() == \
        ["False", "False"]


def test_info_train_loso_final_and_predict(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    assert main(["mer", "info", "--dataset", "composite", "--data", str(data)]) == 0
    assert "18 samples, 3 subjects" in capsys.readouterr().out

    out = tmp_path / "loso"
    assert main(["mer", "train", "--variant", "P,ststnet", "--dataset", "composite", "--data", str(data),
                 "--protocol", "loso", "--folds", "1", "--out", str(out), "--quiet", *TINY]) == 0
    text = capsys.readouterr().out
    assert "LOSO composite: 1 folds, 6 test samples" in text and "ststnet" in text
    import yaml

    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"]["backbone"]["blocks"] == [16] and saved["variants"] == ["P", "ststnet"]

    model = tmp_path / "model"
    assert main(["mer", "train", "--variant", "P", "--dataset", "composite", "--data", str(data),
                 "--protocol", "all", "--out", str(model), *TINY]) == 0
    capsys.readouterr()
    png = sorted((data / "flow_uvos_28").glob("*.png"))[0]
    assert main(["mer", "predict", str(model), str(png)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    probs = {ln.split()[0]: float(ln.split()[1]) for ln in lines[:3]}
    assert set(probs) == {"negative", "positive", "surprise"} and sum(probs.values()) == pytest.approx(1.0, abs=2e-3)
    assert lines[-1].startswith("prediction: ")
    assert main(["mer", "info", "--model", str(model)]) == 0
    assert "MPFNet variant P" in capsys.readouterr().out


def test_prepare_flow_png_to_npy(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=1, per_subject=3)
    png = sorted((data / "flow_uvos_28").glob("*.png"))[0]
    out = tmp_path / "x.npy"
    assert main(["mer", "prepare", str(png), "--out", str(out)]) == 0
    assert np.load(out).shape == (3, 1, 28, 28)
