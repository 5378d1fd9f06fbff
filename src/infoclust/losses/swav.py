"""IMC-SwAV's losses (Ntelemis et al. 2021, on SwAV of Caron et al. 2020): the equal-partition codes
of Sinkhorn-Knopp, the swapped prediction, the classifier's MI with the prototype assignments and
its logit penalty. Shapes: B samples, k' prototypes, K clusters, V views.

``reduce(t, op)`` combines a tensor over the processes of a distributed run with ``op`` "sum" or
"max" (``DistContext.combine``; None in one process), so each function sees the global batch.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

Combine = Callable[[torch.Tensor, str], torch.Tensor]


def _local(t: torch.Tensor, op: str) -> torch.Tensor:
    return t


@torch.no_grad()
def sinkhorn(scores: torch.Tensor, eps: float = 0.05, iters: int = 3, reduce: Combine | None = None) -> torch.Tensor:
    """SwAV's codes: …×B×k' prototype scores → …×B×k' assignments Q whose rows each sum to 1 and
    whose columns share the batch equally (SwAV's ``distributed_sinkhorn``; IMC-SwAV eqs. (3), (4));
    leading dimensions (e.g. the assigned views) are independent problems solved at once.

    Q ∝ exp(scores / eps) is rescaled ``iters`` times, first so that every prototype holds 1/k' of
    the global batch's mass (a sum over all processes' samples), then so that every sample holds
    1/B; the result is scaled by B. Computed in the log domain with each prototype's global maximum
    subtracted before any exponential, so a small ``eps`` or large scores neither overflow nor
    underflow (SwAV's code exponentiates directly). Not differentiable: codes are targets."""
    if scores.dim() < 2:
        raise ValueError(f"expected B×k' scores, got shape {tuple(scores.shape)}")
    combine = reduce or _local
    log_q = scores.double() / eps
    k = scores.shape[-1]
    # the global batch, made on the device (no copy from the host inside a step)
    batch = combine(scores.new_full((), scores.shape[-2], dtype=torch.float64), "sum")
    for _ in range(iters):
        top = combine(log_q.max(dim=-2, keepdim=True).values, "max")  # …×1×k' each prototype's global maximum
        row_mass = combine((log_q - top).exp().sum(dim=-2, keepdim=True), "sum")
        log_q = log_q - (top + row_mass.log()) - math.log(k)
        log_q = log_q - torch.logsumexp(log_q, dim=-1, keepdim=True) - batch.log()
    return (log_q + batch.log()).exp().to(scores.dtype)


def swapped_prediction_loss(codes: list[torch.Tensor], scores: list[torch.Tensor], temperature: float = 0.1,
                            ) -> torch.Tensor:
    """SwAV's swapped prediction (IMC-SwAV eq. (1)): for the code Q_i (B×k', rows sum to 1) of each
    assigned view i = 0 … len(codes) − 1, the cross-entropy −mean_b Σ Q_i log softmax(u_v / τ)
    against the scores u_v (B×k') of every other view v of ``scores`` (V views; view i's own scores
    are skipped), averaged over all such (i, v) pairs, every pair in one tensor expression. ≥ 0."""
    if len(scores) < 2 or not 0 < len(codes) <= len(scores):
        raise ValueError(f"expected codes of 1 to V views and V ≥ 2 views of scores, got {len(codes)} and {len(scores)}")
    log_p = torch.log_softmax(torch.stack(scores) / temperature, dim=-1)  # V×B×k'
    q = torch.stack(codes)  # A×B×k'
    cross = -torch.einsum("abk,vbk->av", q, log_p) / q.shape[1]  # A×V
    others = 1 - torch.eye(len(codes), len(scores), dtype=cross.dtype, device=cross.device)
    return (cross * others).sum() / (len(codes) * (len(scores) - 1))  # no boolean indexing: no host sync


def imc_mi_loss(class_logits: torch.Tensor, prototype_scores: torch.Tensor, beta: float = 4.0,
                temperature: float = 0.1, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
                eps: float = 1e-30) -> torch.Tensor:
    """IMC-SwAV's clustering loss of (prototype view, classifier view) pairs, eq. (6): H(Y|U) − β H(Y)
    in nats, from the classifier's logits (…×B×K) and the prototype scores (…×B×k'), the leading
    dimensions broadcast (W×B×K logits against V×1×B×k' scores: all V × W pairs at once, V×W
    losses; B×K against B×k': one pair, a 0-d loss).

    P_Y = softmax(logits), P_U = softmax(scores / τ); the joint p(y, u) = P_Yᵀ P_U normalised to sum
    to 1 (K×k', not symmetrised, as the code), its marginals p(y), p(u). β = 1 gives −I(Y; U).
    ``reduce`` averages the joints over processes (differentiable; None in one process); ``eps``
    floors the joint inside the logarithms only (the code has no floor)."""
    if class_logits.dim() < 2 or prototype_scores.dim() < 2 or class_logits.shape[-2] != prototype_scores.shape[-2]:
        raise ValueError(f"expected B×K logits and B×k' scores of one batch, got {tuple(class_logits.shape)} "
                         f"and {tuple(prototype_scores.shape)}")
    joint = class_logits.softmax(dim=-1).transpose(-1, -2) @ (prototype_scores / temperature).softmax(dim=-1)
    if reduce is not None:
        joint = reduce(joint)
    joint = joint / joint.sum(dim=(-2, -1), keepdim=True)
    p_y, p_u = joint.sum(dim=-1), joint.sum(dim=-2)
    h_y_given_u = (joint * (p_u.clamp_min(eps).log().unsqueeze(-2) - joint.clamp_min(eps).log())).sum(dim=(-2, -1))
    h_y = -(p_y * p_y.clamp_min(eps).log()).sum(dim=-1)
    return h_y_given_u - beta * h_y


def logit_penalty(class_logits: torch.Tensor, bound: float = 5.0) -> torch.Tensor:
    """mean_b Σ_k relu(|y_bk| − bound) of …×B×K logits (the mean over every leading index too):
    keeps the classifier's logits within ±bound (IMC-SwAV code, weight 0.01 applied by the
    caller). 0 when every logit is within the bound."""
    return torch.relu(class_logits.abs() - bound).sum(dim=-1).mean()
