"""DCCS's networks (Zhao et al. 2020, Tables 6–10): an encoder whose output splits into a style
code Zs (linear) and category logits (Zc = their softmax), the critic of the prior matching and the
discriminator of the mutual-information estimate.

Every encoder maps N×C×S×S to (zs N×Ds, category logits N×K, act N×A): ``act`` is the intermediate
activation the discriminator pairs with Z. Convolutions and linear layers start Xavier-normal, as
in the DCCS code; BatchNorm starts at (1, 0).
"""
from __future__ import annotations

import torch
from torch import nn

LEAK = 0.2  # LeakyReLU slope of every DCCS network


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ConvEncoder(nn.Module):
    """Table 6 (MNIST, Fashion-MNIST, 28 px): Conv4×4/2 → w, BN, LReLU; Conv4×4/2 → 2w, BN, LReLU
    (``act``: the 5×5×2w = 3200 features at w = 64); FC → 16w, BN, LReLU; FC → Ds + K.
    ``width`` w scales every layer (64 = the paper's)."""

    def __init__(self, channels: int, size: int, style_dim: int, n_clusters: int, width: int = 64):
        super().__init__()
        self.style_dim = style_dim
        self.conv = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, bias=False), nn.BatchNorm2d(width), nn.LeakyReLU(LEAK),
            nn.Conv2d(width, 2 * width, 4, 2, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(LEAK),
            nn.Flatten(),
        )
        with torch.no_grad():
            self.act_dim = self.conv(torch.zeros(2, channels, size, size)).shape[1]
        self.fc = nn.Sequential(
            nn.Linear(self.act_dim, 16 * width, bias=False), nn.BatchNorm1d(16 * width), nn.LeakyReLU(LEAK),
            nn.Linear(16 * width, style_dim + n_clusters),
        )
        _init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        act = self.conv(x)
        out = self.fc(act)
        return out[:, :self.style_dim], out[:, self.style_dim:], act


class _ResBlock(nn.Module):
    """Pre-activation residual block of SNGAN's discriminator as DCCS uses it: BN, ReLU, conv3×3,
    BN, ReLU, conv3×3 (then 2×2 average pooling when ``down``); shortcut conv1×1 (+ pooling).
    ``first``: the optimised first block (no BN/ReLU before its first conv; shortcut pools first)."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False):
        super().__init__()
        pre = [] if first else [nn.BatchNorm2d(c_in), nn.ReLU()]
        self.residual = nn.Sequential(
            *pre, nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), *([nn.AvgPool2d(2)] if down else []),
        )
        pool = [nn.AvgPool2d(2)] if down else []
        conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.shortcut = nn.Sequential(*(pool + [conv] if first else [conv] + pool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class ResNetEncoder(nn.Module):
    """Tables 7 and 8: residual blocks halving the side down to ``size / 2**len(widths)``, one more
    block at the last width (``act``: its input, e.g. 4×4×512 = 8192 at 32 px), then BN, ReLU,
    global average pooling and a 1×1 convolution → Ds + K.
    32 px (CIFAR-10): widths (128, 256, 512); 96 px (STL-10): (64, 128, 256, 512)."""

    def __init__(self, channels: int, size: int, style_dim: int, n_clusters: int, widths: tuple[int, ...]):
        super().__init__()
        self.style_dim = style_dim
        blocks, c_in = [], channels
        for i, c_out in enumerate(widths):
            blocks.append(_ResBlock(c_in, c_out, down=True, first=i == 0))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.last = nn.Sequential(_ResBlock(c_in, c_in, down=False), nn.BatchNorm2d(c_in), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, style_dim + n_clusters, 1), nn.Flatten())
        side = size // 2 ** len(widths)
        self.act_dim = c_in * side * side
        _init(self)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.blocks(x)
        out = self.last(features)
        return out[:, :self.style_dim], out[:, self.style_dim:], features.flatten(1)


def mlp_critic(in_dim: int, hidden: tuple[int, int] = (1024, 512)) -> nn.Sequential:
    """Table 9 (critic) and Table 10 (MI discriminator on (act, Z)): in → 1024 → 512 → 1 with
    LeakyReLU 0.2 and no normalisation; one logit / score per row."""
    net = nn.Sequential(nn.Linear(in_dim, hidden[0]), nn.LeakyReLU(LEAK), nn.Linear(hidden[0], hidden[1]),
                        nn.LeakyReLU(LEAK), nn.Linear(hidden[1], 1))
    _init(net)
    return net


ENCODERS = ("conv28", "resnet32", "resnet96")
ENCODER_SIZES = {"conv28": 28, "resnet32": 32, "resnet96": 96}  # the input side each was designed for


def build_encoder(name: str, channels: int, size: int, style_dim: int, n_clusters: int,
                  width: int | None) -> nn.Module:
    """The encoder ``name`` (``ENCODERS``) for C×size×size inputs; ``width`` None = the paper's."""
    if name == "conv28":
        return ConvEncoder(channels, size, style_dim, n_clusters, width or 64)
    w = width or (128 if name == "resnet32" else 64)
    widths = (w, 2 * w, 4 * w) if name == "resnet32" else (w, 2 * w, 4 * w, 8 * w)
    return ResNetEncoder(channels, size, style_dim, n_clusters, widths)
