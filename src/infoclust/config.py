"""Run configuration: the sections every method has, YAML loading, ``key=value`` overrides and
validation against a config class.

This module knows no method: a method's config class (a ``RunConfig`` subclass) and preset come
from the registry (``infoclust.methods.load_config`` puts them together). Values left as ``None`` /
``"auto"`` are filled from the dataset's shape by the method's ``resolve`` step, so one recipe works
for 8-px digits and 96-px STL alike. ``config.yaml`` in a run folder always holds the fully
resolved values.
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

ON_COLLAPSE = ("stop", "continue")


@dataclass
class DataConfig:
    """Which samples to cluster. ``split``: the training split, "all" (train+test merged, the papers'
    protocol), "train" or "test"; ``eval_split``: the split the figures are reported on (None = the
    training split), e.g. train on "train" and report on "test" as IMC-SwAV and SCAN do;
    ``features``: a finished run whose method's ``features`` turn every sample (training,
    evaluation, predicted) into a vector before this method sees it: the second stage of a
    two-stage clustering."""

    name: str = "digits"
    split: str = "all"
    root: str | None = None
    eval_split: str | None = None
    features: str | None = None  # a finished run folder whose network embeds the samples first (two stages)


@dataclass
class TrainConfig:
    """Optimisation and the loop, common to every method. ``None`` = chosen by the method from the
    data (``infoclust config show`` prints what a method and dataset resolve to)."""

    epochs: int | None = None
    batch_size: int | None = None  # unique samples per step, over all processes
    lr: float | None = None
    budget_minutes: float | None = None
    eval_every: int | None = None  # epochs
    checkpoint_every: int | None = None  # steps; None = every checkpoint_minutes (a checkpoint is also written at every evaluation)
    checkpoint_minutes: float = 1.0  # wall-clock minutes between checkpoints when checkpoint_every is unset
    select_samples: int = 10000  # samples used for the label-free sub-head choice
    device: str = "auto"
    deterministic: bool | None = None  # same seed, same numbers on CUDA too; None = on (docs/methods.md)
    cuda_graphs: bool | None = None  # replay each step as one CUDA graph; None = where it can run (one process, a GPU, a method that records its step)
    threads: int = 0  # CPU threads per process; 0 = the CPUs this process may use, shared among its processes
    channels_last: bool = True  # faster on CPU for every backbone measured (docs/RESULTS.md)
    on_collapse: str = "stop"  # a collapsed clustering (one cluster, flat loss): "stop" the run, or "continue" and mark the summary


@dataclass
class RunConfig:
    """The sections every method has. A method's config subclasses it with its own sections
    (``methods/base.py``); the YAML keeps one flat layout: method, seed, data, train, then the method's."""

    method: str = ""  # the registered method's name (the registry's default when none is named)
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
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
        for alternative in inner[:-1]:  # the first alternative the value fits (int | str: 10 or "auto")
            try:
                return _coerce(value, alternative, key)
            except ConfigError:
                pass
        return _coerce(value, inner[-1], key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}': expected a list, got {value!r}")
        if dataclasses.is_dataclass(args[0]):
            return [_from_dict(args[0], v, f"{key}[{i}].") for i, v in enumerate(value)]
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


def config_from_dict(data: dict, cls: type[RunConfig]) -> RunConfig:
    """Build config class ``cls`` (the registered method's) from a nested dict, rejecting unknown
    keys and wrong types. No preset is applied: this reads resolved configs as they are."""
    return _from_dict(cls, data or {})


def merge_dicts(base: dict, update: dict) -> dict:
    """Recursive merge: values of ``update`` win, nested mappings are merged."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merge_dicts(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
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
    return nested(key.strip(), value)


def nested(key: str, value: Any) -> dict:
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
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not text (not UTF-8); expected a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"config file '{path}' cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in str(exc.problem):
            tag = str(exc.problem).split("'")[1] if "'" in str(exc.problem) else "a tag"
            raise ConfigError(f"config file '{path}'{where}: the tag '{tag}' is refused as unsafe; "
                              "expected plain YAML values (numbers, strings, lists, mappings)") from None
        raise ConfigError(f"config file '{path}' is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}': expected a mapping of keys, got {type(data).__name__}")
    return data


def gather_config(path: str | Path | None = None, overrides: list[str] = (), **top: Any) -> dict:
    """The user's values as one nested dict: YAML file ← ``key=value`` overrides ← explicit values
    given as dotted keys (``top`` keys use ``__`` for dots, e.g. ``data__name="digits"``; ``None``
    values are ignored). The method's preset goes under them (``infoclust.methods.load_config``)."""
    data: dict = read_yaml(path) if path else {}
    for text in overrides:
        data = merge_dicts(data, parse_override(text))
    for key, value in top.items():
        if value is not None:
            data = merge_dicts(data, nested(key.replace("__", "."), value))
    return data


def validate_common(cfg: RunConfig) -> None:
    """Reject impossible values of the sections every method has (after the method's ``resolve``)."""
    t = cfg.train
    for key, value in (("train.epochs", t.epochs), ("train.batch_size", t.batch_size), ("train.eval_every", t.eval_every),
                       ("train.select_samples", t.select_samples)):
        if value is None or value < 1:
            raise ConfigError(f"{key} = {value}: expected a positive integer")
    if t.checkpoint_every is not None and t.checkpoint_every < 1:
        raise ConfigError(f"train.checkpoint_every = {t.checkpoint_every}: expected a positive number of steps "
                          "(or none: every train.checkpoint_minutes)")
    if t.lr is None or not t.lr > 0:
        raise ConfigError(f"train.lr = {t.lr}: expected a positive learning rate")
    if t.budget_minutes is not None and not t.budget_minutes > 0:
        raise ConfigError(f"train.budget_minutes = {t.budget_minutes}: expected a positive number of minutes (or none)")
    if not t.checkpoint_minutes > 0:
        raise ConfigError(f"train.checkpoint_minutes = {t.checkpoint_minutes}: expected a positive number of minutes")
    if t.on_collapse not in ON_COLLAPSE:
        raise ConfigError(f"train.on_collapse = '{t.on_collapse}': expected one of {', '.join(ON_COLLAPSE)}")
    if t.threads < 0:
        raise ConfigError(f"train.threads = {t.threads}: expected 0 (automatic) or a positive number of threads")


def config_keys(cls: type) -> list[str]:
    """Every dotted config key of config class ``cls``, in the order of ``config.yaml``."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        out += [f"{f.name}.{key}" for key in config_keys(tp)] if dataclasses.is_dataclass(tp) else [f.name]
    return out


def config_to_dict(cfg: RunConfig) -> dict:
    return dataclasses.asdict(cfg)


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
