"""Losses on cluster posteriors (IIC, IMSAT, the KL regulariser of Peng et al.).

Every function takes row-stochastic tensors (each row a probability vector over K clusters, e.g. the
output of ``softmax``) of shape N×K, or …×N×K for several heads at once (one loss per leading
index, no Python loop), and returns the loss to *minimise*: a scalar for N×K, shape (…) otherwise.

``reduce`` averages a tensor over the processes of a distributed run (the identity in one process,
see ``infoclust.distributed``; differentiable). The whole-batch statistics go through it, so with
equal shards the loss is the one-process loss of the global batch.
"""
from __future__ import annotations

import sys
from typing import Callable

import torch

EPS = sys.float_info.epsilon  # 2.22e-16, the clamp floor of the IIC reference code
Reduce = Callable[[torch.Tensor], torch.Tensor]


def no_reduce(t: torch.Tensor) -> torch.Tensor:
    """The ``reduce`` of one process."""
    return t


def _check_pair(p: torch.Tensor, p_prime: torch.Tensor) -> None:
    if p.dim() < 2 or p.shape != p_prime.shape:
        raise ValueError(
            f"expected two N×K posterior tensors of the same shape, got {tuple(p.shape)} and "
            f"{tuple(p_prime.shape)}"
        )


def joint_distribution(p: torch.Tensor, p_prime: torch.Tensor, reduce: Reduce = no_reduce) -> torch.Tensor:
    """Symmetrised joint P(z, z') (…×K×K, each sums to 1) of paired posteriors p, p' (…×N×K). IIC eq. (2)."""
    _check_pair(p, p_prime)
    joint = reduce(p.transpose(-1, -2) @ p_prime)  # Σ_n p_n p'_nᵀ
    joint = (joint + joint.transpose(-1, -2)) / 2
    return joint / joint.sum(dim=(-1, -2), keepdim=True)


def iic_loss(
    p: torch.Tensor, p_prime: torch.Tensor, lamb: float = 1.0, eps: float = EPS, reduce: Reduce = no_reduce
) -> torch.Tensor:
    """IIC loss ``−Σ_ij P_ij (log P_ij − λ log P_i − λ log P_j)`` for paired posteriors (…×N×K each).

    With ``lamb = 1`` this is exactly ``−I(z, z')`` (IIC eq. (3)), so the value is **negative**: it
    lies in [−log K, 0] and reaches −log K when the pairs agree and the clusters are balanced.
    ``lamb > 1`` rewards the marginal entropy more. The joint and its marginals are clamped to
    ``eps`` out of place (no in-place writes to expanded views), so the loss is finite and
    differentiable for one-hot and uniform inputs alike.
    """
    return joint_loss(joint_distribution(p, p_prime, reduce), lamb, eps)


def joint_loss(joint: torch.Tensor, lamb: float = 1.0, eps: float = EPS) -> torch.Tensor:
    """``−Σ_ij P_ij (log P_ij − λ log P_i − λ log P_j)`` of joints P (…×K×K, each summing to 1) → (…):
    ``iic_loss`` once the joint is made (−I(z, z') at λ = 1)."""
    p_i = joint.sum(dim=-1, keepdim=True).clamp_min(eps)  # …×K×1, broadcast over columns
    p_j = joint.sum(dim=-2, keepdim=True).clamp_min(eps)  # …×1×K, broadcast over rows
    joint = joint.clamp_min(eps)
    return -(joint * (joint.log() - lamb * p_i.log() - lamb * p_j.log())).sum(dim=(-1, -2))


def displaced_joints(y: torch.Tensor, y_prime: torch.Tensor, d: int, mask: torch.Tensor | None = None,
                     mask_prime: torch.Tensor | None = None, reduce: Reduce = no_reduce) -> torch.Tensor:
    """IIC eq. (5)'s joints P_t for every displacement t = (t_y, t_x) ∈ [−d, d]² of per-pixel
    posteriors y, y' (n×K×H×W each, y' already brought back to y's pixel grid by g⁻¹):
    P_t ∝ Σ_i Σ_u y_i,u y'_i,u+tᵀ over the pixel pairs inside the image, symmetrised and normalised
    to sum 1 → ((2d+1)², K, K), row-major in t (index (t_y + d)(2d + 1) + t_x + d). All
    displacements at once as a cross-correlation, computed through the FFT (the paper's code
    convolves y with y' as an H×W kernel: the same sums, to float32 rounding, in a fraction of the
    time at the papers' image sizes; docs/methods.md). Pixels whose ``mask`` (n×1×H×W, 1 = use,
    0 = ignore; ``mask_prime`` for y') is 0 take no part."""
    if y.dim() != 4 or y.shape != y_prime.shape:
        raise ValueError(f"expected two n×K×H×W posterior tensors of the same shape, got {tuple(y.shape)} and "
                         f"{tuple(y_prime.shape)}")
    if mask is not None:
        y = y * mask
    if mask_prime is not None:
        y_prime = y_prime * mask_prime
    sums = displaced_products(y, y_prime, d)
    k = y.shape[1]
    joints = reduce(sums.permute(2, 3, 0, 1).reshape(-1, k, k))
    joints = (joints + joints.transpose(-1, -2)) / 2
    return joints / joints.sum(dim=(-1, -2), keepdim=True).clamp_min(EPS)


