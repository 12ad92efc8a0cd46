"""ULW-SleepNet: an ultra-lightweight, channel-shared sleep stager (arXiv 2602.23852, ICASSP 2026).

The network follows the reference Keras code (wzw999/ULW-SLEEPNET) layer by layer:

* ONE feature extractor is shared by every input channel: the channels are folded into the batch, so a
  ``(B, C, 3000)`` input is processed as ``B * C`` single-channel signals.
* The extractor is three Dual-Stream Separable Convolution (DSSC) blocks with 8, 16, 32 filters. Main
  stream: two units of [separable conv k=3 'same' -> batch norm -> ReLU -> max-pool 2 'same']; shortcut:
  two separable convs k=1 stride 2 (no norm, no activation); the streams are added, then dropout 0.1.
  A Keras ``SeparableConv1D`` is a depthwise conv without bias followed by a pointwise conv with bias.
  Lengths 3000 -> 750 -> 188 -> 47 ('same' pooling rounds up), then global average pooling.
* Head: concatenation of C x 32 features -> dropout 0.3 -> Linear(64), no activation -> Linear(5).

Trainable parameters: 7,193 / 9,241 / 11,289 / 13,337 / 25,625 for C = 1 / 2 / 3 / 4 / 10.

For training on CPU, :meth:`ULWSleepNet.forward` runs the same function rearranged for speed
(:mod:`neurotrio.sleep.fast`: merged shortcut, first conv on even/odd sample planes, batch norm + ReLU +
max-pool fused); ``net.fast_train = False`` selects the literal layer-by-layer form.

For inference, :meth:`ULWSleepNet.fused` returns :class:`FusedULWSleepNet`, the same function with batch
norm folded into dense convolutions, the two linear shortcut convs merged into one, and the two head
layers merged into one matrix: identical outputs (to float rounding) at a fraction of the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurotrio.core.errors import CheckpointError, ConfigError
from neurotrio.sleep.spec import (  # noqa: F401 - re-exported: the torch-free part of the model's definition
    ARCHITECTURE,
    ASSETS,
    DEFAULT_ONNX,
    DEFAULT_WEIGHTS,
    NORMALIZATIONS,
    STAGES,
    ULWSleepNetConfig,
    robust_stats,
)


class SeparableConv1d(nn.Module):
    """Keras ``SeparableConv1D``: depthwise conv (no bias, depth multiplier 1) then pointwise conv with bias.

    'same' padding for odd kernels at stride 1; kernel 1 needs none at any stride. The parameters are the
    two convs' (as in Keras, so counts match), but by default the forward pass runs ONE dense conv with
    the product weight ``W[o, i, k] = P[o, i] * D[i, k]``: the same linear map (to float rounding), and
    its backward pass is much faster than a depthwise conv's on CPU and GPU. Set ``dense_product =
    False`` for the literal two-conv computation.
    """

    def __init__(self, in_chans: int, out_chans: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.depthwise = nn.Conv1d(in_chans, in_chans, kernel_size, stride=stride, padding=kernel_size // 2,
                                   groups=in_chans, bias=False)
        self.pointwise = nn.Conv1d(in_chans, out_chans, 1, bias=True)
        self.dense_product = True

    def forward(self, x: Tensor) -> Tensor:
        if not self.dense_product:
            return self.pointwise(self.depthwise(x))
        weight = self.pointwise.weight * self.depthwise.weight.transpose(0, 1)  # (out, in, k)
        return F.conv1d(x, weight, self.pointwise.bias, stride=self.depthwise.stride,
                        padding=self.depthwise.padding)


class DSSCBlock(nn.Module):
    """Dual-Stream Separable Convolution block: (N, c_in, L) -> (N, filters, ceil(L / 4))."""

    def __init__(self, in_chans: int, filters: int, dropout: float):
        super().__init__()
        self.conv1 = SeparableConv1d(in_chans, filters, 3)
        self.bn1 = nn.BatchNorm1d(filters, eps=1e-3, momentum=0.01)
        self.conv2 = SeparableConv1d(filters, filters, 3)
        self.bn2 = nn.BatchNorm1d(filters, eps=1e-3, momentum=0.01)
        self.short1 = SeparableConv1d(in_chans, filters, 1, stride=2)
        self.short2 = SeparableConv1d(filters, filters, 1, stride=2)
        self.pool = nn.MaxPool1d(2, 2, ceil_mode=True)  # Keras 'same' pooling: the length rounds up
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        main = self.pool(F.relu(self.bn1(self.conv1(x))))
        main = self.pool(F.relu(self.bn2(self.conv2(main))))
        return self.dropout(main + self.short2(self.short1(x)))


class ULWSleepNet(nn.Module):
    """ULW-SleepNet on 30-s epochs: (B, n_chans, n_times) signals -> (B, n_classes) logits.

    The module also holds two non-trainable buffers, ``in_center`` and ``in_scale`` (one value per
    channel), applied as ``(x - in_center) / in_scale`` before the extractor. They default to 0 and 1
    (the reference feeds raw microvolts); training with fixed input scaling stores the training data's
    statistics there, so a saved model file carries its own input scaling.

    Example:
        >>> net = ULWSleepNet(ULWSleepNetConfig(n_chans=4))
        >>> net(torch.zeros(2, 4, 3000)).shape
        torch.Size([2, 5])
    """

    fast_train: bool = True
    """Training forward on CPU via :mod:`neurotrio.sleep.fast` (False: the literal layer-by-layer form).
    Set on an instance, or on the class for every network (as ``benchmarks.sleep_within_recording
    --straightforward`` does)."""

    def __init__(self, config: ULWSleepNetConfig | None = None):
        super().__init__()
        self.config = config = config or ULWSleepNetConfig()
        widths = (1, *config.filters)
        self.blocks = nn.ModuleList(DSSCBlock(widths[i], widths[i + 1], config.block_dropout)
                                    for i in range(len(config.filters)))
        self.head_dropout = nn.Dropout(config.head_dropout)
        self.dense = nn.Linear(config.n_chans * config.filters[-1], config.hidden)
        self.classifier = nn.Linear(config.hidden, config.n_classes)
        self.register_buffer("in_center", torch.zeros(config.n_chans))
        self.register_buffer("in_scale", torch.ones(config.n_chans))

    def check_input(self, x: Tensor) -> None:
        """Raise ``ConfigError`` naming the expected shape when ``x`` is not (B, n_chans, n_times)."""
        c = self.config
        if x.ndim != 3 or x.shape[1] != c.n_chans or x.shape[2] != c.n_times:
            raise ConfigError(f"ULW-SleepNet expects input (batch, {c.n_chans}, {c.n_times}), "
                              f"got {tuple(x.shape)}")

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, C, n_times) -> (B, C * filters[-1]) pooled features, channel-major."""
        self.check_input(x)
        b, c, n = x.shape
        x = (x - self.in_center[:, None]) / self.in_scale[:, None]
        h = x.reshape(b * c, 1, n)
        for block in self.blocks:
            h = block(h)
        return h.mean(-1).reshape(b, -1)

    def forward_head(self, feats: Tensor) -> Tensor:
        """(B, C * filters[-1]) features -> (B, n_classes) logits."""
        return self.classifier(self.dense(self.head_dropout(feats)))

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.fast_train and x.device.type == "cpu" and torch.is_grad_enabled():
            from neurotrio.sleep.fast import supports_fast, train_forward

            if supports_fast(self):  # same function, rearranged for CPUs (see neurotrio.sleep.fast)
                return train_forward(self, x)
        return self.forward_head(self.forward_features(x))

    def set_dense_product(self, enabled: bool) -> ULWSleepNet:
        """Run every separable conv as one product-weight conv (default) or literally as two convs."""
        for m in self.modules():
            if isinstance(m, SeparableConv1d):
                m.dense_product = enabled
        return self

    def flops(self):
        """FLOPs of one epoch under the paper's rule (conv/matmul at 2 per MAC + bias + BN scale/shift),
        counted on the literal depthwise-then-pointwise computation: a ``core.flops.FlopCount``."""
        from neurotrio.core.flops import count_flops

        dense = [m.dense_product for m in self.modules() if isinstance(m, SeparableConv1d)]
        try:
            return count_flops(self.set_dense_product(False), torch.zeros(1, self.config.n_chans, self.config.n_times))
        finally:
            for m, flag in zip((m for m in self.modules() if isinstance(m, SeparableConv1d)), dense):
                m.dense_product = flag

    def fused(self) -> FusedULWSleepNet:
        """An inference-only copy with batch norm, shortcut and head folded (see :class:`FusedULWSleepNet`)."""
        return FusedULWSleepNet(self)


