"""Run configuration: dataclasses, YAML loading, ``key=value`` overrides and validation.

Values left as ``None`` / ``"auto"`` are filled from the dataset's shape by the method's
``resolve`` step, so one recipe works for 8-px digits and 96-px STL alike. ``config.yaml`` in a run
folder always holds the fully resolved values.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

RECIPES = Path(__file__).parent / "recipes"


@dataclass
class DataConfig:
    """Which images to cluster. ``split``: "all" (train+test merged, the papers' protocol), "train", "test"."""

    name: str = "digits"
    split: str = "all"
    root: str | None = None


@dataclass
class ModelConfig:
    """Backbone and heads. ``overcluster``: K of the auxiliary head A (0 = none, None = 5 × n_clusters)."""

    backbone: str = "auto"
    n_clusters: int | None = None
    overcluster: int | None = None
    sub_heads: int = 5
    width: int | None = None  # channels of the backbone's first stage; None = the paper's (64; cnn-small 32)


@dataclass
class ViewConfig:
    """The IIC view pair, in source pixels (see ``infoclust.views``). None = chosen from image size."""

    input_size: int | None = None
    input_mode: str = "auto"  # raw | grey | sobel | sobel+rgb
    tf1_crops: list[float] | None = None
    tf1_center_p: float = 0.5
    tf2_crops: list[float] | None = None
    rotation: float = 25.0
    rotation_p: float = 0.5
    flip_p: float | None = None
    jitter: list[float] = field(default_factory=lambda: [0.4, 0.4, 0.4, 0.125])
    eval_crop: float | None = None


@dataclass
class TrainConfig:
    """Optimisation. ``batch_size`` counts unique images; each is seen ``repeats`` times per step."""

    epochs: int = 100
    batch_size: int = 128
    repeats: int = 5
    lr: float = 1e-4
    lamb: float = 1.0
    head_schedule: str = "B:1,A:1"  # head:passes in order; one pass = one epoch over the data
    budget_minutes: float | None = None
    eval_every: int = 1  # epochs
    checkpoint_every: int = 200  # steps (a checkpoint is also written at every evaluation)
    select_samples: int = 10000  # images used for the label-free lowest-loss sub-head choice
    device: str = "auto"
    channels_last: bool = True  # faster on CPU for every backbone measured (docs/RESULTS.md)


@dataclass
class RunConfig:
    method: str = "iic"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against annotation ``tp`` (int, float, str, bool, list[X], X | None)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}': expected a list, got {value!r}")
        return [_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")


def _from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"config section '{prefix.rstrip('.') or '<top>'}': expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config key '{prefix}{key}'{hint}: expected one of {', '.join(names)}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _from_dict(tp, value, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, tp, f"{prefix}{key}")
    return cls(**kwargs)


def config_from_dict(data: dict) -> RunConfig:
    """Build a ``RunConfig`` from a nested dict, rejecting unknown keys and wrong types."""
    return _from_dict(RunConfig, data or {})


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def parse_override(text: str) -> dict:
    """``"train.lr=2e-4"`` → ``{"train": {"lr": 2e-4}}`` (the value is parsed as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"bad override '{text}': expected key=value, e.g. train.lr=2e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return _nested(key.strip(), value)


def _nested(key: str, value: Any) -> dict:
    """``("a.b", v)`` → ``{"a": {"b": v}}``."""
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def read_yaml(path: str | Path) -> dict:
    """Load a YAML mapping; a missing or malformed file is a ConfigError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file '{path}' is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}': expected a mapping of keys, got {type(data).__name__}")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] = (), **top: Any) -> RunConfig:
    """Defaults ← YAML file (or the bundled recipe of the named dataset) ← ``key=value`` overrides
    ← explicit values given as dotted keys.

    ``top`` keys use ``__`` for dots, e.g. ``load_config(method="iic", data__name="digits")``;
    ``None`` values are ignored.
    """
    data: dict = read_yaml(path) if path else {}
    for text in overrides:
        data = _merge(data, parse_override(text))
    for key, value in top.items():
        if value is not None:
            data = _merge(data, _nested(key.replace("__", "."), value))
    section = data.get("data")
    if path is None and isinstance(section, dict) and isinstance(section.get("name"), str):
        recipe = bundled_recipe(data.get("method", "iic"), section["name"])
        if recipe is not None:
            data = _merge(read_yaml(recipe), data)
    return config_from_dict(data)


def bundled_recipe(method: str, dataset: str) -> Path | None:
    """The default recipe shipped for (method, named dataset), used when no --config is given."""
    path = RECIPES / f"{method}-{dataset}.yaml"
    return path if path.is_file() else None


def config_to_dict(cfg: RunConfig) -> dict:
    return dataclasses.asdict(cfg)


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