def displaced_products(y: torch.Tensor, y_prime: torch.Tensor, d: int) -> torch.Tensor:
    """out[a, b, i, j] = Σ_n Σ_u y[n, a, u] y'[n, b, u + t] for t = (i − d, j − d), pixel pairs
    inside the image only (n×K×H×W each → K×K×(2d+1)×(2d+1)): every displacement's products at
    once, by the FFT of both zero-padded to (H + 2d)×(W + 2d), where no pair wraps around. The
    FFT's rounding can leave a sum of zero products a hair below 0: clamped at 0."""
    h, w = y.shape[-2:]
    size = (h + 2 * d, w + 2 * d)
    spectra = torch.einsum("nahw,nbhw->abhw", torch.fft.rfft2(y, s=size).conj(), torch.fft.rfft2(y_prime, s=size))
    correlation = torch.fft.irfft2(spectra, s=size)  # [a, b, t mod size] = Σ_u y[u] y'[u + t]
    rows = torch.arange(-d, d + 1, device=y.device) % size[0]
    cols = torch.arange(-d, d + 1, device=y.device) % size[1]
    return correlation[:, :, rows][:, :, :, cols].clamp_min(0)


def dense_iic_loss(y: torch.Tensor, y_prime: torch.Tensor, d: int = 10, lamb: float = 1.0,
                   mask: torch.Tensor | None = None, mask_prime: torch.Tensor | None = None,
                   reduce: Reduce = no_reduce) -> torch.Tensor:
    """IIC's segmentation loss, eq. (5): −(1/|T|) Σ_t I(P_t) over the displacements t ∈ [−d, d]² of
    ``displaced_joints`` (with λ as ``iic_loss``) → scalar."""
    return joint_loss(displaced_joints(y, y_prime, d, mask, mask_prime, reduce), lamb).mean()


def paired_mi(p: torch.Tensor, p_prime: torch.Tensor) -> torch.Tensor:
    """I(z, z') in nats (≥ 0) of paired posteriors (…×N×K each); the negative of ``iic_loss`` at λ=1."""
    return -iic_loss(p, p_prime, lamb=1.0)


def entropy(p: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Shannon entropy in nats of each row of p (…×K) → (…), with ``eps`` inside the log (IMSAT)."""
    return -(p * (p + eps).log()).sum(dim=-1)


def marginal_mi(p: torch.Tensor, eps: float = 1e-8, reduce: Reduce = no_reduce) -> tuple[torch.Tensor, torch.Tensor]:
    """IMSAT's estimate of I(X, Y) = H(Y) − H(Y|X) from posteriors p (…×N×K): returns (H(Y), H(Y|X)).

    H(Y) is the entropy of the batch-mean posterior, H(Y|X) the mean entropy of each row.
    """
    if p.dim() < 2:
        raise ValueError(f"expected N×K posteriors, got shape {tuple(p.shape)}")
    return entropy(reduce(p.mean(dim=-2)), eps), entropy(p, eps).mean(dim=-1)


def imsat_loss(p: torch.Tensor, lam: float = 0.1, mu: float = 4.0, eps: float = 1e-8,
               reduce: Reduce = no_reduce) -> torch.Tensor:
    """IMSAT's weighted MI term to minimise, ``λ (H(Y|X) − μ H(Y))`` for posteriors p (…×N×K).

    With the IMSAT code's λ = 0.1, μ = 4 it is negative once clusters are confident and balanced;
    its minimum is −λ μ log K (one-hot rows, uniform marginal). ``mu = 1`` gives −λ I(X, Y).
    """
    h_y, h_y_given_x = marginal_mi(p, eps, reduce)
    return lam * (h_y_given_x - mu * h_y)


def kl_divergence(target: torch.Tensor, p: torch.Tensor, eps: float = 1e-16) -> torch.Tensor:
    """Batch-mean KL(target ‖ p) = mean_n Σ_k t log(t / p) for row-stochastic tensors (…×N×K) → (…).

    Used as the regulariser KL(p(y|x) ‖ p(y|T(x))): pass the clean posteriors as ``target``
    (detached, as in the reference code) and the transformed ones as ``p``. Always ≥ 0.
    """
    if target.shape != p.shape or p.dim() < 2:
        raise ValueError(f"expected tensors of the same shape, got {tuple(target.shape)} and {tuple(p.shape)}")
    return (target * ((target + eps).log() - (p + eps).log())).sum(dim=-1).mean(dim=-1)
