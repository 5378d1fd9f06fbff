"""VAT and IVAT perturbations: the only transformations that need the model.

VAT (Miyato et al.; IMSAT; Peng et al. eq. (6)) finds r with ‖r‖ = ε that most increases
KL(p(y|x) ‖ p(y|x + r)) by power iteration; IVAT (Peng et al. §5.3) takes the direction that most
decreases the mutual information I(y, y_r) instead. BatchNorm layers normalise with the batch's own
statistics during the search but never update their running statistics.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn

from .losses import Reduce, iic_loss, kl_divergence, no_reduce
from .rng import Rng

Predict = Callable[[torch.Tensor], torch.Tensor]  # inputs N×… → posteriors h×N×K


@contextmanager
def frozen_batchnorm_stats(model: nn.Module) -> Iterator[None]:
    """Inside the block, BatchNorm uses batch statistics (train mode) but keeps its running ones."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.momentum = 0.0  # running ← (1 − 0)·running + 0·batch: unchanged
    try:
        yield
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum


def _unit(d: torch.Tensor) -> torch.Tensor:
    """Each sample of d scaled to L2 norm 1 over all non-batch dimensions."""
    norm = d.flatten(1).norm(dim=1).view(-1, *[1] * (d.dim() - 1))
    return d / (norm + 1e-8)


def divergence(kind: str, clean: torch.Tensor, perturbed: torch.Tensor, reduce: Reduce = no_reduce) -> torch.Tensor:
    """Distance to maximise, averaged over sub-heads (h×N×K each): "kl" (VAT) or "mi" (IVAT: −I)."""
    if kind == "kl":
        return kl_divergence(clean, perturbed).mean()
    return iic_loss(clean, perturbed, reduce=reduce).mean()


def adversarial_direction(predict: Predict, x: torch.Tensor, clean: torch.Tensor, xi: float, power_iters: int,
                          kind: str, gen: Rng | torch.Generator, reduce: Reduce = no_reduce) -> torch.Tensor:
    """Unit direction (per sample, shape of x) that most increases ``divergence(kind)`` near x.

    Starts from a random Gaussian direction and does ``power_iters`` power iterations with finite
    step ``xi``; only the direction gets gradients, never the model.
    """
    d = _unit(Rng.of(gen).randn(*x.shape))
    for _ in range(power_iters):
        d.requires_grad_(True)
        dist = divergence(kind, clean, predict(x + xi * d), reduce)
        (grad,) = torch.autograd.grad(dist, d)
        d = _unit(grad.detach())
    return d


def perturb(predict: Predict, x: torch.Tensor, clean: torch.Tensor, eps: float | torch.Tensor, xi: float,
            power_iters: int, kind: str, gen: Rng | torch.Generator, reduce: Reduce = no_reduce) -> torch.Tensor:
    """x + r_adv with ‖r_adv‖ = eps per sample (eps a float or an (N,) tensor of radii)."""
    radius = eps.view(-1, *[1] * (x.dim() - 1)) if isinstance(eps, torch.Tensor) else eps  # no copy from the host
    return x + radius * adversarial_direction(predict, x, clean.detach(), xi, power_iters, kind, gen, reduce)
