"""DCCS's losses (Zhao et al. 2020): they take logits, latent codes and images rather than posteriors."""
from __future__ import annotations

from typing import Callable

import torch


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