def _fold_separable(sep: SeparableConv1d) -> tuple[Tensor, Tensor]:
    """Weights of the dense conv equal to depthwise then pointwise: W[o, i, k] = P[o, i] * D[i, k]."""
    dw = sep.depthwise.weight[:, 0, :]  # (c_in, k)
    pw = sep.pointwise.weight[:, :, 0]  # (c_out, c_in)
    return pw[:, :, None] * dw[None, :, :], sep.pointwise.bias.clone()


def _fold_bn(weight: Tensor, bias: Tensor, bn: nn.BatchNorm1d) -> tuple[Tensor, Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return weight * scale[:, None, None], (bias - bn.running_mean) * scale + bn.bias


class FusedULWSleepNet(nn.Module):
    """Inference-only ULW-SleepNet with the same outputs as the model it was built from (eval mode).

    Per block: each separable conv + batch norm becomes one dense conv (k=3) with bias; the two
    kernel-1 stride-2 shortcut convs become one kernel-1 stride-4 conv (a product of two linear maps).
    The head's two linear layers (no activation between them) become one matrix. Max-pooling runs
    before ReLU (exact: both are monotonic). The very first conv (one input channel, k=3, then
    max-pool 2) runs on the even/odd sample planes: one conv with 2 inputs and 2 x filters outputs
    gives the conv at even and at odd positions, and their elementwise maximum is the pooled output.
    It is a snapshot: later changes to the source model's weights do not reach it.
    """

    def __init__(self, model: ULWSleepNet):
        super().__init__()
        self.config = model.config
        with torch.no_grad():
            self.in_center = nn.Buffer(model.in_center.detach().clone())
            self.in_scale = nn.Buffer(model.in_scale.detach().clone())
            convs = []
            for block in model.blocks:
                w1, b1 = _fold_bn(*_fold_separable(block.conv1), block.bn1)
                w2, b2 = _fold_bn(*_fold_separable(block.conv2), block.bn2)
                s1, c1 = _fold_separable(block.short1)
                s2, c2 = _fold_separable(block.short2)
                ws = s2[:, :, 0] @ s1[:, :, 0]
                bs = s2[:, :, 0] @ c1 + c2
                convs.append([w1, b1, w2, b2, ws[:, :, None], bs])
            self.weights = nn.ParameterList(nn.Parameter(t.contiguous(), requires_grad=False)
                                            for group in convs for t in group)
            w1 = convs[0][0]  # (f, 1, 3): taps at t-1, t, t+1
            f = w1.shape[0]
            planes = torch.zeros(2 * f, 2, 3)  # inputs: even samples E[j] = x[2j], odd O[j] = x[2j+1]
            planes[:f, 0, 1], planes[:f, 1, 0], planes[:f, 1, 1] = w1[:, 0, 1], w1[:, 0, 0], w1[:, 0, 2]  # at 2j
            planes[f:, 0, 1], planes[f:, 0, 2], planes[f:, 1, 1] = w1[:, 0, 0], w1[:, 0, 2], w1[:, 0, 1]  # at 2j+1
            self.first_planes = nn.Parameter(planes, requires_grad=False)
            self.first_bias = nn.Parameter(torch.cat([convs[0][1], convs[0][1]]), requires_grad=False)
            head_w = model.classifier.weight @ model.dense.weight
            head_b = model.classifier.weight @ model.dense.bias + model.classifier.bias
            self.head_w = nn.Parameter(head_w.contiguous(), requires_grad=False)
            self.head_b = nn.Parameter(head_b.contiguous(), requires_grad=False)
        self.eval()

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, n_times) -> (B, n_classes) logits."""
        c = self.config
        if x.ndim != 3 or x.shape[1] != c.n_chans or x.shape[2] != c.n_times:
            raise ConfigError(f"ULW-SleepNet expects input (batch, {c.n_chans}, {c.n_times}), "
                              f"got {tuple(x.shape)}")
        b, ch, n = x.shape
        h = ((x - self.in_center[:, None]) / self.in_scale[:, None]).reshape(b * ch, 1, n)
        w = list(self.weights)
        for i in range(0, len(w), 6):
            w1, b1, w2, b2, ws, bs = w[i:i + 6]
            if i == 0 and n % 2 == 0:  # conv + pool of the first layer on the even/odd planes
                y = F.conv1d(h.view(b * ch, n // 2, 2).transpose(1, 2), self.first_planes, self.first_bias,
                             padding=1)
                f = w1.shape[0]
                main = torch.maximum(y[:, :f], y[:, f:]).clamp_min_(0)
            else:  # max-pooling before ReLU: exact and halves the ReLU work
                main = F.max_pool1d(F.conv1d(h, w1, b1, padding=1), 2, 2, ceil_mode=True).clamp_min_(0)
            main = F.max_pool1d(F.conv1d(main, w2, b2, padding=1), 2, 2, ceil_mode=True).clamp_min_(0)
            every4 = h[:, :, ::4]  # the shortcut: kernel 1, stride 4 (a strided conv is slower here)
            if every4.shape[1] == 1:
                h = main.addcmul_(ws[:, 0, :], every4).add_(bs[:, None])
            else:
                h = F.conv1d(every4.contiguous(), ws, bs).add_(main)
        feats = h.mean(-1).reshape(b, -1)
        return F.linear(feats, self.head_w, self.head_b)


def build_model(config: ULWSleepNetConfig | None = None, **overrides) -> ULWSleepNet:
    """Build ULW-SleepNet from a config, with field overrides (``build_model(n_chans=2)``)."""
    import dataclasses

    config = config or ULWSleepNetConfig()
    try:
        config = dataclasses.replace(config, **overrides)
    except TypeError as exc:
        names = ", ".join(f.name for f in dataclasses.fields(ULWSleepNetConfig))
        raise ConfigError(f"unknown ULW-SleepNet setting ({exc}). Known: {names}") from None
    return ULWSleepNet(config)


# --------------------------------------------------------------------------- model files and input scaling

@dataclass
class SleepModel:
    """A ULW-SleepNet with what is needed to use it on a recording.

    Attributes:
        net: the network (eval mode).
        channels: channel names, in the order of the network's input rows.
        normalization: "fixed" (scaling stored in the network's buffers), "recording" (per-recording,
            per-channel median / robust std computed at scoring time) or "none" (raw microvolts).
        metadata: everything stored in the file (training data, config, provenance).
        path: the file it came from, if any.
    """

    net: ULWSleepNet
    channels: tuple[str, ...]
    normalization: str = "fixed"
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def config(self) -> ULWSleepNetConfig:
        return self.net.config


def save_model(model: SleepModel, path: str | Path, **extra: Any) -> Path:
    """Write weights + config + channels + normalization (and ``extra`` metadata) to one safetensors file."""
    from neurotrio.core.checkpoint import save_weights
    from neurotrio.core.config import to_dict

    meta = {**model.metadata, **extra, "architecture": ARCHITECTURE, "config": to_dict(model.config),
            "channels": list(model.channels), "normalization": model.normalization}
    return save_weights(model.net, path, metadata=meta)


def load_model(path: str | Path | None = None) -> SleepModel:
    """Load a ULW-SleepNet model file (safetensors only; no pickle is ever read).

    Args:
        path: a file written by :func:`save_model` / ``neurotrio sleep train``; None loads the embedded
            default (trained on part of one Sleep-EDF night: see the package README).

    Raises:
        CheckpointError: missing file, not safetensors (e.g. a pickle), or another architecture.
    """
    from neurotrio.core.checkpoint import load_state_into, read_weights
    from neurotrio.core.config import from_dict

    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    state, meta = read_weights(path)
    if meta.get("architecture") != ARCHITECTURE or "config" not in meta:
        raise CheckpointError(path, f"not a ULW-SleepNet model file (architecture "
                                    f"{meta.get('architecture', 'unknown')!r}); train one with `neurotrio sleep train`")
    try:
        config = from_dict(ULWSleepNetConfig, meta["config"])
        channels = tuple(str(c) for c in meta["channels"])
        normalization = str(meta.get("normalization", "fixed"))
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"unreadable ULW-SleepNet metadata ({exc})") from None
    if len(channels) != config.n_chans or normalization not in NORMALIZATIONS:
        raise CheckpointError(path, f"inconsistent metadata: {len(channels)} channels for n_chans={config.n_chans}, "
                                    f"normalization {normalization!r}")
    net = ULWSleepNet(config)
    load_state_into(net, state, path)
    return SleepModel(net.eval(), channels, normalization, meta, path)


def model_summary(path: str | Path | None = None) -> str:
    """A few lines describing a model file: architecture, parameters, FLOPs, channels, training data."""
    from neurotrio.core.flops import count_params

    m = load_model(path)
    cfg = m.config
    flops = m.net.flops()
    return "\n".join([
        f"model: {m.path}",
        f"architecture: ULW-SleepNet, filters {list(cfg.filters)}, head {cfg.n_chans}x{cfg.filters[-1]} -> "
        f"{cfg.hidden} -> {cfg.n_classes}",
        f"input: {cfg.n_chans} channels ({', '.join(m.channels)}) x {cfg.n_times} samples "
        f"({cfg.epoch_s:g} s at {cfg.sfreq_hz:g} Hz), normalization {m.normalization}",
        f"trainable parameters: {count_params(m.net):,}",
        f"FLOPs per epoch: {flops.total / 1e6:.3f}M ({flops.matmul_conv / 1e6:.3f}M conv/matmul + "
        f"{flops.bias / 1e6:.3f}M bias + {flops.norm / 1e6:.3f}M batch norm)",
        f"trained on: {m.metadata.get('trained_on', 'not recorded')}",
    ])
