"""IMC-SwAV's networks (Ntelemis et al. 2021; its code's ``model.py``, ``graphs.py``): a ResNet
encoder with the CIFAR stem, a projection to the prototype space, k' prototypes and the classifier
MLP that predicts the K clusters.

Shapes: images N×C×S×S → features N×F (F = 8·width for ResNet-18/34, 32·width for ResNet-50) →
projection N×D (unit length) → prototype scores N×k' (cosine similarities); classifier N×F → N×K.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import Residual, basic_block, pooled_trunk


EXPANSION = 4  # ResNet-50's blocks widen their output 4×


def bottleneck(c_in: int, width: int, stride: int) -> Residual:
    """ResNet-50's block: 1×1 → 3×3 (stride) → 1×1 to 4 × ``width`` channels, plus the shortcut."""
    c_out = width * EXPANSION
    return Residual(nn.Sequential(
        nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        nn.Conv2d(width, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
    ), c_in, c_out, stride)

STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3)}


def cifar_resnet(depth: int, channels: int, width: int = 64, max_pool: bool = False) -> tuple[nn.Module, int]:
    """ResNet-``depth`` (18, 34 or 50) with the CIFAR stem: conv3×3 stride 1 → BN → ReLU (then a
    2×2 max-pool when ``max_pool``, the code's choice for 64- and 96-px images), four stages of
    ``width``·(1, 2, 4, 8) channels, global average → (trunk, feature size F)."""
    if depth not in STAGES:
        raise ValueError(f"ResNet depth {depth}: expected one of {', '.join(map(str, STAGES))}")
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                               nn.ReLU(inplace=True)]
    if max_pool:
        layers.append(nn.MaxPool2d(2))
    c_in = width
    for i, blocks in enumerate(STAGES[depth]):
        stage_width = width * 2 ** i
        for j in range(blocks):
            stride = 2 if i > 0 and j == 0 else 1
            if depth == 50:
                layers.append(bottleneck(c_in, stage_width, stride))
                c_in = stage_width * EXPANSION
            else:
                layers.append(basic_block(c_in, stage_width, stride))
                c_in = stage_width
    return pooled_trunk(layers), c_in


class Prototypes(nn.Module):
    """k' prototype vectors of dimension D (a bias-free linear map); ``forward`` scores unit-length
    projections N×D against the prototypes → N×k' cosine similarities. ``normalise_`` puts every
    prototype back on the unit sphere (SwAV does it before every step)."""

    def __init__(self, dim: int, count: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(count, dim))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)  # nn.Linear's initialisation

    @torch.no_grad()
    def normalise_(self) -> None:
        self.weight.copy_(F.normalize(self.weight, dim=1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight.T


def projection(features: int, hidden: int, dim: int) -> nn.Sequential:
    """F → hidden → D, two linear maps with nothing between them (the code comments out the BN and
    ReLU SwAV has there), so in effect one linear map of rank ≤ min(hidden, D)."""
    return nn.Sequential(nn.Linear(features, hidden), nn.Linear(hidden, dim))


def classifier(features: int, hidden: int, n_clusters: int) -> nn.Sequential:
    """The cluster classifier Ω: F → hidden → hidden → K, each hidden layer Linear → BN → ReLU."""
    return nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, n_clusters))
