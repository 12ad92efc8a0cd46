import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neurotrio.core.flops import count_flops, count_params
from neurotrio.core.onnx_export import export_onnx
from neurotrio.core.seed import seed_everything
from neurotrio.core.train import fit, predict_proba


def test_flops_by_hand():
    # Conv1d 2->4, k=3, L=10 'same': MACs = 4*10*2*3 = 240 -> 480 FLOPs; bias 40; BN 2*40; Linear 40->3: 240 + 3
    model = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(40, 3))
    fc = count_flops(model, torch.zeros(1, 2, 10))
    assert (fc.matmul_conv, fc.bias, fc.norm) == (480 + 240, 40 + 3, 80)
    assert count_params(model) == 2 * 4 * 3 + 4 + 8 + 40 * 3 + 3


def test_onnx_export_matches_torch(tmp_path):
    model = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(40, 3))
    diff = export_onnx(model, torch.randn(5, 2, 10), tmp_path / "m.onnx")
    assert diff < 1e-5 and (tmp_path / "m.onnx").stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def _run(tmp_path, epochs, resume=False):
    gen = seed_everything(0)
    x = torch.randn(64, 4, generator=gen)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=gen)
    hist = fit(model, loader, opt, epochs, torch.device("cpu"), scheduler=sched, scheduler_per_batch=True,
               validate=lambda m: {"acc": float((m(x).argmax(1) == y).float().mean())},
               checkpoint=tmp_path / "state.pt", resume=resume, progress=False)
    return model, hist, loader, x, y


def test_fit_learns_and_resume_is_exact(tmp_path):
    full, hist, *_ = _run(tmp_path / "a", 6)
    assert hist.epochs[-1]["acc"] > 0.9 and hist.epochs[-1]["train_loss"] < hist.epochs[0]["train_loss"]
    _run(tmp_path / "b", 3)               # "interrupted" after epoch 3
    resumed, hist_b, loader, x, y = _run(tmp_path / "b", 6, resume=True)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["train_loss"] for r in hist_b.epochs] == [r["train_loss"] for r in hist.epochs]
    probs, labels = predict_proba(resumed, loader, torch.device("cpu"))
    assert probs.shape == (64, 2) and np.allclose(probs.sum(1).numpy(), 1, atol=1e-6)


def test_validation_selection_restores_best_epoch(tmp_path):
    model = nn.Linear(1, 2)
    scores = iter([0.2, 0.9, 0.1])
    snapshots = []

    def validate(m):
        snapshots.append(m.weight.detach().clone())
        return {"score": next(scores)}

    loader = DataLoader(TensorDataset(torch.randn(8, 1), torch.zeros(8, dtype=torch.long)), batch_size=4)
    hist = fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.5), 3, torch.device("cpu"),
               validate=validate, select="score", progress=False)
    assert hist.best_epoch == 2 and torch.equal(model.weight, snapshots[1])


@pytest.mark.parametrize("argv", [["--version"]])
def test_cli_version(argv, capsys):
    from neurotrio.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0 and "neurotrio" in capsys.readouterr().out


def test_fit_clips_the_gradient_norm():
    """With ``max_grad_norm`` one SGD step (lr 1, no momentum) moves the weights by at most that norm."""
    import torch
    from torch import nn

    from neurotrio.core.train import fit

    torch.manual_seed(0)
    x, y = torch.randn(16, 4) * 100, torch.randint(0, 2, (16,))
    for clip, bound in ((None, None), (0.5, 0.5)):
        model = nn.Linear(4, 2)
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        fit(model, [(x, y)], opt, 1, torch.device("cpu"), progress=False, max_grad_norm=clip)
        moved = (torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm().item()
        if bound is None:
            assert moved > 5  # the unclipped step is large, so the bound below is not vacuous
        else:
            assert moved <= bound + 1e-6
