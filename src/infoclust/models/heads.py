"""Cluster heads: features N×D → posteriors h×N×K for h independently initialised sub-heads."""
from __future__ import annotations

import torch
from torch import nn


class SubHeads(nn.Module):
    """``sub_heads`` linear+softmax classifiers over K clusters, computed with one matmul."""

    def __init__(self, in_dim: int, n_clusters: int, sub_heads: int):
        super().__init__()
        self.n_clusters, self.sub_heads = n_clusters, sub_heads
        self.linear = nn.Linear(in_dim, n_clusters * sub_heads)
        nn.init.normal_(self.linear.weight, 0.0, 0.01)  # as the IIC code
        nn.init.zeros_(self.linear.bias)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """N×D → h×N×K logits."""
        out = self.linear(features).view(features.shape[0], self.sub_heads, self.n_clusters)
        return out.transpose(0, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """N×D → h×N×K posteriors (rows sum to 1)."""
        return self.logits(features).softmax(dim=-1)
