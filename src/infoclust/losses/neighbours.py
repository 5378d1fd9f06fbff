"""Losses between a sample and one of its nearest neighbours in an embedding (TEMI).

Shapes as in ``posteriors``: row-stochastic …×N×K tensors, one loss per leading index (a scalar
for N×K).
"""
from __future__ import annotations

import torch


def temi_loss(student: torch.Tensor, teacher: torch.Tensor, marginal: torch.Tensor, beta: float = 0.6,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """TEMI's weighted β-pointwise MI (Adaloglou et al. 2023, eq. 5–7) to minimise:

    ``mean_i −w_i · log Σ_k (s_ik · t_ik)^β / p̃_k``

    ``student`` s and ``teacher`` t: …×N×K posteriors of the two sides of each pair (a sample and
    its neighbour); ``marginal`` p̃: …×K cluster marginal (TEMI: the teacher's, an EMA);
    ``weight`` w: …×N (TEMI: Σ_k t_ik t'_ik, the teacher's agreement on the pair, no gradient) or
    None for 1. Differentiable in every input; ``beta`` = 1 without weight is the plain PMI.
    """
    if student.shape != teacher.shape or student.dim() < 2:
        raise ValueError(f"expected student and teacher posteriors of one …×N×K shape, got {tuple(student.shape)} "
                         f"and {tuple(teacher.shape)}")
    tiny = torch.finfo(student.dtype).tiny  # (s·t)^β has an infinite slope at 0
    pmi = ((student * teacher).clamp_min(tiny).pow(beta) / marginal.unsqueeze(-2)).sum(-1).log()
    if weight is not None:
        pmi = weight * pmi
    return -pmi.mean(-1)
