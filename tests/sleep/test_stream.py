"""Streaming: pushing samples in arbitrary pieces gives the same stages as scoring the whole recording."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.sleep.edf import DEFAULT_CHANNELS, load_psg
from neurotrio.sleep.model import SleepModel, ULWSleepNet, load_model, save_model
from neurotrio.sleep.score import stage_recording
from neurotrio.sleep.stream import SleepStager
from tests.sleep.synthetic import write_synthetic_psg


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    torch.manual_seed(5)
    net = ULWSleepNet().eval()
    net.in_scale.fill_(25.0)
    model = load_model(save_model(SleepModel(net, DEFAULT_CHANNELS, "fixed"), d / "m.safetensors"))
    return write_synthetic_psg(d / "n.edf", n_epochs=12, seed=3), model


def test_streaming_equals_batch_scoring(setup) -> None:
    psg, model = setup
    batch, _ = stage_recording(psg, model)
    data = load_psg(psg).data
    stager = SleepStager(model)
    rng = np.random.default_rng(0)
    got, pos = [], 0
    while pos < data.shape[1]:
        n = int(rng.integers(0, 7000))  # pieces shorter and longer than an epoch, and empty ones
        got += stager.push(data[:, pos:pos + n])
        pos += n
    assert [e.index for e in got] == list(range(12)) and got[5].onset_s == 150.0
    np.testing.assert_allclose(np.stack([e.proba for e in got]), batch, atol=1e-5)
    assert [e.code for e in got] == batch.argmax(1).tolist()
    assert stager.pending_samples == 0


def test_reset_restarts_numbering_and_drops_partial_epochs(setup) -> None:
    psg, model = setup
    data = load_psg(psg).data
    stager = SleepStager(model)
    assert stager.push(data[:, :4500]) and stager.pending_samples == 1500
    stager.reset()
    assert stager.pending_samples == 0
    first = stager.push(data[:, :3000])
    assert [e.index for e in first] == [0]


def test_other_input_rate_is_resampled_per_epoch(setup) -> None:
    _, model = setup
    stager = SleepStager(model, sfreq_hz=200)
    assert stager.samples_per_epoch == 6000
    out = stager.push(np.random.default_rng(1).standard_normal((4, 13000)).astype(np.float32) * 20)
    assert len(out) == 2 and out[0].proba.shape == (5,)
    with pytest.raises(ConfigError, match="whole number"):
        SleepStager(model, sfreq_hz=100.01)


def test_bad_pushes_and_models_are_refused(setup, tmp_path) -> None:
    _, model = setup
    stager = SleepStager(model)
    with pytest.raises(InputError, match=r"n_channels=4"):
        stager.push(np.zeros((3, 100)))
    bad = np.zeros((4, 100))
    bad[1, 5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        stager.push(bad)
    rec = save_model(SleepModel(ULWSleepNet().eval(), DEFAULT_CHANNELS, "recording"), tmp_path / "r.safetensors")
    with pytest.raises(ConfigError, match="whole-night"):
        SleepStager(rec)
