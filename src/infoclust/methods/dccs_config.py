"""DCCS's config sections, presets, resolution of automatic values from the data, and validation.

Defaults are the paper's and its code's (``train.py`` argparse, README): Zs 50-d with prior
N(0, 0.1²), Zc one-hot of K, β_adv 1, β_mi 0.5, β_aug 2 (grey data) / 4 (colour), λ_gp 10, 4 critic
steps per encoder step, batch 64, Adam 1e-4 with betas (0.5, 0.9); augmentation scale (0.4, 1);
colour images get channel shuffles and flips and are then turned grey; grey images are not
flipped (digits; the Fashion-MNIST recipes set ``views.flip_p: 0.5`` as the code does).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..config import RunConfig, TrainConfig
from ..errors import ConfigError, DataError
from ..models.dccs import ENCODER_SIZES, ENCODERS
from ..views import AugmentViews, Jitter
from .base import DataFacts
from .common import fill_image_defaults

ASSIGNMENTS = ("argmax",)  # how a sample's cluster is read from Z (paper Table 4)
INFORMATION = ("discriminator", "decoder")  # what keeps Z informative of the image


@dataclass
class DCCSModelConfig:
    """The encoder and the code Z = [Zs, Zc]. ``encoder``: conv28 (Table 6), resnet32 (Table 7),
    resnet96 (Table 8) or auto (by image side); ``width``: the first stage's channels (None = the
    paper's); ``style_std``: σ of the style prior N(0, σ²)."""

    encoder: str = "auto"
    width: int | None = None
    n_clusters: int | None = None
    style_dim: int = 50
    style_std: float = 0.1
    assignment: str = "argmax"


@dataclass
class DCCSViewConfig:
    """The augmented view (``views.AugmentViews``). None / "auto" = chosen from the image."""

    input_size: int | None = None
    scale: list[float] | None = None  # area fraction of the random crop; None: [0.4, 1.0] (tiny images [0.6, 1.0])
    ratio: list[float] = field(default_factory=lambda: [3 / 4, 4 / 3])
    flip_p: float | None = None
    channel_shuffle: bool | None = None
    grey: bool | None = None  # colour images become grey after the channel shuffle (the paper, §4.1)
    jitter: list[float] = field(default_factory=lambda: [0.4, 0.4, 0.4, 0.125])
    sobel: bool = False  # the encoder sees the Sobel edges of both views (paper Tables 14, 15)


@dataclass
class DCCSObjectiveConfig:
    """Weights of the encoder's loss β_adv·prior + β_mi·MI + β_aug·augmentation, the critic's
    gradient penalty λ_gp, and the critic steps per encoder step. ``information``: what keeps Z
    informative of the image, the MI ``discriminator`` (the paper's) or a ``decoder`` whose
    reconstruction error, weighted by β_rec, replaces the MI term (Appendix D, Tables 11–13).
    A zero weight drops its term and its network's work (the ablation of Table 5)."""

    beta_adv: float | None = None  # 1 (tiny images: 2)
    beta_mi: float = 0.5
    beta_aug: float | None = None  # 2 for grey data, 4 for colour (the DCCS README)
    lambda_gp: float = 10.0
    critic_steps: int = 4
    information: str = "discriminator"
    beta_rec: float = 5.0  # the paper's best weight for the decoder's reconstruction loss


@dataclass
class DCCSTrainConfig(TrainConfig):
    """``betas``: Adam's (β1, β2) for the encoder + discriminator and for the critic."""

    betas: list[float] = field(default_factory=lambda: [0.5, 0.9])


@dataclass
class DCCSRunConfig(RunConfig):
    train: DCCSTrainConfig = field(default_factory=DCCSTrainConfig)
    model: DCCSModelConfig = field(default_factory=DCCSModelConfig)
    views: DCCSViewConfig = field(default_factory=DCCSViewConfig)
    objective: DCCSObjectiveConfig = field(default_factory=DCCSObjectiveConfig)


PRESET: dict = {"method": "dccs"}

# The paper's settings; its code's epochs (3000 with early stopping "when the critic loss
# converges") are replaced by a count of passes. Tiny images (side ≤ 16 px, the 8×8 digits) get
# the recipe tuned on the 2-core CPU (docs/RESULTS.md): a 16-px input to a half-width encoder,
# Adam 2e-3 for 150 passes, β_adv 2 (at β_adv 1 two to four clusters stayed empty within the
# budget), β_aug 4 and crops of at least 60 % of the image.
PAPER_DEFAULTS = {"train.epochs": 300, "train.batch_size": 64, "train.lr": 1e-4, "train.eval_every": 5,
                  "objective.beta_adv": 1.0, "views.scale": [0.4, 1.0]}
