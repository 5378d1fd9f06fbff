"""Method registry. IIC, IMSAT and IIC+VAT are presets (``config.PRESETS``) of one method."""
from __future__ import annotations

import torch

from ..config import PRESETS, RunConfig
from ..errors import ConfigError
from . import info
from .info import MAIN, OVER  # head names: B is reported, A over-clusters

# name → (resolve automatic settings, validate, method class)
METHODS = {name: (info.resolve, info.validate, info.InfoClustering) for name in PRESETS}


def _entry(name: str):
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}': expected one of {', '.join(METHODS)}")
    return METHODS[name]


def resolve_config(cfg: RunConfig, sample_shape: tuple[int, ...], n_classes: int | None) -> RunConfig:
    """Fill the method's automatic settings from the data, then validate them."""
    resolve, validate, _ = _entry(cfg.method)
    resolved = resolve(cfg, sample_shape, n_classes)
    validate(resolved, sample_shape)
    return resolved


def build_method(cfg: RunConfig, sample_shape: tuple[int, ...], device: torch.device):
    return _entry(cfg.method)[2](cfg, sample_shape, device)
