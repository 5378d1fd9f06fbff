"""Backbones (trunks): image N×C×S×S → feature vector N×D.

Each builder takes (input_shape, width) and returns (module, D): ``input_shape`` is (C, S, S) for
images or (D_in,) for feature vectors; ``width`` is the channel count of the first stage (the hidden
size for the MLP), later stages keep the paper's ratios (``None`` = the paper's width).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def _conv_bn_relu(c_in: int, c_out: int, kernel: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _conv_stack(cfg: list, in_channels: int, kernel: int) -> nn.Sequential:
    """VGG-style stack: ints are conv widths, "M" a 2×2 max-pool."""
    layers: list[nn.Module] = []
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += _conv_bn_relu(in_channels, item, kernel)
            in_channels = item
    layers.append(nn.Flatten())
    return nn.Sequential(*layers)


def _feature_dim(trunk: nn.Module, input_shape: tuple[int, ...]) -> int:
    with torch.no_grad():
        was_training = trunk.training
        trunk.eval()
        dim = trunk(torch.zeros(1, *input_shape)).shape[1]
        trunk.train(was_training)
    return dim


def vgg6c(input_shape: tuple[int, ...], width: int | None = None) -> tuple[nn.Module, int]:
    """IIC's "6c" trunk: 5×5 convs 64-M-128-M-256-M-512 with BN; 24 px → 3×3×512 = 4608 features."""
    w = width or 64
    trunk = _conv_stack([w, "M", 2 * w, "M", 4 * w, "M", 8 * w], input_shape[0], kernel=5)
    for m in trunk.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
    return trunk, _feature_dim(trunk, input_shape)


def cnn_small(input_shape: tuple[int, ...], width: int | None = None) -> tuple[nn.Module, int]:
    """A fast CPU trunk: 3×3 convs w-w-M-2w-2w-M-4w with BN (w = 32), flattened (keeps the layout)."""
    w = width or 32
    trunk = _conv_stack([w, w, "M", 2 * w, 2 * w, "M", 4 * w], input_shape[0], kernel=3)
    for m in trunk.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
    return trunk, _feature_dim(trunk, input_shape)


class Residual(nn.Module):
    """relu(body(x) + shortcut(x)); the shortcut is a strided 1×1 convolution + BN where the body
    changes the side or the channels (c_in → c_out), else the identity."""

    def __init__(self, body: nn.Module, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = body
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def basic_block(c_in: int, c_out: int, stride: int) -> Residual:
    """ResNet-18/34's block: conv3×3 (stride) → BN → ReLU → conv3×3 → BN, plus the shortcut."""
    return Residual(nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out),
    ), c_in, c_out, stride)


class GlobalAvgPool(nn.Module):
    """N×C×H×W → N×C mean over the pixels; unlike ``AdaptiveAvgPool2d`` its backward is deterministic on CUDA."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def resnet34(input_shape: tuple[int, ...], width: int | None = None) -> tuple[nn.Module, int]:
    """IIC's "5g" trunk: ResNet-34 stages [3,4,6,3] × 64/128/256/512, global average → 512 features.

    The reference pools with a fixed AvgPool(7/5/3) for 96/64/32 px, which equals a global average
    at those sizes; a global average is used so any input size works.
    """
    w = width or 64
    layers: list[nn.Module] = [
        nn.Conv2d(input_shape[0], w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
        nn.MaxPool2d(2, stride=2, padding=1),
    ]
    c_in = w
    for stage_width, blocks, stride in ((w, 3, 1), (2 * w, 4, 2), (4 * w, 6, 2), (8 * w, 3, 2)):
        for i in range(blocks):
            layers.append(basic_block(c_in, stage_width, stride if i == 0 else 1))
            c_in = stage_width
    return pooled_trunk(layers), c_in


def pooled_trunk(layers: list[nn.Module]) -> nn.Sequential:
    """``layers`` then a global average, as one Sequential; convolutions start Kaiming-normal (fan-out)."""
    trunk = nn.Sequential(*layers, GlobalAvgPool())
    for m in trunk.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return trunk


def mlp(input_shape: tuple[int, ...], width: int | None = None) -> tuple[nn.Module, int]:
    """IMSAT's encoder for feature vectors: D → 1200 → 1200, each Linear → BN → ReLU."""
    w = width or 1200
    trunk = nn.Sequential(
        nn.Flatten(),
        nn.Linear(int(torch.tensor(input_shape).prod()), w), nn.BatchNorm1d(w), nn.ReLU(inplace=True),
        nn.Linear(w, w), nn.BatchNorm1d(w), nn.ReLU(inplace=True),
    )
    return trunk, w


IMAGE_BACKBONES = ("cnn-small", "vgg6c", "resnet34")
MIN_SIDE = {"cnn-small": 4, "vgg6c": 8, "resnet34": 1}  # smallest input side (px) each image trunk accepts
BACKBONES: dict[str, Callable[[tuple[int, ...], int | None], tuple[nn.Module, int]]] = {
    "cnn-small": cnn_small,
    "vgg6c": vgg6c,
    "resnet34": resnet34,
    "mlp": mlp,
}
