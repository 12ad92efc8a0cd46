"""Determinism: the same seed on the same machine gives bit-identical metrics (and weights) on CPU, for each
system's smoke training, and every result file carries its seed and library versions.

Each smoke training runs twice in this process through the systems' own library/CLI entry points; only
wall-clock fields (names ending in ``_s``, ``seconds``, ``wall``) and provenance are left out of the
comparison. A run with another seed must differ, so the comparison is not vacuous.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

_CLOCK = re.compile(r"(_s|seconds|wall.*|time.*|_per_s|throughput.*)$")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _strip_clock(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_clock(v) for k, v in obj.items() if not _CLOCK.search(str(k))}
    if isinstance(obj, list):
        return [_strip_clock(v) for v in obj]
    return obj


def _weights(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


def _provenance_ok(result_json: Path, seed: int) -> None:
    prov = json.loads(result_json.read_text())["provenance"]
    assert prov["seed"] == seed and prov["versions"]["torch"] and prov["versions"]["numpy"] and prov["python"]


# ---------------------------------------------------------------------------------------------------------
# sleep: train_model (Adam + cosine restarts + validation selection) on synthetic epochs


def _sleep_run(seed: int) -> tuple[list[dict], dict[str, torch.Tensor], np.ndarray]:
    from neurotrio.sleep.train import TrainConfig, predict, train_model

    rng = np.random.default_rng(0)
    y = np.arange(60) % 5
    t = np.arange(3000) / 100.0
    x = (np.sin(2 * np.pi * (1 + 2 * y)[:, None, None] * t) * 30 + rng.standard_normal((60, 4, 3000)) * 5)
    x = x.astype(np.float32)
    cfg = TrainConfig(epochs=3, batch_size=16, seed=seed, device="cpu")
    model, history = train_model(x[:40], y[:40], cfg, x[40:50], y[40:50], progress=False)
    proba = predict(model.net, x[50:])
    return history.epochs, {k: v.clone() for k, v in model.net.state_dict().items()}, proba


def test_sleep_smoke_training_is_bit_identical() -> None:
    h1, w1, p1 = _sleep_run(7)
    h2, w2, p2 = _sleep_run(7)
    assert h1 == h2
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert np.array_equal(p1, p2)
    h3, _, _ = _sleep_run(8)
    assert h3 != h1


def test_sleep_results_carry_seed_and_versions(tmp_path) -> None:
    from neurotrio.sleep.sleepedf import PreparedEpochs
    from neurotrio.sleep.train import TrainConfig, run_within_recording

    rng = np.random.default_rng(1)
    y = np.arange(200) % 5
    x = (rng.standard_normal((200, 4, 3000)) * (1 + y)[:, None, None]).astype(np.float32)
    night = PreparedEpochs(x, y.astype(np.int64), np.arange(200) * 30.0, "SC4001", 0, 1,
                           ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"))
    cfg = TrainConfig(epochs=1, batch_size=64, seed=3, device="cpu", protocol="within-recording")
    a = run_within_recording(night, cfg, tmp_path / "a", progress=False)
    b = run_within_recording(night, cfg, tmp_path / "b", progress=False)
    assert _strip_clock(a) == _strip_clock(b)
    assert _same_weights(tmp_path / "a" / "model.safetensors", tmp_path / "b" / "model.safetensors")
    _provenance_ok(tmp_path / "a" / "within-recording.json", 3)


# ---------------------------------------------------------------------------------------------------------
# few-shot: `neurotrio fewshot train` on the built-in synthetic glyphs (pre-training + episodic fine-tuning)

FS_SMOKE = ["--dataset", "synthetic", "--device", "cpu", "--set", "model.backbone.width=0.125",
            "--set", "model.backbone.time_steps=2", "--set", "pretrain.epochs=1", "--set", "pretrain.batch_size=32",
            "--set", "finetune.episodes=2", "--set", "finetune.val_every=2", "--set", "finetune.n_query=5",
            "--set", "eval.val_episodes=10"]


def _fewshot_run(out: Path, seed: int) -> dict:
    from neurotrio.cli import main

    assert main(["fewshot", "train", *FS_SMOKE, "--seed", str(seed), "--out", str(out)]) == 0
    return json.loads((out / "train.json").read_text())


@pytest.mark.slow
def test_fewshot_smoke_training_is_bit_identical(tmp_path, capsys) -> None:
    a, b = _fewshot_run(tmp_path / "a", 0), _fewshot_run(tmp_path / "b", 0)
    assert _strip_clock(a["metrics"]) == _strip_clock(b["metrics"])
    assert _same_weights(tmp_path / "a" / "model.safetensors", tmp_path / "b" / "model.safetensors")
    _provenance_ok(tmp_path / "a" / "train.json", 0)
    c = _fewshot_run(tmp_path / "c", 1)
    assert not _same_weights(tmp_path / "a" / "model.safetensors", tmp_path / "c" / "model.safetensors")
    assert c["metrics"] != a["metrics"]


# ---------------------------------------------------------------------------------------------------------
# micro-expressions: one LOSO fold of MPFNet-P (GFE triplet, AFE, episodic stage) and the STSTNet baseline


def _mer_run(out: Path, data: Path, seed: int) -> dict:
    from neurotrio.microexpression.train import LosoConfig, run_loso
    from tests.mer.test_train import TINY

    cfg = LosoConfig(data=str(data), variants=("P", "ststnet"), max_folds=1, model=TINY, seed=seed)
    return run_loso(cfg, out, progress=False)


def test_mer_smoke_training_is_bit_identical(tmp_path) -> None:
    from tests.mer.synth_layouts import make_composite

    data = make_composite(tmp_path / "data", n_subjects=3, per_subject=6)
    a, b = _mer_run(tmp_path / "a", data, 0), _mer_run(tmp_path / "b", data, 0)
    assert _strip_clock(a) == _strip_clock(b)
    assert (tmp_path / "a" / "predictions.csv").read_bytes() == (tmp_path / "b" / "predictions.csv").read_bytes()
    _provenance_ok(tmp_path / "a" / "results.json", 0)
    c = _mer_run(tmp_path / "c", data, 1)
    assert _strip_clock(c) != _strip_clock(a)
