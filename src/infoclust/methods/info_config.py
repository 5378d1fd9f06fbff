"""The config of the information-based methods (IIC, IMSAT, the Peng et al. grid): their sections,
presets, the automatic values chosen from the data, and validation.

Sections beyond the common ones (``config.RunConfig``): ``model`` (backbone and heads), ``views``
(IIC's view pair) and ``objective`` (MI term × transformation × KL regularisers); ``train`` gains
``repeats`` and ``head_schedule``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..config import RunConfig, TrainConfig
from ..errors import ConfigError, DataError
from ..models import BACKBONES, IMAGE_BACKBONES
from ..models.backbones import MIN_SIDE
from ..neighbours import default_k
from ..views import INPUT_MODES, Geometry, Jitter, PairViews
from .base import DataFacts
from .common import MAIN, OVER, fill_defaults, is_tiny, parse_schedule

MI_KINDS = ("paired", "marginal")
IMAGE_ONLY = ("geometric", "cutout")  # transformations that need images, not vectors


@dataclass
class ModelConfig:
    """Backbone and heads. ``overcluster``: K of the auxiliary head A (0 = none, None = 5 × n_clusters,
    or none when K is chosen);
    ``n_clusters`` "auto" / ``max_clusters``: K chosen after training (``infoclust.cluster_count``)."""

    backbone: str = "auto"
    n_clusters: int | str | None = None
    max_clusters: int | None = None
    overcluster: int | None = None
    sub_heads: int | None = None
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
class InfoTrainConfig(TrainConfig):
    """``batch_size`` counts unique images; each is seen ``repeats`` times per step (IIC's sample
    repeats); ``head_schedule``: head:passes in order, one pass = one epoch over the data."""

    repeats: int = 5
    head_schedule: str | None = None


@dataclass
class TransformParams:
    """Parameters of the transformations T usable inside the MI term and as KL regularisers.

    VAT: radius ε × prop_eps (ε scalar, or with ``vat_adaptive_eps`` per sample the distance to the
    10th nearest neighbour as in IMSAT), finite step ξ, power iterations. Cutout sides in pixels of
    the network input. Mixup: λ ~ Beta(α, α). Neighbour: T(x) is one of x's ``neighbour_k``
    nearest training samples by cosine similarity of the samples as given (pixels, or the vectors,
    e.g. a first stage's features), drawn afresh at every step (SCAN's pairs as a cell of the grid).
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
    neighbour_k: int | None = None  # T(x) = one of x's k nearest training samples; None: neighbours.default_k


@dataclass
class Regularizer:
    """A term ``weight · KL(p(y|x) ‖ p(y|T(x)))`` with T one of ``TRANSFORMS``; ``weight`` None =
    ``default_weight`` of the MI term and the data."""

    transform: str = "vat"
    weight: float | None = None


