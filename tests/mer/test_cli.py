"""`neurotrio mer {prepare, train, predict, info}` end to end on synthetic data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from neurotrio.cli import main
from tests.mer.synth_layouts import make_composite

TINY = ["--set", "model.backbone.stem_channels=8", "--set", "model.backbone.blocks=[16]",
        "--set", "model.backbone.pool_after=[]", "--set", "model.gfe.epochs=1", "--set", "model.afe.epochs=1",
        "--set", "model.meta.episodes=2", "--set", "model.baseline.epochs=2"]


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
    p_line = next(line for line in text.splitlines() if line.strip().startswith("P "))
    assert "vs baseline UF1" in p_line                  # the difference to the baseline, with its interval
    assert "vs baseline" not in next(line for line in text.splitlines() if line.strip().startswith("ststnet"))
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
    import json

    losses = json.loads((model / "losses.json").read_text())          # --protocol all saves its losses
    assert len(losses["gfe"]) == 1 and len(losses["afe"]) == 1 and len(losses["meta"]) == 2

    # many samples at once, written as CSV and JSON with class names and probabilities
    pngs = sorted((data / "flow_uvos_28").glob("*.png"))[:4]
    assert main(["mer", "predict", str(model), *map(str, pngs), "--out", str(tmp_path / "p.csv")]) == 0
    assert "4 predictions written" in capsys.readouterr().out
    import csv

    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [r["sample"] for r in rows] == [str(p) for p in pngs]
    assert {r["prediction"] for r in rows} <= {"negative", "positive", "surprise"}
    assert all(sum(float(r[f"p_{c}"]) for c in ("negative", "positive", "surprise")) == pytest.approx(1, abs=1e-4)
               for r in rows)
    assert main(["mer", "predict", str(model), *map(str, pngs), "--out", str(tmp_path / "p.json")]) == 0
    js = json.loads((tmp_path / "p.json").read_text())
    assert [r["prediction"] for r in js] == [r["prediction"] for r in rows]
    assert main(["mer", "predict", str(model), str(pngs[0]), "--out", str(tmp_path / "p.txt")]) == 2
    assert not (tmp_path / "p.txt").exists()


def test_train_all_prints_progress(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=2, per_subject=6)
    assert main(["mer", "train", "--variant", "C", "--dataset", "composite", "--data", str(data),
                 "--protocol", "all", "--out", str(tmp_path / "m"), *TINY]) == 0
    err = capsys.readouterr().err
    assert "stages 1–2" in err and "stage 3 done" in err and "model folder written" in err


def test_prepare_says_which_path_and_warns_on_an_interpolated_folder(tmp_path, caplog):
    import logging

    from neurotrio.microexpression.predict import input_path

    seq = tmp_path / "seq"
    seq.mkdir()
    for i in range(11):
        (seq / f"frame_{i}.png").write_bytes(b"")
    assert "already magnified and interpolated sequence of 11 frames, taken as it is" in input_path(seq)
    with caplog.at_level(logging.WARNING):
        said = input_path(seq, 0, 5)
    assert said.startswith("raw frames (onset 0, apex 5): face crop")
    assert "looks like an already interpolated sequence" in caplog.text and "omit them" in caplog.text


def test_prepare_flow_png_to_npy(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=1, per_subject=3)
    png = sorted((data / "flow_uvos_28").glob("*.png"))[0]
    out = tmp_path / "x.npy"
    assert main(["mer", "prepare", str(png), "--out", str(out)]) == 0
    assert np.load(out).shape == (3, 1, 28, 28)
