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

        Note:
            The correlation is one matrix product laid out ``(N, S, Q, R)`` (no permuted copy), and the
            Gaussian normalisation before the softmax divides by the standard deviation only: the softmax
            is unchanged by subtracting the mean, so this equals RENet's normalise-then-softmax while
            passing over the ``Q·N·S·R`` volume fewer times (it dominates 20-way episodes on 7×7 maps).
        """
        q = F.normalize(query - query.mean(1, keepdim=True), dim=1).flatten(2)   # (Q, C, R)
        s = F.normalize(protos - protos.mean(1, keepdim=True), dim=1).flatten(2)  # (N, C, S)
        (n, c, hs), (nq, _, hw) = s.shape, q.shape
        corr = torch.mm(s.transpose(1, 2).reshape(n * hs, c), q.transpose(0, 1).reshape(c, nq * hw))
        corr = corr.view(n, hs, nq, hw)  # (N, S, Q, R)
        if hw > 1:
            tau, eps = self.cfg.temperature_attn, 1e-5
            attn_s = F.softmax(corr / (tau * torch.sqrt(corr.var(dim=1, keepdim=True, unbiased=False) + eps)),
                               dim=1).sum(dim=3)  # (N, S, Q)
            attn_q = F.softmax(corr / (tau * torch.sqrt(corr.var(dim=3, keepdim=True, unbiased=False) + eps)),
                               dim=3).sum(dim=1)  # (N, Q, R)
        else:  # a 1×1 map has nothing to attend over
            attn_s = corr.new_ones(n, hs, nq)
            attn_q = corr.new_ones(n, nq, hw)
        s_att = torch.einsum("nsq,ncs->qnc", attn_s, protos.flatten(2)) / hw
        q_att = torch.einsum("nqr,qcr->qnc", attn_q, query.flatten(2)) / hw
        return q_att, s_att

    def forward(self, query: Tensor, protos: Tensor) -> Tensor:
        t = query.shape[1]
        logits = []
        for step in range(t):
            q_att, s_att = self.attend(query[:, step], protos[:, step])
            logits.append(F.cosine_similarity(q_att, s_att, dim=-1) / self.cfg.temperature)
        return torch.stack(logits, dim=1)
