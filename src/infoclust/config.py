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
    head_schedule: str = "B:1,A:1"  # head:passes in order; one pass = one epoch over the data
    budget_minutes: float | None = None
    eval_every: int = 1  # epochs
    checkpoint_every: int = 200  # steps (a checkpoint is also written at every evaluation)
    select_samples: int = 10000  # images used for the label-free lowest-loss sub-head choice
    device: str = "auto"
    channels_last: bool = True  # faster on CPU for every backbone measured (docs/RESULTS.md)


@dataclass
class TransformParams:
    """Parameters of the transformations T usable inside the MI term and as KL regularisers.

    VAT: radius ε × prop_eps (ε scalar, or with ``vat_adaptive_eps`` per sample the distance to the
    10th nearest neighbour as in IMSAT), finite step ξ, power iterations. Cutout sides in pixels of
    the network input. Mixup: λ ~ Beta(α, α).
    """

    gaussian_std: float = 0.1
    vat_xi: float = 10.0
    vat_eps: float = 1.0
    vat_prop_eps: float = 0.25
    vat_power_iters: int = 1
    vat_adaptive_eps: bool = False
    mixup_alpha: float = 1.0
    cutout_min: int = 6
    cutout_max: int = 12


@dataclass
class Regularizer:
    """A term ``weight · KL(p(y|x) ‖ p(y|T(x)))`` with T one of ``TRANSFORMS``."""

    transform: str = "vat"
    weight: float = 1.0


TRANSFORMS = ("geometric", "gaussian", "vat", "ivat", "mixup", "cutout")


@dataclass
class ObjectiveConfig:
    """The MI term and its regularisers (Peng et al. §3): any MI × transformation × regularisers.

    ``mi``: "paired" = I(Y, Ỹ) of IIC between x and T(x) with T = ``transform``; "marginal" =
    IMSAT's I(X, Y) = H(Y) − H(Y|X), minimised as λ(H(Y|X) − μ H(Y)) (``transform`` is ignored).
    ``lamb``: IIC's marginal-entropy weight in the paired term.
    """

    mi: str = "paired"
    transform: str = "geometric"
    lamb: float = 1.0
    imsat_lambda: float = 0.1
    imsat_mu: float = 4.0
    regularizers: list[Regularizer] = field(default_factory=list)
    transforms: TransformParams = field(default_factory=TransformParams)


@dataclass
class RunConfig:
    method: str = "iic"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# Named methods are presets of the one MI × transformation × regulariser objective (Peng et al.),
# applied under the user's recipe and overrides.
PRESETS: dict[str, dict] = {
    "iic": {"objective": {"mi": "paired", "transform": "geometric", "regularizers": []}},
    # the IMSAT code's settings: one head, batch 250, Adam 2e-3, 50 epochs, λ 0.1, μ 4, adaptive ε,
    # but ε = 0.5 × the distance to the 10th neighbour (the code's MNIST value is 0.25; 0.5 measured
    # better on digits vectors, docs/methods.md)
    "imsat": {"objective": {"mi": "marginal", "regularizers": [{"transform": "vat", "weight": 1.0}],
                            "transforms": {"vat_adaptive_eps": True, "vat_prop_eps": 0.5}},
              "model": {"overcluster": 0, "sub_heads": 1},
              "train": {"head_schedule": "B:1", "batch_size": 250, "lr": 0.002, "epochs": 50}},
    # Peng et al.'s best model: IIC + KL(p(x) ‖ p(VAT(x))), weight 0.1 and radius ε·prop_eps = 8 × 0.25
    # (the authors' MNIST ε), the values of the grid's "I(Y,Ỹ) + KL VAT" row (docs/methods.md)
    "iic-vat": {"objective": {"mi": "paired", "transform": "geometric",
                              "regularizers": [{"transform": "vat", "weight": 0.1}],
                              "transforms": {"vat_eps": 8.0, "vat_prop_eps": 0.25, "vat_adaptive_eps": False}}},
}


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


def config_from_dict(data: dict) -> RunConfig:
    """Build a ``RunConfig`` from a nested dict, rejecting unknown keys and wrong types."""
    return _from_dict(RunConfig, data or {})


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
        data = merge_dicts(data, parse_override(text))
    for key, value in top.items():
        if value is not None:
            data = merge_dicts(data, nested(key.replace("__", "."), value))
    section, method = data.get("data"), data.get("method", "iic")
    if path is None and isinstance(section, dict) and isinstance(section.get("name"), str):
        recipe = bundled_recipe(method, section["name"])
        if recipe is not None:
            data = merge_dicts(read_yaml(recipe), data)
    if method in PRESETS:
        data = merge_dicts(PRESETS[method], data)
    return config_from_dict(data)


def bundled_recipe(method: str, dataset: str) -> Path | None:
    """The default recipe shipped for (method, named dataset), used when no --config is given."""
    path = RECIPES / f"{method}-{dataset}.yaml"
    return path if isinstance(method, str) and path.is_file() else None


def config_to_dict(cfg: RunConfig) -> dict:
    return dataclasses.asdict(cfg)


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
