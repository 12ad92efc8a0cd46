"""FSL-SNN (backbone → SFE → CFC) and the SNN prototypical-network baseline, with one interface.

Both models share: ``embed(x) -> (B, T, C, H, W)`` feature maps, a linear pre-training head over the
base classes (``forward(x) -> (B, T, n_base)`` logits, for TET pre-training), and
``episode(support, support_labels, query, n_way) -> EpisodeOutput`` whose logits are ``(Q, T, N)``.

Example:
    >>> cfg = FSLSNNConfig(backbone=BackboneConfig(width=0.25, time_steps=2), n_base_classes=10)
    >>> model = build_model(cfg)
    >>> out = model.episode(torch.rand(5, 1, 28, 28), torch.arange(5), torch.rand(10, 1, 28, 28), n_way=5)
    >>> out.logits.shape
    torch.Size([10, 2, 5])
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurotrio.core.errors import ConfigError
from neurotrio.fewshot.cfc import CFC, CFCConfig
from neurotrio.fewshot.model import BackboneConfig, SpikingVGG
from neurotrio.fewshot.sfe import SFE, SFEConfig


@dataclass(frozen=True)
class FSLSNNConfig:
    """Few-shot model configuration.

    Attributes:
        backbone: the spiking VGG (or its ANN twin with ``backbone.neuron="relu"``).
        method: ``"fslsnn"`` (SFE + CFC) or ``"protonet"`` (mean support embedding, no SFE/CFC).
        use_sfe: ablation switch for the SFE inside ``"fslsnn"``.
        sfe, cfc: module settings.
        metric: ProtoNet distance, ``"cosine"`` (cos/``proto_temperature``) or ``"sqeuclidean"`` (−‖·‖²).
        proto_temperature: temperature of ProtoNet's cosine logits.
        n_base_classes: classes of the pre-training head (0: no head).
    """

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    method: Literal["fslsnn", "protonet"] = "fslsnn"
    use_sfe: bool = True
    sfe: SFEConfig = field(default_factory=SFEConfig)
    cfc: CFCConfig = field(default_factory=CFCConfig)
    metric: Literal["cosine", "sqeuclidean"] = "cosine"
    proto_temperature: float = 0.1
    n_base_classes: int = 0


class EpisodeOutput(NamedTuple):
    """``logits (Q, T, N)``, pooled ``query_emb (Q, D)`` and ``proto_emb (N, D)`` (for InfoNCE)."""

    logits: Tensor
    query_emb: Tensor
    proto_emb: Tensor


def class_means(x: Tensor, labels: Tensor, n_way: int) -> Tensor:
    """Mean of ``x`` (S, ...) per label in ``[0, n_way)`` → ``(n_way, ...)``."""
    onehot = F.one_hot(labels, n_way).to(x.dtype)  # (S, N)
    counts = onehot.sum(0)
    if bool((counts == 0).any()):
        raise ConfigError(f"support labels must cover all {n_way} classes, got counts {counts.tolist()}")
    return torch.einsum("sn,s...->n...", onehot, x) / counts.view(-1, *([1] * (x.dim() - 1)))


class FewShotNet(nn.Module, abc.ABC):
    """Shared part: backbone, optional pre-training head, embedding and pooling."""

    def __init__(self, cfg: FSLSNNConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = SpikingVGG(cfg.backbone)
        self.head = nn.Linear(self.backbone.out_channels, cfg.n_base_classes) if cfg.n_base_classes > 0 else None

    @property
    def time_steps(self) -> int:
        return self.cfg.backbone.time_steps

    def embed(self, x: Tensor) -> Tensor:
        """Images ``(B, C, H, W)`` or event frames ``(B, T, C, H, W)`` → feature maps ``(B, T, C', H', W')``."""
        return self.backbone(x)

    def forward(self, x: Tensor) -> Tensor:
        """Pre-training logits over the base classes, per time step: ``(B, T, n_base)``."""
        if self.head is None:
            raise ConfigError("this model has no pre-training head (n_base_classes=0)")
        return self.head(self.embed(x).mean(dim=(3, 4)))

    def episode(self, support: Tensor, support_labels: Tensor, query: Tensor, n_way: int) -> EpisodeOutput:
        """Embed support and query in one pass, then score each query against each class."""
        feats = self.embed(torch.cat([support, query]))
        return self.episode_from_features(feats[: len(support)], support_labels, feats[len(support):], n_way)

    @abc.abstractmethod
    def episode_from_features(self, support_f: Tensor, support_labels: Tensor, query_f: Tensor,
                              n_way: int) -> EpisodeOutput:
        """Score ``query_f (Q, T, C, H, W)`` against the classes of ``support_f (S, T, C, H, W)``."""


class FSLSNN(FewShotNet):
    """Backbone → SFE (F = F0 + F1) → CFC logits against class-prototype feature maps."""

    def __init__(self, cfg: FSLSNNConfig):
        super().__init__(cfg)
        self.sfe = SFE(self.backbone.out_channels, cfg.backbone.time_steps, cfg.sfe) if cfg.use_sfe else None
        self.cfc = CFC(cfg.cfc)

    def embed(self, x: Tensor) -> Tensor:
        f0 = self.backbone(x)
        return self.sfe(f0) if self.sfe is not None else f0

    def episode_from_features(self, support_f: Tensor, support_labels: Tensor, query_f: Tensor,
                              n_way: int) -> EpisodeOutput:
        protos = class_means(support_f, support_labels, n_way)  # (N, T, C, H, W)
        logits = self.cfc(query_f, protos)
        return EpisodeOutput(logits, query_f.mean(dim=(1, 3, 4)), protos.mean(dim=(1, 3, 4)))


class ProtoNet(FewShotNet):
    """SNN prototypical network: per-time-step pooled embeddings, prototypes = mean support embedding."""

    def episode_from_features(self, support_f: Tensor, support_labels: Tensor, query_f: Tensor,
                              n_way: int) -> EpisodeOutput:
        s = support_f.mean(dim=(3, 4))  # (S, T, C)
        q = query_f.mean(dim=(3, 4))    # (Q, T, C)
        protos = class_means(s, support_labels, n_way)  # (N, T, C)
        if self.cfg.metric == "cosine":
            logits = F.cosine_similarity(q.unsqueeze(2), protos.transpose(0, 1).unsqueeze(0), dim=-1)
            logits = logits / self.cfg.proto_temperature  # (Q, T, N)
        else:
            logits = -((q.unsqueeze(2) - protos.transpose(0, 1).unsqueeze(0)) ** 2).sum(-1)
        return EpisodeOutput(logits, q.mean(1), protos.mean(1))


def build_model(cfg: FSLSNNConfig) -> FewShotNet:
    """The model ``cfg.method`` names."""
    if cfg.method == "fslsnn":
        return FSLSNN(cfg)
    if cfg.method == "protonet":
        if cfg.metric not in ("cosine", "sqeuclidean"):
            raise ConfigError(f"ProtoNet metric must be 'cosine' or 'sqeuclidean', got {cfg.metric!r}")
        return ProtoNet(cfg)
    raise ConfigError(f"unknown few-shot method {cfg.method!r}; choose 'fslsnn' or 'protonet'")
