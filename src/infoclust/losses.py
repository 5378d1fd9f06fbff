"""Pure loss functions on cluster posteriors. Usable in any PyTorch loop.

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
    joint = joint_distribution(p, p_prime, reduce)
    p_i = joint.sum(dim=-1, keepdim=True).clamp_min(eps)  # …×K×1, broadcast over columns
    p_j = joint.sum(dim=-2, keepdim=True).clamp_min(eps)  # …×1×K, broadcast over rows
    joint = joint.clamp_min(eps)
    return -(joint * (joint.log() - lamb * p_i.log() - lamb * p_j.log())).sum(dim=(-1, -2))


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


# ----------------------------------------------------------------------------- DCCS (Zhao et al. 2020)
# These take logits and latent codes rather than posteriors.

def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     alpha: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017; DCCS eq. (9)): the batch mean of (‖∇ critic(x̂)‖₂ − 1)²
    at x̂ = α·real + (1 − α)·fake. ``real``, ``fake``: B×D; ``alpha``: B×1 in [0, 1]; the weight λ
    is applied by the caller. Differentiable (``create_graph``), so it trains the critic. The norm
    is sqrt(Σ g² + 1e-12) as in the DCCS code, finite where the gradient vanishes."""
    mixed = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    with torch.enable_grad():
        grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norm = (grad.flatten(1).pow(2).sum(dim=1) + 1e-12).sqrt()
    return (norm - 1).pow(2).mean()


def jsd_mi_loss(pos_logits: torch.Tensor, neg_logits: torch.Tensor) -> torch.Tensor:
    """The Jensen–Shannon MI estimator as a loss to minimise (DCCS eq. (7), Deep InfoMax): binary
    cross-entropy of a discriminator's logits, (B,) or B×1 each, on matched pairs (label 1) and on
    pairs with batch-shuffled codes (label 0), averaged over all 2B pairs. It equals
    log 2 − Î_JSD; it is log 2 ≈ 0.693 when the discriminator cannot tell the pairs apart."""
    logits = torch.cat([pos_logits.reshape(-1), neg_logits.reshape(-1)])
    labels = torch.cat([torch.ones_like(pos_logits.reshape(-1)), torch.zeros_like(neg_logits.reshape(-1))])
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)


def augmentation_kl(target_logits: torch.Tensor, augmented_logits: torch.Tensor) -> torch.Tensor:
    """DCCS's augmentation consistency KL(softmax(target) ‖ softmax(augmented)), batch mean, from
    B×K category logits of the clean and the augmented view (DCCS eq. (10)). The target is not
    detached, as in the DCCS code: the gradient reaches both views. ≥ 0, 0 when they agree."""
    if target_logits.shape != augmented_logits.shape or target_logits.dim() != 2:
        raise ValueError(f"expected two B×K logit tensors of the same shape, got {tuple(target_logits.shape)} "
                         f"and {tuple(augmented_logits.shape)}")
    log_t = torch.log_softmax(target_logits, dim=1)
    log_a = torch.log_softmax(augmented_logits, dim=1)
    return (log_t.exp() * (log_t - log_a)).sum(dim=1).mean()


def reconstruction_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per pixel between a decoder's B×C×H×W output and the B×C×H×W image it
    encodes (DCCS's decoder variant, Appendix D: it replaces the MI term). ≥ 0, 0 when equal."""
    if reconstruction.shape != target.shape:
        raise ValueError(f"expected a reconstruction of the target's shape {tuple(target.shape)}, "
                         f"got {tuple(reconstruction.shape)}")
    return (reconstruction - target).pow(2).mean()
