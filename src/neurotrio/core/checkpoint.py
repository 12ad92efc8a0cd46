"""Checkpoints: model weights as safetensors, full training state via ``torch.load(weights_only=True)``.

Nothing here unpickles arbitrary objects: a pickle payload in a model file is rejected, not run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neurotrio.core.errors import CheckpointError
from neurotrio.core.io import atomic_path


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write the model's state dict (parameters and buffers) to a safetensors file, atomically.

    ``metadata`` (e.g. the model config) is stored as JSON in the file header.
    """
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"neurotrio": json.dumps(metadata or {})}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return Path(path)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The neurotrio metadata of a safetensors file, from its header only (no tensor is read).

    Raises:
        CheckpointError: the file is missing or is not a safetensors file.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "model file not found")
    try:
        with safe_open(str(path), framework="pt") as fh:
            return json.loads((fh.metadata() or {}).get("neurotrio", "{}"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(path, f"not a safetensors model file ({str(exc).splitlines()[0][:120]})") from None


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a safetensors file into (state dict, metadata); a clear error for anything else."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_metadata(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(path, f"not a safetensors model file ({str(exc).splitlines()[0][:120]})") from None
    for name, tensor in state.items():  # safetensors has no checksum: overwritten bytes often decode as NaN
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(path, f"tensor {name} holds NaN or infinite values (a corrupted file, or a "
                                        "training run that diverged)")
    return state, meta


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load ``state`` strictly; a key or shape mismatch names the first offending tensor."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise CheckpointError(path, f"weights do not fit {type(model).__name__} ({what}; "
                                    f"{len(missing)} missing, {len(unexpected)} unexpected tensors)")
    for k, v in state.items():
        if own[k].shape != v.shape:
            raise CheckpointError(path, f"weights do not fit {type(model).__name__}: {k} has shape "
                                        f"{tuple(v.shape)}, model expects {tuple(own[k].shape)}")
    model.load_state_dict(state)


def load_weights(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load safetensors weights into ``model``; returns the stored metadata."""
    state, meta = read_weights(path)
    load_state_into(model, state, path)
    return meta


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states in a form ``weights_only`` loading accepts."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "python": [py_version, list(py_internal), py_gauss],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(float, np_state[2:])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(path: str | Path, **state: Any) -> Path:
    """Atomically save model/optimizer/scheduler state dicts, counters, config and RNG states."""
    state.setdefault("rng", rng_state())
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Load a training state saved by ``save_training_state`` without unpickling arbitrary objects."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise CheckpointError(path, f"not a neurotrio training checkpoint ({str(exc).splitlines()[0][:120]})") from None
