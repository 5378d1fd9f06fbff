"""TEMI's cluster heads: h independent DINO heads over one embedding, computed with batched matmuls."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

INIT_STD = 0.02  # DINO's truncated-normal init of its head's linear layers


def _trunc_normal(*shape: int) -> nn.Parameter:
    return nn.Parameter(nn.init.trunc_normal_(torch.empty(shape), std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD))


class TEMIHeads(nn.Module):
    """``heads`` heads, each Linear(D, hidden) → GELU → Linear(hidden, bottleneck) → L2 norm →
    weight-normalised Linear(bottleneck, K) without bias, whose per-cluster norm ``last_g`` is
    trainable (DINO's head with ``nlayers 2``, ``norm_last_layer False``; no BatchNorm).
    B×D embeddings → h×B×K logits."""

    def __init__(self, in_dim: int, n_clusters: int, heads: int, hidden: int, bottleneck: int):
        super().__init__()
        self.w1, self.b1 = _trunc_normal(heads, in_dim, hidden), nn.Parameter(torch.zeros(heads, 1, hidden))
        self.w2, self.b2 = _trunc_normal(heads, hidden, bottleneck), nn.Parameter(torch.zeros(heads, 1, bottleneck))
        self.last_v = _trunc_normal(heads, bottleneck, n_clusters)  # direction of each cluster's weight vector
        self.last_g = nn.Parameter(torch.ones(heads, 1, n_clusters))  # its norm

    def last_layer(self) -> list[nn.Parameter]:
        """The weight-normalised last layer (frozen during the first pass, as DINO's)."""
        return [self.last_v, self.last_g]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.w1.shape[0]
        z = F.gelu(torch.baddbmm(self.b1, x.unsqueeze(0).expand(h, -1, -1), self.w1))
        z = F.normalize(torch.baddbmm(self.b2, z, self.w2), dim=-1)
        return z @ (self.last_g * F.normalize(self.last_v, dim=1))
