"""IIC segmentation's config sections, defaults, resolution from the data, and validation.

The paper's settings (§4.2) and its code's (``examples/commands.txt``; docs/reference/): the
SegmentationNet10a trunk (w = 64), a main head of K clusters and an over-clustering head of 3–5 K,
one sub-head, heads trained in alternating passes, Adam 1e-4, displacements within ±10 px, λ = 1.5
for the 3-class sets, view 2 = view 1 colour-jittered (0.4, 0.4, 0.4, 0.125) and flipped (p 0.5).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..config import RunConfig, TrainConfig
from ..errors import ConfigError, DataError
from ..models.segmentation import PADDINGS
from ..views import INPUT_MODES, DenseViews, Jitter, input_channels
from .base import DataFacts
from .common import MAIN, OVER, fill_image_defaults, parse_schedule


@dataclass
class SegModelConfig:
    """``width`` w of the trunk (None = 64, the paper's); ``n_clusters`` K of the main head;
    ``overcluster`` k of head A (0 = none; None = 5 K); ``sub_heads`` h per head; ``padding`` of the
    trunk's convolutions (``models.segmentation.PADDINGS``; zeros = the paper's)."""

    width: int | None = None
    n_clusters: int | None = None
    overcluster: int | None = None
    sub_heads: int = 1
    padding: str = "zeros"


@dataclass
class SegViewConfig:
    """``views.DenseViews``: the training crop's side (None = the image's), the input the network
    sees (``INPUT_MODES``; None = sobel+rgb for colour images as the paper's COCO runs, raw for grey)."""

    input_size: int | None = None
    input_mode: str | None = None
    flip_p: float = 0.5
    rotation: float = 0.0
    scale: list[float] = field(default_factory=lambda: [1.0, 1.0])
    translate: float = 0.0
    jitter: list[float] = field(default_factory=lambda: [0.4, 0.4, 0.4, 0.125])


@dataclass
class SegObjectiveConfig:
    """IIC eq. (5): displacements t ∈ [−``displacement``, ``displacement``]², λ per head."""

    displacement: int = 10
    lamb_main: float = 1.5
    lamb_over: float = 1.0


@dataclass
class SegTrainConfig(TrainConfig):
    """``head_schedule``: passes per head in one cycle; the code trains B then A in every epoch."""

    head_schedule: str = "B:1,A:1"


@dataclass
class SegRunConfig(RunConfig):
    train: SegTrainConfig = field(default_factory=SegTrainConfig)
    model: SegModelConfig = field(default_factory=SegModelConfig)
    views: SegViewConfig = field(default_factory=SegViewConfig)
    objective: SegObjectiveConfig = field(default_factory=SegObjectiveConfig)


PRESET: dict = {"method": "iic-seg"}
PAPER_DEFAULTS = {"train.epochs": 100, "train.batch_size": 32, "train.lr": 1e-4, "train.eval_every": 5,
                  "model.width": 64}
TINY_DEFAULTS = {"train.epochs": 20, "train.batch_size": 16, "train.lr": 1e-3, "train.eval_every": 5,
                 "model.width": 16}


def resolve(cfg: SegRunConfig, facts: DataFacts) -> SegRunConfig:
    """Fill every None from the image shape (C, H, W) and the number of classes."""
    sample_shape, n_classes = facts.shape, facts.n_classes
    cfg, c, side = fill_image_defaults(cfg, sample_shape, TINY_DEFAULTS, PAPER_DEFAULTS)
    model, views = dataclasses.replace(cfg.model), dataclasses.replace(cfg.views)
    if model.n_clusters is None:
        model.n_clusters = n_classes or 3
    if model.overcluster is None:
        model.overcluster = 5 * model.n_clusters
    if views.input_size is None:
        views.input_size = side
    if views.input_mode is None:
        views.input_mode = "sobel+rgb" if c == 3 else "raw"
    return dataclasses.replace(cfg, model=model, views=views)


def validate(cfg: SegRunConfig, facts: DataFacts) -> None:
    """Reject impossible settings with one clear line each (after ``resolve``)."""
    sample_shape = facts.shape
    m, v, o, t = cfg.model, cfg.views, cfg.objective, cfg.train
    side = min(sample_shape[1:])
    if m.n_clusters < 2 or m.overcluster < 0 or m.sub_heads < 1 or m.width < 1:
        raise ConfigError(f"model.n_clusters = {m.n_clusters}, overcluster = {m.overcluster}, sub_heads = "
                          f"{m.sub_heads}, width = {m.width}: expected at least 2 clusters, overcluster ≥ 0 (0 = "
                          "none), at least 1 sub-head and a positive width")
    if m.padding not in PADDINGS:
        raise ConfigError(f"model.padding = '{m.padding}': expected one of {', '.join(PADDINGS)}")
    if v.input_mode not in INPUT_MODES:
        raise ConfigError(f"views.input_mode = '{v.input_mode}': expected one of {', '.join(INPUT_MODES)}")
    if not 8 <= v.input_size <= side or v.input_size % 2:
        raise DataError(f"views.input_size = {v.input_size} px: expected an even side from 8 px up to the images' "
                        f"{side} px")
    if (len(v.scale) != 2 or not 0 < v.scale[0] <= v.scale[1] or not 0 <= v.flip_p <= 1 or v.rotation < 0
            or not 0 <= v.translate < 1):
        raise ConfigError(f"views.scale = {v.scale}, flip_p = {v.flip_p}, rotation = {v.rotation}, translate = "
                          f"{v.translate}: expected 0 < low ≤ high, a probability, an angle ≥ 0 and a shift in [0, 1) "
                          "of the side")
    if len(v.jitter) != 4 or any(j < 0 for j in v.jitter):
        raise ConfigError(f"views.jitter = {v.jitter}: expected [brightness, contrast, saturation, hue] ≥ 0")
    if not 0 <= o.displacement < v.input_size:
        raise ConfigError(f"objective.displacement = {o.displacement}: expected 0 to views.input_size − 1 "
                          f"({v.input_size - 1}) px")
    heads = [MAIN, OVER] if m.overcluster else [MAIN]
    parse_schedule(t.head_schedule, heads)


def build_views(cfg: SegRunConfig) -> DenseViews:
    v = cfg.views
    return DenseViews(v.input_size, Jitter(*v.jitter), v.flip_p, v.rotation, tuple(v.scale), v.input_mode, v.translate)


def network_channels(cfg: SegRunConfig, image_channels: int) -> int:
    return input_channels(cfg.views.input_mode, image_channels)
