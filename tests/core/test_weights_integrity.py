"""Model files: corrupted tensor bytes are refused on load, and saved files get the usual permissions."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from neurotrio.core.checkpoint import read_weights, save_weights
from neurotrio.core.errors import CheckpointError


def _overwrite_tail(path, n: int = 64) -> None:
    """Overwrite the last n bytes (tensor data, not the header) with 0xFF: float32 NaNs, as a bad copy leaves."""
    data = bytearray(path.read_bytes())
    data[-n:] = b"\xff" * n
    path.write_bytes(bytes(data))


def test_nan_bytes_in_a_safetensors_file_are_refused_naming_the_tensor(tmp_path):
    torch.manual_seed(0)
    path = save_weights(nn.Linear(8, 4), tmp_path / "model.safetensors")
    read_weights(path)  # intact: loads
    _overwrite_tail(path)
    with pytest.raises(CheckpointError) as exc:
        read_weights(path)  # before the check the NaNs loaded silently and every prediction was one class
    assert "model.safetensors" in str(exc.value) and "NaN" in str(exc.value)
    assert "weight" in str(exc.value) or "bias" in str(exc.value)


def test_saved_weights_are_readable_like_every_other_output(tmp_path):
    mask = os.umask(0o022)
    try:
        path = save_weights(nn.Linear(2, 2), tmp_path / "model.safetensors")
        (tmp_path / "other.txt").write_text("x")
    finally:
        os.umask(mask)
    # safetensors writes a 0600 file of its own; before the fix model.safetensors was 0600, the rest 0644
    assert path.stat().st_mode & 0o777 == (tmp_path / "other.txt").stat().st_mode & 0o777 == 0o644
