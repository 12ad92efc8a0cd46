"""Cross-Feature Contrastive module (CFC): query–support cross-correlation attention, cosine logits.

A reading of FSL-SNN's CFC after RENet's cross-correlational attention (CCA, without its learned 4-D
convolution, which the FSL-SNN paper does not describe): for every (query, class prototype) pair the
cosine correlation between all query positions and all prototype positions is computed; each map is
Gaussian-normalised, turned into attention with a softmax at ``temperature_attn``, and summed into one
attention weight per position (how well that position is matched by the other image). The attended
query and prototype maps are averaged over positions and compared by cosine similarity divided by
``temperature``; these are the logits.

Time steps are handled independently (the module sees ``T`` folded into the batch), so the logits keep
their T axis, as TET needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class CFCConfig:
    """CFC hyper-parameters.

    Attributes:
        temperature: divides the cosine similarity in the logits (RENet uses 0.2; cosine in [-1, 1]).
        temperature_attn: softmax temperature of the attention over positions (RENet: 5.0 after
            Gaussian normalisation).
    """

    temperature: float = 0.2
    temperature_attn: float = 5.0


def _gaussian_normalize(x: Tensor, dim: int, eps: float = 1e-5) -> Tensor:
    mean = x.mean(dim=dim, keepdim=True)
    var = x.var(dim=dim, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


def correlation_map(query: Tensor, protos: Tensor) -> Tensor:
    """Cosine correlation of every query position with every prototype position.

    Args:
        query: ``(Q, C, H, W)``.
        protos: ``(N, C, H, W)``.

    Returns:
        ``(Q, N, Hs·Ws, Hq·Wq)`` with values in [-1, 1] (features are centred over channels first).
    """
    q = F.normalize(query - query.mean(1, keepdim=True), dim=1).flatten(2)   # (Q, C, HWq)
    s = F.normalize(protos - protos.mean(1, keepdim=True), dim=1).flatten(2)  # (N, C, HWs)
    return torch.einsum("ncs,qcr->qnsr", s, q)


class CFC(nn.Module):
    """Cross-correlation attention and cosine/temperature logits.

    Shapes:
        ``query (Q, T, C, H, W)``, ``protos (N, T, C, H, W)`` → logits ``(Q, T, N)``.
    """

    def __init__(self, cfg: CFCConfig = CFCConfig()):
        super().__init__()
        self.cfg = cfg

    def attend(self, query: Tensor, protos: Tensor) -> tuple[Tensor, Tensor]:
        """Attended, pooled embeddings for one time step.

        Args:
            query: ``(Q, C, H, W)``; protos: ``(N, C, H, W)``.

        Returns:
            ``(q_att, s_att)``, both ``(Q, N, C)``: query pooled under attention from prototype n and
            prototype n pooled under attention from the query.
        """
        corr = correlation_map(query, protos)  # (Q, N, S, R)
        hw = corr.shape[-1]
        if hw > 1:
            tau = self.cfg.temperature_attn
            attn_s = F.softmax(_gaussian_normalize(corr, dim=2) / tau, dim=2).sum(dim=3)  # (Q, N, S)
            attn_q = F.softmax(_gaussian_normalize(corr, dim=3) / tau, dim=3).sum(dim=2)  # (Q, N, R)
        else:  # a 1×1 map has nothing to attend over
            attn_s = attn_q = corr.new_ones(corr.shape[:3])
        s_att = torch.einsum("qns,ncs->qnc", attn_s, protos.flatten(2)) / hw
        q_att = torch.einsum("qnr,qcr->qnc", attn_q, query.flatten(2)) / hw
        return q_att, s_att

    def forward(self, query: Tensor, protos: Tensor) -> Tensor:
        t = query.shape[1]
        logits = []
        for step in range(t):
            q_att, s_att = self.attend(query[:, step], protos[:, step])
            logits.append(F.cosine_similarity(q_att, s_att, dim=-1) / self.cfg.temperature)
        return torch.stack(logits, dim=1)
