"""The registered methods. Each module registers its own (``base.register``); importing it here is
the one line that adds a method."""
from __future__ import annotations

import torch

from ..config import RunConfig, validate_common
from ..distributed import DistContext
from ..errors import DataError
from ..graphs import use_cuda_graphs
from .base import REGISTRY, Method, MethodSpec, StepContext, method_spec
from . import info  # noqa: F401  (registers iic, imsat, iic-vat)
from . import dccs  # noqa: F401  (registers dccs)
from . import imc_swav  # noqa: F401  (registers imc-swav)
from . import segmentation  # noqa: F401  (registers iic-seg)

METHODS = REGISTRY


def resolve_config(cfg: RunConfig, sample_shape: tuple[int, ...], n_classes: int | None,
                   n_samples: int | None) -> RunConfig:
    """Fill the method's automatic settings from the data, then validate them against the data
    (``n_samples``: the training samples; None when the data are only predicted)."""
    spec = method_spec(cfg.method)
    resolved = spec.resolve(cfg, sample_shape, n_classes)
    validate_common(resolved)
    clusters = resolved.model.n_clusters  # every method clusters into model.n_clusters
    if n_samples is not None and n_samples < clusters:
        raise DataError(f"the data hold {n_samples} sample(s), fewer than model.n_clusters = {clusters}: "
                        "expected at least one sample per cluster")
    spec.validate(resolved, sample_shape, n_samples)
    return resolved


def build_method(cfg: RunConfig, sample_shape: tuple[int, ...], device: torch.device,
                 dist: DistContext = DistContext()) -> Method:
    spec = method_spec(cfg.method)
    obstacle = spec.graph_obstacle(cfg)
    # train.cuda_graphs = true where graphs cannot run stops here with one ConfigError
    use_cuda_graphs(cfg.train.cuda_graphs, device, dist, obstacle and f"{cfg.method}: {obstacle}")
    return spec.build(cfg, sample_shape, device, dist)


__all__ = ["METHODS", "Method", "MethodSpec", "StepContext", "build_method", "method_spec", "resolve_config"]
