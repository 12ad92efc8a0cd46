"""Spiking VGG backbone without average pooling (VGGSNNwoAP of the TET code) and its ANN twin.

Eight conv3×3 → BN → LIF blocks with 64, 128, 256, 256, 512, 512, 512, 512 channels (times a width
multiplier) and stride 2 on layers 2, 4, 6 and 8. The neurons are spikingjelly ``activation_based`` LIF
nodes in multi-step mode; conv and BN see time folded into the batch (``layer.SeqToANNContainer``).

Input ``(B, T, C, H, W)`` (event bins) or ``(B, C, H, W)`` (a static image, repeated ``T`` times) →
feature map ``F0`` of shape ``(B, T, C', H', W')``. The ANN twin (``neuron="relu"``) is the same network
with ReLU in place of LIF; it keeps the same ``(B, T, ...)`` interface.

Note:
    LIF as in TET: ``H[t] = 0.5·V[t-1] + X[t]`` (decay 0.5 = ``tau=2`` with ``decay_input=False``),
    threshold 1.0, hard reset to 0, triangle surrogate gradient ``max(0, 1 - |x|)``. spikingjelly 2.0 has
    no class named "triangle", but ``surrogate.PiecewiseQuadratic(alpha=1)`` has exactly that gradient
    (its primitive is piecewise quadratic, its derivative the triangle of TET's ``ZIF`` with gamma 1),
    so no custom surrogate is needed.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from neurotrio.core.errors import ConfigError, DependencyError

log = logging.getLogger(__name__)

VGG_CHANNELS = (64, 128, 256, 256, 512, 512, 512, 512)


@dataclass(frozen=True)
class BackboneConfig:
    """Backbone hyper-parameters.

    Attributes:
        in_channels: input channels (1 Omniglot, 3 CUB/miniImageNet, 2 event polarities).
        width: multiplier on ``VGG_CHANNELS`` (0.25 trains on a CPU; 1.0 is the paper's VGG).
        time_steps: T; static images are repeated T times, event tensors must carry T bins.
        stride_layers: 1-based indices of the stride-2 convolutions.
        neuron: ``"lif"`` for the SNN, ``"relu"`` for the ANN twin.
        tau: LIF time constant (decay 1/tau = 0.5).
        v_threshold: firing threshold.
        surrogate_alpha: width parameter of the triangle surrogate (1 → support |x| < 1).
    """

    in_channels: int = 1
    width: float = 1.0
    time_steps: int = 4
    stride_layers: tuple[int, ...] = (2, 4, 6, 8)
    neuron: Literal["lif", "relu"] = "lif"
    tau: float = 2.0
    v_threshold: float = 1.0
    surrogate_alpha: float = 1.0

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(max(1, int(round(c * self.width))) for c in VGG_CHANNELS)


def _sj():
    try:
        from spikingjelly.activation_based import functional, layer, neuron, surrogate
    except ImportError as exc:  # pragma: no cover - the venv has it
        raise DependencyError(f"fewshot needs spikingjelly ({exc}): pip install spikingjelly") from None
    return functional, layer, neuron, surrogate


def make_lif(cfg: BackboneConfig) -> nn.Module:
    """A multi-step LIF node with the TET settings; the cupy backend on CUDA when the API offers one."""
    _, _, neuron, surrogate = _sj()
    kwargs = dict(tau=cfg.tau, decay_input=False, v_threshold=cfg.v_threshold, v_reset=0.0,
                  surrogate_function=surrogate.PiecewiseQuadratic(alpha=cfg.surrogate_alpha),
                  detach_reset=False, step_mode="m")
    if "backend" in inspect.signature(neuron.LIFNode.__init__).parameters:  # spikingjelly 0.0.0.0.14 API
        kwargs["backend"] = "cupy" if torch.cuda.is_available() and _has_cupy() else "torch"
    return neuron.LIFNode(**kwargs)


def _has_cupy() -> bool:
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


class SpikingVGG(nn.Module):
    """VGGSNN without average pooling; ``neuron="relu"`` gives the ANN twin.

    Args:
        cfg: backbone configuration.

    Example:
        >>> net = SpikingVGG(BackboneConfig(width=0.25, time_steps=2))
        >>> net(torch.rand(3, 1, 28, 28)).shape      # (B, T, C', H', W')
        torch.Size([3, 2, 128, 2, 2])
    """

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        if cfg.time_steps < 1 or cfg.width <= 0 or cfg.in_channels < 1:
            raise ConfigError(f"backbone needs time_steps >= 1, width > 0, in_channels >= 1; got "
                              f"time_steps={cfg.time_steps}, width={cfg.width}, in_channels={cfg.in_channels}")
        if cfg.neuron not in ("lif", "relu"):
            raise ConfigError(f"backbone neuron must be 'lif' or 'relu', got {cfg.neuron!r}")
        _, layer, _, _ = _sj()
        self.cfg = cfg
        blocks: list[nn.Module] = []
        c_in = cfg.in_channels
        for i, c_out in enumerate(cfg.channels, start=1):
            stride = 2 if i in cfg.stride_layers else 1
            blocks.append(layer.SeqToANNContainer(
                nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out)))
            blocks.append(make_lif(cfg) if cfg.neuron == "lif" else nn.ReLU())
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.out_channels = c_in

    @property
    def spiking(self) -> bool:
        return self.cfg.neuron == "lif"

    def reset_state(self) -> None:
        """Clear every neuron's membrane state (call before each batch or episode)."""
        if self.spiking:
            _sj()[0].reset_net(self.features)

    def as_sequence(self, x: Tensor) -> Tensor:
        """``(B, C, H, W)`` → repeated ``(B, T, C, H, W)``; a 5-D input must already hold T bins."""
        t = self.cfg.time_steps
        if x.dim() == 4:
            return x.unsqueeze(1).expand(-1, t, -1, -1, -1)
        if x.dim() != 5 or x.shape[1] != t:
            raise ConfigError(f"backbone expects (B, C, H, W) or (B, T={t}, C, H, W), got {tuple(x.shape)}")
        return x

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W)`` or ``(B, T, C, H, W)`` → ``F0`` of shape ``(B, T, C', H', W')``.

        Neuron state is reset before the pass, so every call is independent of the previous one.
        """
        x = self.as_sequence(x)
        if x.shape[2] != self.cfg.in_channels:
            raise ConfigError(f"backbone built for {self.cfg.in_channels} input channels, got {x.shape[2]}")
        self.reset_state()
        y = self.features(x.transpose(0, 1).contiguous())  # spikingjelly multi-step layout (T, B, ...)
        return y.transpose(0, 1)


def twin_config(cfg: BackboneConfig, time_steps: int | None = None) -> BackboneConfig:
    """The ANN twin's config: the same architecture with ReLU (and optionally another T)."""
    from dataclasses import replace

    return replace(cfg, neuron="relu", time_steps=time_steps or cfg.time_steps)


def feature_shape(cfg: BackboneConfig, image_hw: tuple[int, int]) -> tuple[int, int, int]:
    """``(C', H', W')`` of ``F0`` for an input of ``image_hw`` pixels (3×3, padding 1 convs)."""
    h, w = image_hw
    for i in range(1, len(cfg.channels) + 1):
        if i in cfg.stride_layers:
            h, w = (h + 1) // 2, (w + 1) // 2
    return cfg.channels[-1], h, w