TINY_DEFAULTS = {"train.epochs": 150, "train.batch_size": 64, "train.lr": 2e-3, "train.eval_every": 25,
                 "model.width": 32, "views.input_size": 16, "views.scale": [0.6, 1.0],
                 "objective.beta_adv": 2.0, "objective.beta_aug": 4.0}


def resolve(cfg: DCCSRunConfig, facts: DataFacts) -> DCCSRunConfig:
    """Fill every None / "auto" from the image shape (C, H, W)."""
    sample_shape, n_classes = facts.shape, facts.n_classes
    cfg, c, side = fill_image_defaults(cfg, sample_shape, TINY_DEFAULTS, PAPER_DEFAULTS)
    model, views, objective = (dataclasses.replace(s) for s in (cfg.model, cfg.views, cfg.objective))
    if model.n_clusters is None:
        model.n_clusters = n_classes or 10
    if model.encoder == "auto":
        model.encoder = "conv28" if side <= 28 else "resnet32" if side <= 64 else "resnet96"
    if views.input_size is None:
        views.input_size = ENCODER_SIZES[model.encoder]
    colour = c == 3
    if views.grey is None:
        views.grey = colour
    if views.flip_p is None:
        views.flip_p = 0.5 if colour else 0.0  # digits must not flip; Fashion-MNIST's recipe sets 0.5
    if views.channel_shuffle is None:
        views.channel_shuffle = colour
    if objective.beta_aug is None:
        objective.beta_aug = 4.0 if colour else 2.0  # the paper: 2 for MNIST and Fashion-MNIST, 4 for the others
    return dataclasses.replace(cfg, model=model, views=views, objective=objective)


def validate(cfg: DCCSRunConfig, facts: DataFacts) -> None:
    """Reject impossible settings with one clear line each (after ``resolve``)."""
    m, v, o, t = cfg.model, cfg.views, cfg.objective, cfg.train
    if m.encoder not in ENCODERS:
        raise ConfigError(f"model.encoder = '{m.encoder}': expected auto or one of {', '.join(ENCODERS)}")
    if m.n_clusters < 2:
        raise ConfigError(f"model.n_clusters = {m.n_clusters}: expected at least 2 clusters")
    if m.style_dim < 1 or not m.style_std > 0:
        raise ConfigError(f"model.style_dim = {m.style_dim}, model.style_std = {m.style_std}: expected positive values")
    if m.assignment not in ASSIGNMENTS:
        raise ConfigError(f"model.assignment = '{m.assignment}': expected one of {', '.join(ASSIGNMENTS)}")
    least = {"conv28": 10, "resnet32": 8, "resnet96": 16}[m.encoder]
    if v.input_size < least:
        raise DataError(f"views.input_size = {v.input_size} px is too small for encoder {m.encoder}: "
                        f"expected at least {least} px")
    if len(v.scale) != 2 or not 0 < v.scale[0] <= v.scale[1] <= 1:
        raise ConfigError(f"views.scale = {v.scale}: expected [low, high] with 0 < low ≤ high ≤ 1")
    if len(v.ratio) != 2 or not 0 < v.ratio[0] <= v.ratio[1]:
        raise ConfigError(f"views.ratio = {v.ratio}: expected [low, high] with 0 < low ≤ high")
    if len(v.jitter) != 4 or any(j < 0 for j in v.jitter):
        raise ConfigError(f"views.jitter = {v.jitter}: expected [brightness, contrast, saturation, hue] ≥ 0")
    for key, value in (("beta_adv", o.beta_adv), ("beta_mi", o.beta_mi), ("beta_aug", o.beta_aug),
                       ("lambda_gp", o.lambda_gp), ("beta_rec", o.beta_rec)):
        if value < 0:
            raise ConfigError(f"objective.{key} = {value}: expected ≥ 0")
    if o.information not in INFORMATION:
        raise ConfigError(f"objective.information = '{o.information}': expected one of {', '.join(INFORMATION)}")
    if o.critic_steps < 0:
        raise ConfigError(f"objective.critic_steps = {o.critic_steps}: expected 0 or more critic steps per encoder step")
    if len(t.betas) != 2 or not all(0 <= b < 1 for b in t.betas):
        raise ConfigError(f"train.betas = {t.betas}: expected [β1, β2] in [0, 1)")


def build_views(cfg: DCCSRunConfig, channels: int) -> AugmentViews:
    v = cfg.views
    return AugmentViews(size=v.input_size, scale=tuple(v.scale), ratio=tuple(v.ratio), flip_p=v.flip_p,
                        channel_shuffle=v.channel_shuffle and channels == 3, grey=v.grey, jitter=Jitter(*v.jitter),
                        sobel=v.sobel)
