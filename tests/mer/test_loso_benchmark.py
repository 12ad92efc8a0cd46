"""The ``mer-loso`` BENCHMARKS section: means over seeds and each model's difference to the baseline."""

from __future__ import annotations

import argparse

import pytest
from benchmarks.mer_loso import section

from neurotrio.microexpression.train import LosoConfig, run_loso
from tests.mer.synth_layouts import make_composite
from tests.mer.test_train import TINY, _one_thread  # noqa: F401  (autouse: one thread)


def test_section_reports_the_mean_over_seeds_and_the_bootstrap_difference(tmp_path):
    data = make_composite(tmp_path / "data", n_subjects=4, per_subject=6)
    runs = []
    for seed in (0, 1):
        cfg = LosoConfig(data=str(data), variants=("P", "ststnet"), max_folds=2, seed=seed, model=TINY)
        runs.append(run_loso(cfg, tmp_path / f"seed{seed}", progress=False, figures=False))
        runs[-1]["_run"]["seed"] = seed
    vs = runs[0]["P"]["vs_baseline"]["uf1"]
    assert vs["lo"] <= vs["diff"] <= vs["hi"]
    assert vs["diff"] == pytest.approx(runs[0]["P"]["pooled"]["uf1"] - runs[0]["ststnet"]["pooled"]["uf1"])
    assert "vs_baseline" not in runs[0]["ststnet"]
    text = section(runs, ("P", "ststnet"), argparse.Namespace(cai3d=False, max_folds=0))
    mean = (runs[0]["P"]["pooled"]["uf1"] + runs[1]["P"]["pooled"]["uf1"]) / 2
    row = next(line for line in text.splitlines() if line.startswith("| MPFNet-P (ours)"))
    assert f"{mean:.3f}" in row
    assert " · ".join(f"{r['P']['pooled']['uf1']:.3f}" for r in runs) in row
    assert f"{vs['diff']:+.3f} [{vs['lo']:+.3f}, {vs['hi']:+.3f}]" in row
    assert "--seeds 0,1" in text and "seeds 0, 1" in text

