"""IIC's segmentation network (the reference code's "SegmentationNet10a" with two heads): a VGG-like
trunk of 3×3 convolutions, each Conv → BN → ReLU, without bias,

    w → 2w → max-pool 2 → 4w → 4w → 8w (dilation 2) → 8w (dilation 2)      (w = 64 in the paper)

at half the input resolution, then per head a 1×1 convolution to h·K channels (h sub-heads),
bilinearly upsampled to the input size and softmaxed over the K clusters of each sub-head.

Shapes: images N×C×H×W → trunk N×8w×H/2×W/2 → per head h×N×K×H×W posteriors.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import GlobalAvgPool


PADDINGS = ("zeros", "reflect", "replicate")


def segmentation_trunk(channels: int, width: int = 64, padding: str = "zeros") -> tuple[nn.Sequential, int]:
    """(trunk, its channels); the dilated layers pad by their dilation, so the output is exactly
    half the input's side (even sides). ``padding`` (``PADDINGS``) fills the convolutions' border:
    zeros as the paper's, or mirrored / repeated pixels, which tell a pixel far less about how near
    the image's border it lies."""
    plan = [(width, 1), (2 * width, 1), "M", (4 * width, 1), (4 * width, 1), (8 * width, 2), (8 * width, 2)]
    layers: list[nn.Module] = []
    c_in = channels
    for item in plan:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        c_out, dilation = item
        layers += [nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False, padding_mode=padding),
                   nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        c_in = c_out
    trunk = nn.Sequential(*layers)
    for m in trunk.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
    return trunk, c_in


class DenseHeads(nn.Module):
    """h sub-heads of K clusters for every pixel: one 1×1 convolution, then bilinear upsampling."""

    def __init__(self, channels: int, n_clusters: int, sub_heads: int):
        super().__init__()
        self.n_clusters, self.sub_heads = n_clusters, sub_heads
        self.conv = nn.Conv2d(channels, n_clusters * sub_heads, 1)

    def forward(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """N×F×h×w → h×N×K×H×W posteriors at ``size`` (H, W)."""
        logits = F.interpolate(self.conv(features), size=size, mode="bilinear", align_corners=False)
        n = logits.shape[0]
        return logits.view(n, self.sub_heads, self.n_clusters, *size).transpose(0, 1).softmax(dim=2)


class SegmentationNet(nn.Module):
    """The trunk and named dense heads (e.g. "A" over-clustering, "B" main) of K clusters each."""

    def __init__(self, channels: int, heads: dict[str, int], sub_heads: int, width: int = 64, padding: str = "zeros"):
        super().__init__()
        self.trunk, features = segmentation_trunk(channels, width, padding)
        self.heads = nn.ModuleDict({name: DenseHeads(features, k, sub_heads) for name, k in heads.items()})

    def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
        """N×C×H×W → h×N×K×H×W posteriors of ``head``."""
        return self.heads[head](self.trunk(x), tuple(x.shape[-2:]))


class PooledTrunk(nn.Module):
    """A segmentation trunk averaged over positions: N×C×H×W → N×8w (the image's feature vector)."""

    def __init__(self, trunk: nn.Module):
        super().__init__()
        self.trunk, self.pool = trunk, GlobalAvgPool()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.trunk(x))
