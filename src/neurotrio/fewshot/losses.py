"""Losses: TET (temporal efficient training) and InfoNCE over (query, class prototype) pairs.

TET (Deng et al., ICLR 2022): ``L_TET = mean_t CE(O_t, y)``; the total adds a regulariser pulling every
output towards φ: ``(1 − λ)·L_TET + λ·MSE(O, φ)`` with λ = 1e-3 and φ = 1.0 (as the TET code). The
prediction is the mean of the outputs over T.

InfoNCE: for each query, the cosine similarity to its own class prototype is the positive and the
similarities to the other N − 1 prototypes are the negatives:
``−log(exp(s_pos/τ) / Σ_n exp(s_n/τ))``, averaged over queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class LossConfig:
    """Weights of the few-shot objective ``w_tet · TET + w_nce · InfoNCE``.

    Attributes:
        tet_lambda: λ of the MSE regulariser inside TET.
        tet_phi: φ, the MSE target.
        w_tet: weight of the TET term (on the CFC logits, per time step).
        w_nce: weight of the InfoNCE term (on pooled embeddings vs prototypes).
        nce_temperature: τ of InfoNCE.
    """

    tet_lambda: float = 1e-3
    tet_phi: float = 1.0
    w_tet: float = 1.0
    w_nce: float = 0.5
    nce_temperature: float = 0.1


def tet_loss(outputs: Tensor, target: Tensor, lam: float = 1e-3, phi: float = 1.0) -> Tensor:
    """TET loss.

    Args:
        outputs: logits per time step, ``(B, T, K)``.
        target: class indices ``(B,)``.
        lam: weight λ of the MSE term.
        phi: the MSE target value φ.

    Returns:
        Scalar ``(1 − λ)·mean_t CE(O_t, y) + λ·mean((O − φ)²)``.

    Example:
        >>> tet_loss(torch.zeros(1, 2, 2), torch.tensor([0]), lam=0.0)   # CE of uniform 2-class = ln 2
        tensor(0.6931)
    """
    b, t, k = outputs.shape
    ce = F.cross_entropy(outputs.reshape(b * t, k), target.repeat_interleave(t))
    mse = F.mse_loss(outputs, torch.full_like(outputs, phi))
    return (1.0 - lam) * ce + lam * mse


def tet_predict(outputs: Tensor) -> Tensor:
    """Class scores as the mean of ``(B, T, K)`` outputs over T → ``(B, K)``."""
    return outputs.mean(dim=1)


def info_nce(query: Tensor, protos: Tensor, target: Tensor, temperature: float = 0.1) -> Tensor:
    """InfoNCE over (query, prototype) pairs.

    Args:
        query: embeddings ``(Q, D)``.
        protos: class prototypes ``(N, D)``.
        target: each query's class index in ``[0, N)``, ``(Q,)``.
        temperature: τ.

    Returns:
        Scalar mean over queries of ``−log softmax(cos(q, p_n)/τ)[y]``.
    """
    sims = F.cosine_similarity(query.unsqueeze(1), protos.unsqueeze(0), dim=-1)  # (Q, N)
    return F.cross_entropy(sims / temperature, target)


def fewshot_loss(logits: Tensor, query_emb: Tensor, protos_emb: Tensor, target: Tensor,
                 cfg: LossConfig = LossConfig()) -> Tensor:
    """The episode objective ``w_tet · TET(logits) + w_nce · InfoNCE(query, prototypes)``.

    Args:
        logits: CFC logits ``(Q, T, N)``.
        query_emb: pooled query embeddings ``(Q, D)``; protos_emb: ``(N, D)``.
        target: ``(Q,)`` episode labels.
    """
    loss = cfg.w_tet * tet_loss(logits, target, cfg.tet_lambda, cfg.tet_phi)
    if cfg.w_nce:
        loss = loss + cfg.w_nce * info_nce(query_emb, protos_emb, target, cfg.nce_temperature)
    return loss
