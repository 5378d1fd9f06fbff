"""Method registry: each method turns a config into views + model + objective."""
from __future__ import annotations

import torch

from ..config import RunConfig
from ..errors import ConfigError
from . import info

# name → (resolve automatic settings, validate, method class)
METHODS = {"iic": (info.resolve, info.validate, info.IIC)}


def _module(name: str):
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}': expected one of {', '.join(METHODS)}")
    return METHODS[name]


def resolve_config(cfg: RunConfig, image_shape: tuple[int, int, int], n_classes: int | None) -> RunConfig:
    """Fill the method's automatic settings from the data, then validate them."""
    resolve, validate, _ = _module(cfg.method)
    resolved = resolve(cfg, image_shape, n_classes)
    validate(resolved, image_shape)
    return resolved


def build_method(cfg: RunConfig, image_channels: int, device: torch.device):
    return _module(cfg.method)[2](cfg, image_channels, device)
