"""The registered methods and the registry's front: a method's config is made here, from its
config class and preset, so the generic ``config`` module knows no method. Each module registers
its own (``base.register``); importing it here is the one line that adds a method."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from .. import config
from ..cluster_count import trained_clusters
from ..data import channel_stats
from ..config import RunConfig, validate_common
from ..distributed import DistContext
from ..errors import ConfigError, DataError
from .base import REGISTRY, DataFacts, Method, MethodSpec, StepContext, default_method, method_spec
from . import info  # noqa: F401  (registers iic, imsat, iic-vat)
from . import dccs  # noqa: F401  (registers dccs)
from . import imc_swav  # noqa: F401  (registers imc-swav)
from . import segmentation  # noqa: F401  (registers iic-seg)
from . import temi  # noqa: F401  (registers temi)

METHODS = REGISTRY


def _named_method(data: dict) -> str:
    """The method a nested config dict names, the registry's default when it names none."""
    method = data.get("method") or default_method()
    if not isinstance(method, str):
        raise ConfigError(f"config key 'method': expected a method name, got {method!r}")
    return method


def config_from_dict(data: dict) -> RunConfig:
    """The config of the method ``data["method"]`` names (the default one when none), from a
    nested dict, rejecting unknown keys and wrong types. No preset is applied: this reads resolved
    configs (a run folder's ``config.yaml``) as they are."""
    data = dict(data or {})
    data["method"] = _named_method(data)
    return config.config_from_dict(data, method_spec(data["method"]).config)


def load_config(path: str | Path | None = None, overrides: list[str] = (), **top: Any) -> RunConfig:
    """Method preset ← YAML file ← ``key=value`` overrides ← explicit values given as dotted keys
    (``config.gather_config``). What is still unset is chosen from the data's shape by the method
    (``resolve_config``), the same way for the CLI, the Python API and the grid.

    ``top`` keys use ``__`` for dots, e.g. ``load_config(method="iic", data__name="digits")``;
    ``None`` values are ignored.
    """
    data = config.gather_config(path, overrides, **top)
    data["method"] = _named_method(data)
    return config_from_dict(config.merge_dicts(method_spec(data["method"]).preset, data))


def config_keys(method: str) -> list[str]:
    """Every dotted config key of ``method``'s config, in the order of ``config.yaml``."""
    return config.config_keys(method_spec(method).config)


def resolve_config(cfg: RunConfig, sample_shape: tuple[int, ...], n_classes: int | None,
                   n_samples: int | None, labelled_parts: bool = False, processes: int = 1) -> RunConfig:
    """Fill the method's automatic settings from the data, then check them against the data's facts
    (``n_samples``: the training samples, None when the data are only predicted;
    ``labelled_parts``: some samples come from a labelled part of the source; ``processes``: how
    many processes share each batch): everything checkable happens here, before the first step."""
    spec = method_spec(cfg.method)
    facts = DataFacts(tuple(sample_shape), n_classes, n_samples, labelled_parts, processes,
                      channel_stats(cfg.data.name))
    if hasattr(cfg.model, "max_clusters"):  # a method that can choose K after training
        n_clusters, max_clusters = trained_clusters(cfg.model.n_clusters, cfg.model.max_clusters, n_samples)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, n_clusters=n_clusters,
                                                                 max_clusters=max_clusters))
    resolved = spec.resolve(cfg, facts)
    validate_common(resolved)
    if resolved.train.batch_size % processes:
        raise ConfigError(f"train.batch_size = {resolved.train.batch_size} does not split over {processes} processes: "
                          "expected a multiple of the process count")
    clusters = resolved.model.n_clusters  # every method clusters into model.n_clusters
    if n_samples is not None and n_samples < clusters:
        raise DataError(f"the data hold {n_samples} sample(s), fewer than model.n_clusters = {clusters}: "
                        "expected at least one sample per cluster")
    spec.validate(resolved, facts)
    return resolved


def build_method(cfg: RunConfig, sample_shape: tuple[int, ...], device: torch.device,
                 dist: DistContext = DistContext()) -> Method:
    """The registered method ``cfg.method`` built for samples of ``sample_shape`` (``train.cuda_graphs
    = true`` where its step cannot be recorded stops here with one ConfigError)."""
    return method_spec(cfg.method).build(cfg, sample_shape, device, dist)


__all__ = ["METHODS", "DataFacts", "Method", "MethodSpec", "StepContext", "build_method", "config_from_dict",
           "config_keys", "default_method", "load_config", "method_spec", "resolve_config"]
