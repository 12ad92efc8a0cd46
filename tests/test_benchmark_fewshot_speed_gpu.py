"""The FSL-SNN speed benchmark and the GPU script: LIF forms equal today's op, interleaved ratios, the budget
plan worked out by hand, the budget guard, and the whole GPU path on a CPU with ``--tiny``."""

from __future__ import annotations

import json
import time

import pytest
import torch
from benchmarks.fewshot_gpu import BudgetedLoader, plan_budget

from neurotrio.core.errors import ConfigError


def small_speed_config():
    from benchmarks.fewshot_common import apply_overrides

    from neurotrio.fewshot.train import TrainConfig

    return apply_overrides(TrainConfig(), ["model.backbone.width=0.125", "data.image_size=16",
                                           "pretrain.batch_size=4"])


def test_speed_lif_forms_match_todays_op():
    from benchmarks.fewshot_speed import check_lif_forms

    assert check_lif_forms(small_speed_config(), classes=5) < 1e-5


def test_speed_measure_gives_ratios_to_the_first_candidate():
    from benchmarks.fewshot_speed import Candidate, measure

    cands = (Candidate("today"), Candidate("bf16", bf16=True), Candidate("single", lif="single"))
    rows = measure(small_speed_config(), cands, classes=5, rounds=2, steps=1, warmup=1)
    assert [r["name"] for r in rows] == ["today", "bf16", "single"]
    assert rows[0]["ratio"] == 1.0 and all(r["rate"] > 0 and r["ratio"] > 0 for r in rows)
    assert torch.get_num_threads() == 1  # a 2-thread candidate must not leave the process on 2 threads


def test_plan_budget_by_hand():
    # 1000 s left, 90 % planned = 900; test 100 → 800 usable; fine-tuning share 15 % = 120 s holds
    # 105 episodes of 1 s + 3 validations of 5 s; pre-training 680 s: epochs of 100 × 0.5 + 5 = 55 s → 12.
    p = plan_budget(1000, step_s=0.5, val_s=5, episode_s=1, test_s=100, steps_per_epoch=100, max_epochs=60,
                    max_episodes=4000)
    assert (p.epochs, p.steps_per_epoch, p.finetune_episodes, p.val_every) == (12, 100, 105, 52)
    assert p.pretrain_s == 660 and p.finetune_s == 120
    # the configured epochs cap the plan
    assert plan_budget(1000, 0.5, 5, 1, 100, 100, max_epochs=3, max_episodes=4000).epochs == 3
    # not one whole epoch fits: one epoch of (pre-training seconds − one validation) / step seconds
    # 100 s → 90 − 10 = 80 usable; 15 % = 12 s cannot hold 3 validations → no fine-tuning; (80 − 5) / 0.5 = 150
    p = plan_budget(100, 0.5, 5, 1, 10, steps_per_epoch=1000, max_epochs=60, max_episodes=4000)
    assert (p.epochs, p.steps_per_epoch, p.finetune_episodes) == (1, 150, 0)
    with pytest.raises(ConfigError, match="budget too small"):
        plan_budget(50, 0.5, 5, 1, test_s=45, steps_per_epoch=100, max_epochs=60, max_episodes=10)


def test_budgeted_loader_caps_steps_and_stops_at_the_deadline():
    data = list(range(10))
    capped = BudgetedLoader(data, steps=4, deadline=time.perf_counter() + 60)
    assert len(capped) == 4 and list(capped) == [0, 1, 2, 3] and capped.stopped_at is None
    late = BudgetedLoader(data, steps=4, deadline=time.perf_counter() - 1)
    assert len(late) == 4 and list(late) == [] and late.stopped_at == 0


@pytest.mark.slow
def test_gpu_script_tiny_runs_the_whole_path_on_cpu(tmp_path, capsys):
    from benchmarks.fewshot_gpu import main

    assert main(["--tiny", "--device", "cpu", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| 20w5s |" in out and "plan: 1 epoch(s)" in out
    res = json.loads((tmp_path / "results.json").read_text())["metrics"]
    for s in ("5w1s", "5w5s", "20w1s", "20w5s"):
        assert res["test"][s]["episodes"] == 5 and 0 <= res["test"][s]["mean"] <= 100
        assert s in res["protonet_readout"]
    assert res["plan"]["finetune_episodes"] == 2 and len(res["train"]["finetune_history"]) >= 1
    assert (tmp_path / "model.safetensors").is_file()


def test_gpu_script_refuses_cuda_without_cuda(capsys):
    from benchmarks.fewshot_gpu import main

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["--tiny", "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
