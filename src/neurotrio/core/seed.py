"""Seeding, determinism, device choice, and the provenance saved beside every result."""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch; optionally force deterministic kernels.

    Returns a ``torch.Generator`` seeded with ``seed`` to pass explicitly to samplers and splits.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU; or an explicit torch device string (``cpu``, ``cuda:1``).

    Raises:
        ConfigError: the string is not a torch device, or names a CUDA/MPS device this machine lacks
            (so ``--device cuda`` on a CPU-only machine is one error line, not a failure deep in training).
    """
    import torch

    from neurotrio.core.errors import ConfigError

    preference = str(preference or "auto").strip()
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(preference)
    except (RuntimeError, ValueError):
        raise ConfigError(f"device {preference!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {preference!r}: no CUDA device is available here (torch "
                              f"{torch.__version__}); use --device cpu or auto")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"device {preference!r}: this machine has {count} CUDA device(s), "
                              f"cuda:0 to cuda:{count - 1}")
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"device {preference!r}: MPS is not available here; use --device cpu or auto")
    return device


_PACKAGES = ("torch", "numpy", "scipy", "mne", "onnxruntime", "opencv-contrib-python-headless",
             "spikingjelly", "aedat", "dlib-bin")


def provenance(seed: int | None = None) -> dict[str, Any]:
    """Seed, library versions, machine and git commit: saved next to every result.

    The GPU is named when torch is already loaded and sees one; a torch-free process (onnxruntime
    scoring) does not import torch just for this and names the CPU.
    """
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        versions["neurotrio"] = metadata.version("neurotrio")
    except metadata.PackageNotFoundError:
        pass
    commit = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    torch = sys.modules.get("torch")
    cuda = torch is not None and hasattr(torch, "cuda") and torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu"
    return {"seed": seed, "versions": versions, "python": platform.python_version(),
            "machine": f"{platform.machine()} {device}, {os.cpu_count()} cores", "git_commit": commit}
