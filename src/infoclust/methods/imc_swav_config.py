"""IMC-SwAV's config sections, presets, resolution of automatic values from the data, and validation.

Defaults are the paper's and its code's (``task_train.py`` argparse, README): ResNet-18 with the
CIFAR stem, projection 512 → 128, k' = 1000 prototypes, classifier 1024 → 1024 → K; multi-crop
2 × 28 + 4 × 18 px for 32-px images (2 × 76 + 4 × 52 for 96 px), scales (0.2, 1) and (0.08, 0.4);
Sinkhorn ε 0.05 with 3 iterations, τ 0.1, β 4, logit penalty 0.01 beyond ±5; Adam 5e-4 with betas
(0.8, 0.999) and weight decay 1e-5, batch 256, 500 epochs, linear warm-up over 500 updates with the
prototypes frozen meanwhile, then ×0.4 at epochs 150, 300 and 400.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..config import RunConfig, TrainConfig
from ..errors import ConfigError
from ..models.imc_swav import STAGES
from ..views import CropGroup, Jitter, MultiCropViews
from .base import DataFacts
from .common import fill_image_defaults, is_tiny

CROP_SIDES = {32: [28, 18], 64: [56, 36], 96: [76, 52]}  # the code's multi-crop sizes by image side
CROP_SCALES = [[0.2, 1.0], [0.08, 0.4]]  # area fractions of the large and the small crops (the code's)
TINY_CROP_SCALES = [[0.4, 1.0], [0.2, 0.6]]  # tiny images: a crop under a fifth of 8×8 px loses the digit
TINY_UPSAMPLE = 1.5  # tiny images: the large crops and the evaluation view at 1.5 × the image side


@dataclass
class IMCModelConfig:
    """``depth``: ResNet-18, 34 or 50; ``width``: the first stage's channels (None = 64);
    ``max_pool``: a 2×2 max-pool after the stem (None = for images of 64 px or more, as the code)."""

    depth: int = 18
    width: int | None = None
    max_pool: bool | None = None
    n_clusters: int | None = None
    prototypes: int | None = None  # None: 1000, the code's (tiny images: 100)
    projection_hidden: int = 512
    projection_dim: int = 128
    classifier_hidden: int | None = None  # None: 1024, the code's (tiny images: 256)


@dataclass
class IMCViewConfig:
    """Multi-crop: ``crop_counts[g]`` views of ``crop_sizes[g]`` px with area fraction in
    ``crop_scales[g]`` per group g (the first group's views are the ones assigned codes).
    None: the code's 2 × large + 4 × small crops with scales (0.2, 1) and (0.08, 0.4), sized by
    ``CROP_SIDES``; tiny images: 2 large crops of 1.5 × the side with scales (0.4, 1) (RESULTS).
    ``eval_size``: side of the evaluation view (None = the image's own; tiny images: 1.5 × it)."""

    crop_counts: list[int] | None = None
    crop_sizes: list[int] | None = None
    crop_scales: list[list[float]] | None = None
    ratio: list[float] = field(default_factory=lambda: [3 / 4, 4 / 3])
    flip_p: float | None = None  # None: 0.5 for colour images, 0 for grey (digits must not flip)
    jitter: list[float] = field(default_factory=lambda: [0.4, 0.4, 0.4, 0.1])
    jitter_p: float = 0.8
    grey_p: float = 0.25
    mean: list[float] | None = None  # None: the code's values for its datasets, 0.5 otherwise
    std: list[float] | None = None
    eval_size: int | None = None


@dataclass
class IMCObjectiveConfig:
    """The swapped prediction (Sinkhorn ``eps``, ``sinkhorn_iters``, ``temperature`` τ, codes for
    the first ``assign_views`` views, an optional ``queue_length`` of past embeddings used from
    epoch ``queue_start_epoch``) plus ``mi_weight`` × (H(Y|U) − β H(Y)) over all view pairs plus
    ``logit_weight`` × the excess of the classifier's logits over ±``logit_bound``.
    ``mi_trains_encoder``: whether the MI term's gradient reaches the encoder and the prototypes
    (the paper's text) or only the classifier (the code, which detaches its inputs: the default).
    When some samples come from an unlabelled part of the data (STL-10's train+unlabeled), the
    classifier learns only from the labelled ones, as the code: their detached features and scores
    are banked until a batch's worth is there (``classifier_on_unlabelled`` lifts that)."""

    eps: float = 0.05
    sinkhorn_iters: int = 3
    temperature: float = 0.1
    assign_views: int = 2
    beta: float = 4.0
    mi_weight: float = 1.0
    logit_weight: float = 0.01
    logit_bound: float = 5.0
    mi_trains_encoder: bool = False
    queue_length: int = 0
    queue_start_epoch: int = 15
    classifier_on_unlabelled: bool = False


@dataclass
class IMCTrainConfig(TrainConfig):
    """Adam's ``betas`` and ``weight_decay``; a linear warm-up of the learning rate over the first
    ``warmup_steps`` updates (the prototypes stay fixed for ``freeze_prototypes_steps``), then a
    factor ``gamma`` at each epoch of ``milestones``."""

    betas: list[float] = field(default_factory=lambda: [0.8, 0.999])
    weight_decay: float = 1e-5
    warmup_steps: int | None = None  # None: 500, the code's (tiny images: 50)
    freeze_prototypes_steps: int | None = None
    milestones: list[int] = field(default_factory=lambda: [150, 300, 400])
    gamma: float = 0.4


@dataclass
class IMCRunConfig(RunConfig):
    train: IMCTrainConfig = field(default_factory=IMCTrainConfig)
    model: IMCModelConfig = field(default_factory=IMCModelConfig)
    views: IMCViewConfig = field(default_factory=IMCViewConfig)
    objective: IMCObjectiveConfig = field(default_factory=IMCObjectiveConfig)


PRESET: dict = {"method": "imc-swav"}

PAPER_DEFAULTS = {"train.epochs": 500, "train.batch_size": 256, "train.lr": 5e-4, "train.eval_every": 5,
                  "train.warmup_steps": 500, "train.freeze_prototypes_steps": 500, "model.prototypes": 1000,
                  "model.classifier_hidden": 1024, "views.crop_counts": [2, 4]}
# Tiny images (side ≤ 16 px, the 8×8 digits), found by pilots on digits (docs/RESULTS.md): a
# quarter-width ResNet-18 on two large crops upsampled to 12 px (small crops of an 8×8 digit cost
# 0.2 ACC at 20 epochs; 16 px ran past 3 minutes), 100 prototypes for 1,797 images, a classifier
# 256 wide, batch 64 with a 20-update warm-up and freeze; 45 passes, re-chosen over 30 on digits
# seeds 10–19 (0.884 against 0.861, results/digits-recipe-choice/).
TINY_DEFAULTS = {"train.epochs": 45, "train.batch_size": 64, "train.lr": 2e-3, "train.eval_every": 10,
                 "model.width": 16, "model.prototypes": 100, "model.classifier_hidden": 256,
                 "views.crop_counts": [2], "train.warmup_steps": 20, "train.freeze_prototypes_steps": 20}


def resolve(cfg: IMCRunConfig, facts: DataFacts) -> IMCRunConfig:
    """Fill every None from the image shape (C, H, W) and the dataset's channel statistics."""
    sample_shape, n_classes = facts.shape, facts.n_classes
    cfg, c, side = fill_image_defaults(cfg, sample_shape, TINY_DEFAULTS, PAPER_DEFAULTS)
    model, views = dataclasses.replace(cfg.model), dataclasses.replace(cfg.views)
    if model.n_clusters is None:
        model.n_clusters = n_classes or 10
    if model.width is None:
        model.width = 64
    if model.max_pool is None:
        model.max_pool = side >= 64
    tiny, groups = is_tiny(side), len(views.crop_counts)
    upsampled = round(side * TINY_UPSAMPLE)
    if views.crop_sizes is None:
        sizes = [upsampled, side] if tiny else [round(side * 7 / 8), round(side * 9 / 16)]
        views.crop_sizes = CROP_SIDES.get(side, sizes)[:groups]
    if views.eval_size is None and tiny:
        views.eval_size = upsampled
    if views.crop_scales is None:
        views.crop_scales = [list(scale) for scale in (TINY_CROP_SCALES if tiny else CROP_SCALES)[:groups]]
    if views.flip_p is None:
        views.flip_p = 0.5 if c == 3 else 0.0
    mean, std = facts.channel_stats or ((0.5,) * c, (0.5,) * c)  # the code's values for CIFAR and STL
    if views.mean is None:
        views.mean = list(mean)[:c]
    if views.std is None:
        views.std = list(std)[:c]
    return dataclasses.replace(cfg, model=model, views=views)


def validate(cfg: IMCRunConfig, facts: DataFacts) -> None:
    """Reject impossible settings with one clear line each (after ``resolve``)."""
    sample_shape = facts.shape
    m, v, o, t = cfg.model, cfg.views, cfg.objective, cfg.train
    c = sample_shape[0]
    if m.depth not in STAGES:
        raise ConfigError(f"model.depth = {m.depth}: expected one of {', '.join(map(str, STAGES))}")
    if m.n_clusters < 2 or m.prototypes < 2:
        raise ConfigError(f"model.n_clusters = {m.n_clusters}, model.prototypes = {m.prototypes}: expected at least 2 each")
    if min(m.width, m.projection_hidden, m.projection_dim, m.classifier_hidden) < 1:
        raise ConfigError("model.width, projection_hidden, projection_dim and classifier_hidden: expected positive sizes")
    groups = (len(v.crop_counts), len(v.crop_sizes), len(v.crop_scales))
    if len(set(groups)) != 1:
        raise ConfigError(f"views.crop_counts, crop_sizes and crop_scales have {groups[0]}, {groups[1]} and "
                          f"{groups[2]} entries: expected one per crop group")
    if any(n < 1 for n in v.crop_counts) or any(s < 4 for s in v.crop_sizes):
        raise ConfigError(f"views.crop_counts = {v.crop_counts}, crop_sizes = {v.crop_sizes}: expected at least one "
                          "view per group and sides of at least 4 px")
    if not all(len(s) == 2 and 0 < s[0] <= s[1] <= 1 for s in v.crop_scales):
        raise ConfigError(f"views.crop_scales = {v.crop_scales}: expected [low, high] with 0 < low ≤ high ≤ 1 per group")
    if sum(v.crop_counts) < 2 or not 1 <= o.assign_views <= v.crop_counts[0]:
        raise ConfigError(f"objective.assign_views = {o.assign_views} with views.crop_counts = {v.crop_counts}: expected "
                          "at least 2 views in all and 1 to crop_counts[0] assigned views")
    if len(v.mean) != c or len(v.std) != c or any(s <= 0 for s in v.std):
        raise ConfigError(f"views.mean = {v.mean}, views.std = {v.std}: expected {c} value(s) each (one per "
                          "channel), std > 0")
    for key, value in (("flip_p", v.flip_p), ("jitter_p", v.jitter_p), ("grey_p", v.grey_p)):
        if not 0 <= value <= 1:
            raise ConfigError(f"views.{key} = {value}: expected a probability in [0, 1]")
    if o.eps <= 0 or o.temperature <= 0 or o.sinkhorn_iters < 1:
        raise ConfigError(f"objective.eps = {o.eps}, temperature = {o.temperature}, sinkhorn_iters = "
                          f"{o.sinkhorn_iters}: expected eps > 0, temperature > 0 and at least 1 iteration")
    if o.queue_length < 0 or (o.queue_length and o.queue_length % t.batch_size):
        raise ConfigError(f"objective.queue_length = {o.queue_length}: expected 0 or a multiple of train.batch_size "
                          f"({t.batch_size})")
    if t.warmup_steps < 0 or t.freeze_prototypes_steps < 0:
        raise ConfigError(f"train.warmup_steps = {t.warmup_steps}, freeze_prototypes_steps = {t.freeze_prototypes_steps}: "
                          "expected 0 or more updates")
    if facts.labelled_parts and not o.classifier_on_unlabelled and (o.mi_trains_encoder or facts.processes > 1):
        raise ConfigError("training the classifier on the labelled part only (data with unlabelled images) "
                          "works with objective.mi_trains_encoder = false in one process; expected that, or "
                          "objective.classifier_on_unlabelled = true")
    if len(t.betas) != 2 or not all(0 <= b < 1 for b in t.betas) or t.weight_decay < 0 or not 0 < t.gamma <= 1:
        raise ConfigError(f"train.betas = {t.betas}, weight_decay = {t.weight_decay}, gamma = {t.gamma}: expected "
                          "betas in [0, 1), weight_decay ≥ 0, 0 < gamma ≤ 1")


def build_views(cfg: IMCRunConfig) -> MultiCropViews:
    v = cfg.views
    groups = tuple(CropGroup(n, s, tuple(sc)) for n, s, sc in zip(v.crop_counts, v.crop_sizes, v.crop_scales))
    return MultiCropViews(groups, tuple(v.mean), tuple(v.std), tuple(v.ratio), v.flip_p, Jitter(*v.jitter),
                          v.jitter_p, v.grey_p, v.eval_size)
