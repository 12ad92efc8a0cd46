"""benchmarks/mer_gpu.py (the GPU-ready larger-encoder LOSO) runs end to end on a CPU with --tiny."""

from __future__ import annotations

import json

from benchmarks.mer_gpu import main

from tests.mer.synth_layouts import make_composite


def test_gpu_script_tiny_on_cpu(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    out = tmp_path / "run"
    assert main(["--tiny", "--composite", str(data), "--device", "cpu", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "projected" in text and "| variant | UF1 | UAR |" in text
    for v in ("P", "C", "GFE", "AFE", "ststnet"):
        assert f"| {v} |" in text
    assert json.loads((out / "results.json").read_text())["metrics"]["_run"]["folds"] == 2


def test_gpu_script_refuses_over_budget(tmp_path, capsys):
    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    assert main(["--tiny", "--composite", str(data), "--device", "cpu", "--budget-s", "0.001",
                 "--out", str(tmp_path / "r")]) == 3
    assert "refused" in capsys.readouterr().err
