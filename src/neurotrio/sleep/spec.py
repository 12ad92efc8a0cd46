"""What defines a ULW-SleepNet model besides its weights: stages, hyper-parameters, input scaling modes.

Torch-free on purpose: the onnxruntime scoring path (:mod:`neurotrio.sleep.onnx_model`) and the scoring
code import it without loading torch; :mod:`neurotrio.sleep.model` re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurotrio.core.errors import ConfigError

STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")


@dataclass(frozen=True)
class ULWSleepNetConfig:
    """Hyper-parameters of ULW-SleepNet, in physical units where they have one.

    Attributes:
        n_chans: number of input channels C (any C >= 1; all share one extractor).
        sfreq_hz: sampling rate of every channel, Hz.
        epoch_s: epoch length, s (``n_times = sfreq_hz * epoch_s`` samples).
        n_classes: number of sleep stages predicted.
        filters: filters of the DSSC blocks.
        hidden: width of the head's linear layer (no activation after it).
        block_dropout: dropout after each DSSC block.
        head_dropout: dropout before the head.
    """

    n_chans: int = 4
    sfreq_hz: float = 100.0
    epoch_s: float = 30.0
    n_classes: int = 5
    filters: tuple[int, ...] = (8, 16, 32)
    hidden: int = 64
    block_dropout: float = 0.1
    head_dropout: float = 0.3

    def __post_init__(self) -> None:
        if self.n_chans < 1:
            raise ConfigError(f"n_chans must be >= 1, got {self.n_chans}")
        if self.n_classes < 2:
            raise ConfigError(f"n_classes must be >= 2, got {self.n_classes}")
        if not self.filters or min(self.filters) < 1:
            raise ConfigError(f"filters must be positive, got {self.filters}")
        n = self.sfreq_hz * self.epoch_s
        if n < 2 ** (2 * len(self.filters)) or abs(n - round(n)) > 1e-6:
            raise ConfigError(f"sfreq_hz * epoch_s = {n} must be a whole number of samples >= "
                              f"{2 ** (2 * len(self.filters))}")

    @property
    def n_times(self) -> int:
        """Samples per epoch per channel."""
        return int(round(self.sfreq_hz * self.epoch_s))


NORMALIZATIONS: tuple[str, ...] = ("fixed", "recording", "none")
ARCHITECTURE = "ulw_sleepnet"
ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_WEIGHTS = ASSETS / "ulw_sleepnet_sc4001.safetensors"
DEFAULT_ONNX = ASSETS / "ulw_sleepnet_sc4001.onnx"
"""The embedded weights exported by ``neurotrio sleep export`` (see :func:`neurotrio.sleep.export.write_default_onnx`):
what ``score`` uses when no model is given, without torch."""


def robust_stats(x: np.ndarray, max_values: int = 2_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel median and robust standard deviation (IQR / 1.349) of signals.

    Args:
        x: (n_channels, n_samples) or (n_epochs, n_channels, n_times) array, microvolts.
        max_values: at most this many evenly spaced samples per channel are used (speed).

    Returns:
        (center, scale), each float32 (n_channels,); a zero scale (flat signal) becomes 1.
    """
    flat = np.moveaxis(np.asarray(x), -2, 0).reshape(x.shape[-2], -1) if x.ndim == 3 else np.asarray(x)
    step = max(1, flat.shape[1] // max_values)
    q25, q50, q75 = np.percentile(flat[:, ::step], [25, 50, 75], axis=1)
    scale = (q75 - q25) / 1.349
    return q50.astype(np.float32), np.where(scale > 0, scale, 1.0).astype(np.float32)
