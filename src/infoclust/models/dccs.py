"""DCCS's networks (Zhao et al. 2020, Tables 6–10, 12, 13): an encoder whose output splits into a
style code Zs (linear) and category logits (Zc = their softmax), the critic of the prior matching,
the discriminator of the mutual-information estimate, and the decoder of the variant that
reconstructs the image instead.

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


class Codes(nn.Module):
    """An encoder's code Z = [Zs, softmax(category logits)] (B×(Ds + K)) alone, as one module."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        zs, logits, _ = self.encoder(x)
        return torch.cat([zs, logits.softmax(dim=1)], dim=1)


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


class ConvDecoder(nn.Module):
    """Table 12 (Fashion-MNIST, as ClusterGAN's generator): FC → 16w, BN, LReLU; FC → 2w×s×s, BN,
    LReLU; Deconv4×4/2 → w, BN, LReLU; Deconv4×4/2 → C, tanh, with s = size / 4 (7 at 28 px;
    a side not divisible by 4 is resized at the end). Z (N×D) → N×C×size×size in [−1, 1]."""

    def __init__(self, z_dim: int, channels: int, size: int, width: int = 64):
        super().__init__()
        self.size, self.side, self.width = size, max(size // 4, 1), width
        self.fc = nn.Sequential(
            nn.Linear(z_dim, 16 * width, bias=False), nn.BatchNorm1d(16 * width), nn.LeakyReLU(LEAK),
            nn.Linear(16 * width, 2 * width * self.side ** 2, bias=False), nn.BatchNorm1d(2 * width * self.side ** 2),
            nn.LeakyReLU(LEAK),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.LeakyReLU(LEAK),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh(),
        )
        _init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.deconv(self.fc(z).view(len(z), 2 * self.width, self.side, self.side))
        return _to_side(x, self.size)


class _UpBlock(nn.Module):
    """SNGAN's generator block: BN, ReLU, 2× nearest upsampling, conv3×3, BN, ReLU, conv3×3;
    shortcut 2× upsampling and conv1×1."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(c_in), nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, 1, 1),
        )
        self.shortcut = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class ResNetDecoder(nn.Module):
    """Table 13 (CIFAR-10, as SNGAN's generator): FC → w₀×s×s, residual up-blocks through
    ``widths`` (each doubling the side), BN, ReLU, conv3×3 → C, tanh, with s = size / 2**len(widths).
    32 px: w₀ = 512, widths (512, 256, 128); 96 px (not in the paper): widths (512, 256, 128, 64)
    from 6×6, mirroring Table 8. Z (N×D) → N×C×size×size in [−1, 1]."""

    def __init__(self, z_dim: int, channels: int, size: int, widths: tuple[int, ...]):
        super().__init__()
        self.size, self.c0 = size, widths[0]
        self.side = max(size // 2 ** len(widths), 1)
        self.fc = nn.Linear(z_dim, self.c0 * self.side ** 2)
        blocks, c_in = [], self.c0
        for c_out in widths:
            blocks.append(_UpBlock(c_in, c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks, nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, channels, 3, 1, 1),
                                    nn.Tanh())
        _init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.fc(z).view(len(z), self.c0, self.side, self.side))
        return _to_side(x, self.size)


def _to_side(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize N×C×h×w to N×C×size×size when the network's side differs (bilinear)."""
    if x.shape[-1] == size:
        return x
    return nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


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


def build_decoder(name: str, z_dim: int, channels: int, size: int, width: int | None) -> nn.Module:
    """The decoder matching encoder ``name`` (Tables 12, 13): Z (N×z_dim) → N×channels×size×size;
    ``width`` the encoder's (None = the paper's), which scales the decoder alike."""
    if name == "conv28":
        return ConvDecoder(z_dim, channels, size, width or 64)
    base = width or (128 if name == "resnet32" else 64)
    top = 4 * base if name == "resnet32" else 8 * base  # 512 at the paper's widths
    widths = (top, top // 2, top // 4) if name == "resnet32" else (top, top // 2, top // 4, top // 8)
    return ResNetDecoder(z_dim, channels, size, widths)
