"""A wrong model file (not safetensors, a pickle payload, another architecture) gives one clear error."""

from __future__ import annotations

import pickle

import pytest
import torch

from neurotrio.cli import main
from neurotrio.core.checkpoint import save_weights
from neurotrio.core.errors import CheckpointError
from neurotrio.sleep.edf import DEFAULT_CHANNELS
from neurotrio.sleep.model import SleepModel, ULWSleepNet, ULWSleepNetConfig, load_model, save_model
from tests.sleep.synthetic import write_synthetic_psg


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):  # unpickling would create the marker file
        return (open, (self.marker, "w"))


def test_a_pickle_payload_is_rejected_without_running_it(tmp_path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(CheckpointError, match="not a safetensors model file"):
        load_model(bad)
    torch.save({"payload": _Payload(str(marker))}, tmp_path / "torch.pt")
    with pytest.raises(CheckpointError, match="not a safetensors"):
        load_model(tmp_path / "torch.pt")
    assert not marker.exists()


def test_another_architecture_is_named(tmp_path) -> None:
    other = save_weights(torch.nn.Linear(3, 2), tmp_path / "other.safetensors", metadata={"architecture": "mpfnet"})
    with pytest.raises(CheckpointError, match="not a ULW-SleepNet model file.*mpfnet"):
        load_model(other)


def test_weights_of_another_shape_are_refused(tmp_path) -> None:
    path = save_model(SleepModel(ULWSleepNet(ULWSleepNetConfig(n_chans=2)), ("a", "b")), tmp_path / "m.safetensors")
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        state = {k: fh.get_tensor(k) for k in fh.keys()}
    meta["neurotrio"] = meta["neurotrio"].replace('"n_chans": 2', '"n_chans": 4').replace('["a", "b"]',
                                                                                          '["a", "b", "c", "d"]')
    save_file(state, str(tmp_path / "lie.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="dense.weight has shape"):
        load_model(tmp_path / "lie.safetensors")


def test_missing_model_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("content", [b"garbage bytes", pickle.dumps({"a": 1})])
def test_cli_score_with_a_wrong_model_file_exits_2_and_writes_nothing(tmp_path, capsys, content: bytes) -> None:
    psg = write_synthetic_psg(tmp_path / "n.edf", n_epochs=2, channels=DEFAULT_CHANNELS)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    code = main(["sleep", "score", str(psg), "--model", str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: bad.safetensors: not a safetensors model file") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
