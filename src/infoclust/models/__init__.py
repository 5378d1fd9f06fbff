"""Models: a backbone (trunk) plus named cluster heads, each with sub-heads."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .backbones import BACKBONES, IMAGE_BACKBONES
from .heads import SubHeads


class ClusterNet(nn.Module):
    """Trunk + heads. ``heads`` maps a head name (e.g. "A" over-clustering, "B" main) to its K."""

    def __init__(self, backbone: str, input_shape: tuple[int, ...], heads: dict[str, int], sub_heads: int,
                 width: int | None = None):
        super().__init__()
        if backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone '{backbone}': expected one of {', '.join(BACKBONES)}")
        self.trunk, self.feature_dim = BACKBONES[backbone](tuple(input_shape), width)
        self.heads = nn.ModuleDict({name: SubHeads(self.feature_dim, k, sub_heads) for name, k in heads.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N×C×S×S (or N×D_in vectors) → N×D trunk features."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
        """N×C×S×S → h×N×K posteriors of ``head``."""
        return self.heads[head](self.trunk(x))


__all__ = ["BACKBONES", "IMAGE_BACKBONES", "ClusterNet", "SubHeads"]