TRANSFORMS = ("geometric", "gaussian", "vat", "ivat", "mixup", "cutout", "neighbour")


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
class InfoRunConfig(RunConfig):
    """The whole config of an information-based method: the common sections and this family's."""

    model: ModelConfig = field(default_factory=ModelConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: InfoTrainConfig = field(default_factory=InfoTrainConfig)


# Named methods are presets of the one MI × transformation × regulariser objective (Peng et al.),
# applied under the user's recipe and overrides.
PRESETS: dict[str, dict] = {
    "iic": {"objective": {"mi": "paired", "transform": "geometric", "regularizers": []}},
    # the IMSAT code's settings: one head, batch 250, Adam 2e-3, 50 epochs, λ 0.1, μ 4, adaptive ε,
    # but ε = 0.5 × the distance to the 10th neighbour (the code's MNIST value is 0.25; 0.5 measured
    # better on digits vectors, docs/methods.md)
    "imsat": {"objective": {"mi": "marginal", "regularizers": [{"transform": "vat"}],
                            "transforms": {"vat_adaptive_eps": True, "vat_prop_eps": 0.5}},
              "model": {"overcluster": 0},
              "train": {"head_schedule": "B:1", "batch_size": 250, "lr": 0.002, "epochs": 50}},
    # Peng et al.'s best model: IIC + KL(p(x) ‖ p(VAT(x))), the weight of ``default_weight`` and
    # radius ε·prop_eps = 8 × 0.25 (the authors' MNIST ε), the grid's "I(Y,Ỹ) + KL VAT" row
    # (docs/methods.md)
    "iic-vat": {"objective": {"mi": "paired", "transform": "geometric",
                              "regularizers": [{"transform": "vat"}],
                              "transforms": {"vat_eps": 8.0, "vat_prop_eps": 0.25, "vat_adaptive_eps": False}}},
}


# What a setting left unset resolves to. Tiny images (side ≤ 16 px, e.g. the 8×8 digits): the
# recipe tuned on a 2-core CPU (docs/RESULTS.md): 16-px input, a quarter-width CPU net, ten
# sub-heads for the lowest-loss choice, many small steps (batch 64 × 5 repeats, Adam 1e-3),
# over-clustering head first (IMSAT too: ten sub-heads measured better than one on digits, chosen
# on seeds 10–19, results/digits-recipe-choice/). Vectors: one head, as IMSAT's code. Everything
# else: the paper's values.
TINY_DEFAULTS = {"model.width": 16, "model.sub_heads": 10, "train.epochs": 40, "train.batch_size": 64,
                 "train.lr": 1e-3, "train.head_schedule": "A:1,B:1", "train.eval_every": 5}
PAPER_DEFAULTS = {"model.sub_heads": 5, "train.epochs": 100, "train.batch_size": 128, "train.lr": 1e-4,
                  "train.head_schedule": "B:1,A:1", "train.eval_every": 1}
VECTOR_DEFAULTS = {**PAPER_DEFAULTS, "model.sub_heads": 1}


def _resolve_views(views, image_shape: tuple[int, int, int]) -> None:
    """Fill the image views from the image shape (C, H, W), in place.

    Greyscale images get the MNIST recipe of the IIC code (tf1 crop 5/7 of the side, random or
    centred; tf2 crops 4/7, 5/7, 6/7 with ±25° rotation; input 6/7 of the side), colour images the
    CIFAR recipe (crops 5/8 of the side, resized to the full side, flips, Sobel input). Tiny images
    (side ≤ 16 px, e.g. 8×8 digits) lose too much to such crops: they are upsampled to twice their
    side, tf1 is the whole image and tf2 crops 3/4, 7/8 or all of it (measured in docs/RESULTS.md).
    """
    c, h, w = image_shape
    side = min(h, w)
    grey, tiny = c == 1, side <= 16
    if views.input_mode == "auto":
        views.input_mode = "raw" if grey else "sobel"
    if views.input_size is None:
        views.input_size = 2 * side if tiny else round(side * 6 / 7) if grey else side
    if views.tf1_crops is None:
        views.tf1_crops = [float(side)] if tiny else [round(side * 5 / 7, 2)] if grey else [round(side * 5 / 8, 2)]
    if views.tf2_crops is None:
        if tiny:
            views.tf2_crops = [round(side * f / 8, 2) for f in (6, 7, 8)]
        else:
            views.tf2_crops = [round(side * f / 7, 2) for f in (4, 5, 6)] if grey else list(views.tf1_crops)
    if views.eval_crop is None:
        views.eval_crop = views.tf1_crops[0]
    if views.flip_p is None:
        views.flip_p = 0.0 if grey else 0.5


def default_weight(mi: str, tiny: bool) -> float:
    """The KL weight of a regulariser left unset: 1 beside IMSAT's I(X, Y); 0.1 beside IIC's
    I(Y, Ỹ) (the grid's choice), 0.01 on tiny images, where 0.1 costs digits ACC
    (results/digits-recipe-choice/, docs/methods.md)."""
    return 1.0 if mi == "marginal" else 0.01 if tiny else 0.1


def uses(cfg: InfoRunConfig, transform: str) -> bool:
    """Whether the objective uses ``transform`` inside its MI term or in a regulariser."""
    o = cfg.objective
    return (o.mi == "paired" and o.transform == transform) or any(r.transform == transform for r in o.regularizers)


def resolve(cfg: InfoRunConfig, facts: DataFacts) -> InfoRunConfig:
    """Fill every ``None``/``"auto"`` from the sample shape ((C, H, W) images or (D,) vectors)."""
    sample_shape, n_classes = facts.shape, facts.n_classes
    tiny = len(sample_shape) == 3 and is_tiny(min(sample_shape[1:]))
    cfg = fill_defaults(cfg, VECTOR_DEFAULTS if len(sample_shape) == 1 else TINY_DEFAULTS if tiny else PAPER_DEFAULTS)
    model, views = dataclasses.replace(cfg.model), dataclasses.replace(cfg.views)
    if model.n_clusters is None:
        model.n_clusters = n_classes or 10
    if model.overcluster is None:  # none when K is chosen after training: the main head over-clusters already
        model.overcluster = 0 if model.max_clusters else 5 * model.n_clusters
    weight = default_weight(cfg.objective.mi, tiny)
    regularizers = [r if r.weight is not None else dataclasses.replace(r, weight=weight) for r in cfg.objective.regularizers]
    objective = dataclasses.replace(cfg.objective, regularizers=regularizers)
    if objective.transforms.neighbour_k is None and uses(cfg, "neighbour"):
        transforms = dataclasses.replace(objective.transforms, neighbour_k=default_k(facts.n_samples, model.n_clusters))
        objective = dataclasses.replace(objective, transforms=transforms)
    cfg = dataclasses.replace(cfg, objective=objective)
    if len(sample_shape) == 1:
        if model.backbone == "auto":
            model.backbone = "mlp"
        return dataclasses.replace(cfg, model=model, views=views)
    _resolve_views(views, sample_shape)
    if model.backbone == "auto":
        model.backbone = "cnn-small" if views.input_size <= 16 else "vgg6c" if views.input_size < 32 else "resnet34"
    return dataclasses.replace(cfg, model=model, views=views)


def _validate_views(cfg: RunConfig, side: int) -> None:
    v = cfg.views
    if v.input_mode not in INPUT_MODES:
        raise ConfigError(f"views.input_mode = '{v.input_mode}': expected one of auto, {', '.join(INPUT_MODES)}")
    for key, crops in (("views.tf1_crops", v.tf1_crops), ("views.tf2_crops", v.tf2_crops), ("views.eval_crop", [v.eval_crop])):
        if not crops or any(not 0 < s <= side for s in crops):
            raise ConfigError(f"{key} = {crops}: expected crop sizes in (0, {side}] pixels (the image side)")
    if len(v.jitter) != 4 or any(j < 0 for j in v.jitter):
        raise ConfigError(f"views.jitter = {v.jitter}: expected [brightness, contrast, saturation, hue] ≥ 0")
    if cfg.model.backbone not in IMAGE_BACKBONES:
        raise ConfigError(f"model.backbone = '{cfg.model.backbone}' takes feature vectors: expected one of {', '.join(IMAGE_BACKBONES)} for images")
    least = MIN_SIDE[cfg.model.backbone]
    if v.input_size < least:
        raise DataError(f"images with a side of {side} px are too small for backbone {cfg.model.backbone} at "
                        f"views.input_size = {v.input_size}: expected an input of at least {least}×{least} px")


def _validate_objective(cfg: RunConfig, vectors: bool, n_samples: int | None) -> None:
    o, t = cfg.objective, cfg.objective.transforms
    if o.mi not in MI_KINDS:
        raise ConfigError(f"objective.mi = '{o.mi}': expected one of {', '.join(MI_KINDS)}")
    used = [("objective.transform", o.transform)] if o.mi == "paired" else []
    used += [(f"objective.regularizers[{i}].transform", r.transform) for i, r in enumerate(o.regularizers)]
    for key, name in used:
        if name not in TRANSFORMS:
            raise ConfigError(f"{key} = '{name}': expected one of {', '.join(TRANSFORMS)}")
        if vectors and name in IMAGE_ONLY:
            raise ConfigError(f"{key} = '{name}' needs images, but the data are feature vectors: use gaussian, vat, ivat or mixup")
    for i, r in enumerate(o.regularizers):
        if r.weight < 0:
            raise ConfigError(f"objective.regularizers[{i}].weight = {r.weight}: expected ≥ 0")
    k = t.neighbour_k
    if uses(cfg, "neighbour") and k is not None and (k < 1 or (n_samples is not None and k >= n_samples)):
        raise ConfigError(f"objective.transforms.neighbour_k = {k}: expected at least 1 and fewer than the "
                          f"{n_samples} samples")
    if not 1 <= t.cutout_min <= t.cutout_max:
        raise ConfigError(f"objective.transforms.cutout_min/max = {t.cutout_min}/{t.cutout_max}: expected 1 ≤ min ≤ max pixels")
    for key, value in (("gaussian_std", t.gaussian_std), ("vat_eps", t.vat_eps), ("vat_prop_eps", t.vat_prop_eps),
                       ("vat_xi", t.vat_xi), ("mixup_alpha", t.mixup_alpha)):
        if not value > 0:
            raise ConfigError(f"objective.transforms.{key} = {value}: expected a positive number")


def validate(cfg: InfoRunConfig, facts: DataFacts) -> None:
    """Reject impossible settings for the data's ``facts`` with one clear line each (after ``resolve``)."""
    sample_shape = facts.shape
    m, t = cfg.model, cfg.train
    vectors = len(sample_shape) == 1
    if m.backbone not in BACKBONES:
        raise ConfigError(f"unknown backbone '{m.backbone}': expected one of {', '.join(BACKBONES)}")
    if m.n_clusters < 2:
        raise ConfigError(f"model.n_clusters = {m.n_clusters}: expected at least 2 clusters")
    if m.overcluster and m.overcluster < 2:
        raise ConfigError(f"model.overcluster = {m.overcluster}: expected 0 (off) or at least 2 clusters")
    if m.sub_heads < 1:
        raise ConfigError(f"model.sub_heads = {m.sub_heads}: expected at least 1")
    if t.batch_size < m.n_clusters:
        raise ConfigError(
            f"train.batch_size = {t.batch_size} is smaller than n_clusters = {m.n_clusters}: "
            "expected a batch of at least k images so every cluster can be filled"
        )
    if t.repeats < 1:
        raise ConfigError(f"train.repeats = {t.repeats}: expected a positive integer")
    parse_schedule(t.head_schedule, [MAIN, OVER])
    if vectors and m.backbone in IMAGE_BACKBONES:
        raise ConfigError(f"model.backbone = '{m.backbone}' needs images, but the data are N×D feature vectors: use mlp")
    if not vectors:
        _validate_views(cfg, min(sample_shape[1:]))
    _validate_objective(cfg, vectors, facts.n_samples)


def build_views(cfg: RunConfig) -> PairViews:
    v = cfg.views
    return PairViews(
        tf1=Geometry(v.input_size, tuple(v.tf1_crops), center_p=v.tf1_center_p),
        tf2=Geometry(v.input_size, tuple(v.tf2_crops), rotation=v.rotation, rotation_p=v.rotation_p, flip_p=v.flip_p),
        eval=Geometry(v.input_size, (v.eval_crop,)),
        jitter=Jitter(*v.jitter),
        input_mode=v.input_mode,
    )


