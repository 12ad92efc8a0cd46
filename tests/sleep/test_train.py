"""Training: subject-wise folds, the within-recording split, the reference schedule, and small real runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurotrio.core.errors import ConfigError
from neurotrio.sleep.model import ULWSleepNetConfig
from neurotrio.sleep.protocols import default_n_folds, subject_kfold, within_recording_split
from neurotrio.sleep.sleepedf import SLEEP_EDF_20, PreparedEpochs
from neurotrio.sleep.train import TrainConfig, class_weights_of, cross_validate, predict, train_model


def test_sleep_edf_20_folds_keep_both_nights_and_drop_nothing() -> None:
    subjects = [int(r[3:5]) for r in SLEEP_EDF_20]  # 39 nights, 20 subjects
    folds = subject_kfold(subjects, default_n_folds("sleep-edf-20", 20), val_subjects=0.1, seed=32)
    assert len(folds) == 20
    tested = [s for f in folds for s in f.test]
    assert sorted(tested) == list(range(20))  # every subject tested exactly once, none dropped
    for f in folds:
        assert not set(f.train) & set(f.test) and not set(f.val) & set(f.test) and not set(f.val) & set(f.train)
        assert set(f.train) | set(f.val) | set(f.test) == set(range(20))
        assert len(f.val) == 2  # 10 % of the 19 training-side subjects, rounded


def test_uneven_folds_differ_by_at_most_one_subject() -> None:
    folds = subject_kfold(list(range(78)), default_n_folds("sleep-edf-78", 78), val_subjects=3, seed=0)
    sizes = sorted(len(f.test) for f in folds)
    assert len(folds) == 10 and sizes[0] == 7 and sizes[-1] == 8 and sum(sizes) == 78
    assert all(len(f.val) == 3 for f in folds)


def test_fold_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="between 2 and"):
        subject_kfold([0, 1, 2], 4)
    with pytest.raises(ConfigError, match="validation"):
        subject_kfold([0, 1, 2], 3, val_subjects=2)


def test_within_recording_split_is_ordered_and_gapped() -> None:
    s = within_recording_split(841, test_start=0.7, val_fraction=0.2, gap_epochs=2)
    assert s.train.max() < s.val.min() and s.val.max() < s.test.min()
    assert s.val.min() - s.train.max() == 3 and s.test.min() - s.val.max() == 3  # 2 epochs dropped
    assert s.test.max() == 840 and s.train.min() == 0
    early = within_recording_split(300, test_start=0.0, test_stop=0.3, val_fraction=0.2)
    assert early.test.max() < early.val.min() < early.train.min()
    with pytest.raises(ConfigError, match="test_start"):
        within_recording_split(300, test_start=0.8, test_stop=0.5)


def test_schedule_restarts_after_10_then_20_then_40_batches() -> None:
    cfg = TrainConfig()
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr, amsgrad=cfg.amsgrad)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=cfg.restart_batches,
                                                                 T_mult=cfg.restart_mult)
    lrs = []
    for _ in range(75):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    restarts = [i for i in range(1, 75) if lrs[i] > lrs[i - 1]]
    assert restarts == [10, 30, 70] and lrs[0] == pytest.approx(1e-3)
    assert lrs[5] == pytest.approx(0.5e-3)


def test_class_weights_are_inverse_frequency() -> None:
    w = class_weights_of(np.array([0, 0, 0, 1]), 5)
    assert w[0] * 3 == pytest.approx(w[1].item()) and w[2] == 0
    assert (w[0] * 3 + w[1]) / 4 == pytest.approx(1.0)  # weighted mean over the samples is 1


def _toy(n: int, seed: int, n_chans: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two easy classes: slow large waves (N3) vs fast small ones (W), in microvolts."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n) * 3
    t = np.arange(3000) / 100
    x = np.where(y[:, None, None] == 3, 80 * np.sin(2 * np.pi * 1.0 * t), 15 * np.sin(2 * np.pi * 10 * t))
    x = x + 5 * rng.standard_normal((n, n_chans, 3000))
    return x.astype(np.float32), y.astype(np.int64)


def test_train_model_learns_and_stores_input_scaling() -> None:
    torch.set_num_threads(1)
    x, y = _toy(48, 0)
    xv, yv = _toy(16, 1)
    cfg = TrainConfig(channels=("EEG Fpz-Cz", "EEG Pz-Oz"), epochs=3, batch_size=16, lr=3e-3, device="cpu",
                      model=ULWSleepNetConfig(n_chans=2))
    model, history = train_model(x, y, cfg, xv, yv, progress=False)
    assert len(history.epochs) == 3 and history.best_epoch in (1, 2, 3)
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    assert model.net.in_scale.min() > 5  # the training data's robust std (microvolts), not 1
    acc = (predict(model.net, xv).argmax(1) == yv).mean()
    assert acc >= max(h["val_accuracy"] for h in history.epochs) - 1e-9  # best validation epoch restored


def _nights(n_subjects: int) -> list[PreparedEpochs]:
    out = []
    for s in range(n_subjects):
        for night in (1, 2):
            x, y = _toy(8, 10 * s + night)
            out.append(PreparedEpochs(x, y, np.arange(8) * 30.0, f"SC4{s:02d}{night}", s, night,
                                      ("EEG Fpz-Cz", "EEG Pz-Oz")))
    return out


def test_cross_validate_writes_per_fold_and_pooled_results(tmp_path) -> None:
    torch.set_num_threads(1)
    nights = _nights(4)
    cfg = TrainConfig(channels=("EEG Fpz-Cz", "EEG Pz-Oz"), epochs=1, batch_size=16, n_folds=2, val_subjects=1,
                      device="cpu", subset="all")
    res = cross_validate(nights, cfg, tmp_path, progress=False)
    assert res["n_folds"] == 2 and res["pooled"]["n"] == 64  # every epoch tested once
    for f in res["folds"]:
        rec = json.loads((tmp_path / f"fold{f['fold']}.json").read_text())
        assert set(r[3:5] for r in rec["test_records"]) == {f"{s:02d}" for s in f["test_subjects"]}
    assert {p.name for p in tmp_path.iterdir()} >= {"kfold.json", "kfold.md", "config.yaml", "confusion.png",
                                                    "fold0.safetensors", "fold1.safetensors"}
    assert json.loads((tmp_path / "kfold.json").read_text())["config"]["n_folds"] == 2
    again = cross_validate(nights, cfg, tmp_path, resume=True, progress=False)  # finished folds are skipped
    assert again["pooled"]["confusion_matrix"] == res["pooled"]["confusion_matrix"]


def test_predict_accepts_float64_epochs() -> None:
    """Library callers often hold float64 arrays; ``predict`` casts them instead of failing on dtype."""
    import numpy as np
    import torch

    from neurotrio.sleep.model import ULWSleepNet, ULWSleepNetConfig
    from neurotrio.sleep.train import predict

    torch.manual_seed(0)
    net = ULWSleepNet(ULWSleepNetConfig())
    x = np.random.default_rng(0).standard_normal((3, 4, 3000)) * 20  # float64
    p64, p32 = predict(net, x), predict(net, x.astype(np.float32))
    assert p64.shape == (3, 5) and np.allclose(p64.sum(1), 1, atol=1e-5)
    assert np.allclose(p64, p32, atol=1e-6)
