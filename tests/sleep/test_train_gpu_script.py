"""benchmarks/sleep_train_gpu.py stays runnable without a GPU, and its batched folds are K separate models.

What would break: the GPU script failing on a machine that has one (import or shape errors show here on
CPU with --tiny), or BatchedFoldsNet training something other than K independent ULW-SleepNets (its
gradients and per-fold weights are compared with separate models').
"""

from __future__ import annotations

import torch
from benchmarks import sleep_train_gpu

from neurotrio.sleep.folds import BatchedFoldsNet
from neurotrio.sleep.model import ULWSleepNet


def test_tiny_run_on_cpu_prints_the_table(capsys) -> None:
    torch.set_num_threads(1)
    assert sleep_train_gpu.main(["--tiny"]) == 0
    out = capsys.readouterr().out
    assert "| 2 folds batched, eager, fp32 |" in out and "best_samples_per_s=" in out
    assert "Sleep-EDF-20, 20-fold x 50 epochs:" in out


def test_batched_folds_gradients_equal_separate_models() -> None:
    assert sleep_train_gpu.check_equivalence(torch.device("cpu"), k=3, batch=3) < 1e-4


def test_fold_state_dict_loads_into_ulw_sleepnet() -> None:
    torch.manual_seed(0)
    nets = [ULWSleepNet().eval() for _ in range(2)]
    for net in nets:
        with torch.no_grad():
            net.in_scale.uniform_(1, 2)
    batched = BatchedFoldsNet(nets).eval()
    x = torch.randn(2, 3, 4, 3000)
    with torch.no_grad():
        out = batched(x)
        for i, net in enumerate(nets):
            again = ULWSleepNet()
            again.load_state_dict(batched.fold_state_dict(i))
            torch.testing.assert_close(out[i], net(x[i]), rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(again.eval()(x[i]), net(x[i]))
