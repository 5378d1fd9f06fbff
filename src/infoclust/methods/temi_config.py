"""TEMI's config sections, the resolution of its automatic values from the data, and validation.

Defaults are reference-notes 6b (the TEMI code's README command): k = 50 neighbours by cosine
similarity of the embedding (fewer on small data, ``NeighbourConfig``), 16 heads (MLP D → 512 → GELU → 256 → L2 → weight-normed
256 → K), student and teacher temperature 0.1, β = 0.6, the teacher–teacher agreement as each
pair's weight, the teacher's marginal an EMA of momentum 0.9, teacher momentum 0.996, the last
layer frozen for the first pass, AdamW with weight decay 1e-4, lr 1e-4 after a 20-pass linear
warm-up, batch 1024, 100 passes.

That schedule is for 50k–1.2M samples (about 5,000 steps and more). Below ``SMALL_DATA`` samples
the defaults are ``SMALL_RECIPE``, chosen on the 1,797 digits (seeds 10–12, docs/results/temi.md).
Otherwise, with fewer steps than the reference, the values that set how far training gets are
scaled by ``step_scale`` = max(1, REFERENCE_STEPS / steps): lr × scale and the teacher's step
1 − momentum × scale, so the run covers the same ground in fewer steps (docs/methods.md).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..config import RunConfig, TrainConfig
from ..errors import ConfigError
from ..neighbours import default_k
from .base import DataFacts
from .common import fill_defaults

WEIGHTS = ("teacher", "none")  # a pair's weight: TEMI's teacher–teacher agreement, or 1 (plain β-PMI)
REFERENCE_STEPS = 5000  # about the TEMI recipe's steps on CIFAR-10: 50,000 / 1024 × 100 passes
PAPER = {"lr": 1e-4, "momentum": 0.996, "batch": 1024, "epochs": 100, "warmup_share": 0.2, "heads": 16, "k": 50,
         "prior_power": 1.0}
SMALL_DATA = 20_000  # fewer samples than this: SMALL_RECIPE's defaults
# batches of 256 (the TEMI code's per-256 default), 200 passes, 8 heads, lr 2e-3 falling by a cosine
# to 2e-4, a faster teacher (0.95) and at most 10 neighbours: on the digits (seeds 10–12) 0.928
# mean ACC against 0.858 for the paper's values scaled to the steps; the marginal's power 0.5: on
# digits at 1:1 and 10:1 between classes (seeds 10–12) mean ACC 0.718 against 0.694 for TEMI's 1
# (docs/results/temi.md)
SMALL_RECIPE = {"batch": 256, "epochs": 200, "heads": 8, "lr": 2e-3, "min_lr": 2e-4, "momentum": 0.95, "k": 10,
                "prior_power": 0.5}
LEAST_MOMENTUM = 0.9  # the scaled teacher momentum never drops below this


@dataclass
class TEMIModelConfig:
    """The heads: ``heads`` independent MLPs D → ``hidden`` → GELU → ``bottleneck`` → L2 → K (None:
    16, TEMI's; 8 on small data). ``n_clusters`` "auto" / ``max_clusters``: K chosen after training
    (``infoclust.cluster_count``)."""

    n_clusters: int | str | None = None
    max_clusters: int | None = None
    heads: int | None = None
    hidden: int = 512
    bottleneck: int = 256


@dataclass
class NeighbourConfig:
    """Each sample's ``k`` nearest neighbours (cosine) in the embedding, mined once per run. None:
    ``neighbours.default_k`` (TEMI's 50, fewer on small data)."""

    k: int | None = None


@dataclass
class TEMIObjectiveConfig:
    """β-PMI between a sample and a neighbour (``losses.temi_loss``). ``teacher_momentum``: the EMA
    teacher's momentum per step (None = 0.996 scaled to the run's steps); ``marginal_momentum``: of
    the teacher's cluster marginal; ``freeze_last_layer``: passes during which the heads' last layer
    does not move (DINO's); ``prior_power`` γ: the PMI divides by the marginal to the power γ (1 =
    TEMI's; below 1 pulls clusters less toward equal sizes, for imbalanced data; None = 1, or 0.5
    on small data)."""

    beta: float = 0.6
    prior_power: float | None = None
    weight: str = "teacher"
    student_temp: float = 0.1
    teacher_temp: float = 0.1
    teacher_momentum: float | None = None
    marginal_momentum: float = 0.9
    freeze_last_layer: int = 1


@dataclass
class SelfLabelConfig:
    """SCAN's self-labelling as TEMI's last ``epochs`` passes (0 = none): each head's confident
    samples (the teacher's max posterior above ``threshold``) become targets of a class-balanced
    cross-entropy of the student on one of the sample's neighbours (the embedding's augmentation)."""

    epochs: int = 0
    threshold: float = 0.99


@dataclass
class TEMITrainConfig(TrainConfig):
    """AdamW's ``weight_decay``; lr rises linearly over ``warmup_epochs`` passes, then follows a
    cosine from ``lr`` to ``min_lr`` (None = lr: constant, as the TEMI README command)."""

    weight_decay: float = 1e-4
    warmup_epochs: int | None = None
    min_lr: float | None = None


@dataclass
class TEMIRunConfig(RunConfig):
    model: TEMIModelConfig = field(default_factory=TEMIModelConfig)
    neighbours: NeighbourConfig = field(default_factory=NeighbourConfig)
    objective: TEMIObjectiveConfig = field(default_factory=TEMIObjectiveConfig)
    selflabel: SelfLabelConfig = field(default_factory=SelfLabelConfig)
    train: TEMITrainConfig = field(default_factory=TEMITrainConfig)


def step_scale(n_samples: int, batch_size: int, epochs: int) -> float:
    """How many times fewer steps than the reference recipe's this run makes (1 at or above it)."""
    steps = epochs * max(1, n_samples // batch_size)
    return max(1.0, REFERENCE_STEPS / steps)


def resolve(cfg: TEMIRunConfig, facts: DataFacts) -> TEMIRunConfig:
    """Fill every None from the data: K from the classes the data name (else 10); below
    ``SMALL_DATA`` training samples ``SMALL_RECIPE``, otherwise the paper's values with lr and
    teacher momentum scaled to the run's steps (when the training size is known)."""
    n = facts.n_samples
    small = n is not None and n < SMALL_DATA
    recipe = SMALL_RECIPE if small else PAPER
    cfg = fill_defaults(cfg, {"model.heads": recipe["heads"], "train.epochs": recipe["epochs"]})
    model, objective, train = (dataclasses.replace(s) for s in (cfg.model, cfg.objective, cfg.train))
    neighbours = dataclasses.replace(cfg.neighbours)
    if model.n_clusters is None:
        model.n_clusters = facts.n_classes or 10
    if neighbours.k is None:
        neighbours.k = min(recipe["k"], default_k(n, model.n_clusters))
    if train.batch_size is None:
        train.batch_size = recipe["batch"]
        if n is not None:
            train.batch_size = min(train.batch_size, max(facts.processes, n // facts.processes * facts.processes))
    if train.eval_every is None:
        train.eval_every = max(1, train.epochs // 10)
    if train.warmup_epochs is None:
        train.warmup_epochs = math.floor(PAPER["warmup_share"] * train.epochs)
    scale = step_scale(n, train.batch_size, train.epochs) if n is not None and not small else 1.0
    if train.lr is None:
        train.lr = recipe["lr"] * scale
    if train.min_lr is None:
        train.min_lr = recipe.get("min_lr", train.lr)
    if objective.teacher_momentum is None:
        objective.teacher_momentum = max(LEAST_MOMENTUM, 1 - (1 - recipe["momentum"]) * scale)
    if objective.prior_power is None:
        objective.prior_power = recipe["prior_power"]
    return dataclasses.replace(cfg, model=model, neighbours=neighbours, objective=objective, train=train)


def validate(cfg: TEMIRunConfig, facts: DataFacts) -> None:
    """Reject impossible settings with one clear line each (after ``resolve``)."""
    m, o, t, k = cfg.model, cfg.objective, cfg.train, cfg.neighbours.k
    if m.n_clusters < 2:
        raise ConfigError(f"model.n_clusters = {m.n_clusters}: expected at least 2 clusters")
    for key, value in (("heads", m.heads), ("hidden", m.hidden), ("bottleneck", m.bottleneck)):
        if value < 1:
            raise ConfigError(f"model.{key} = {value}: expected a positive integer")
    if k < 1:
        raise ConfigError(f"neighbours.k = {k}: expected at least 1 neighbour")
    if facts.n_samples is not None and k >= facts.n_samples:
        raise ConfigError(f"neighbours.k = {k} but the data hold {facts.n_samples} samples: expected k < {facts.n_samples}")
    if o.weight not in WEIGHTS:
        raise ConfigError(f"objective.weight = '{o.weight}': expected one of {', '.join(WEIGHTS)}")
    if not 0 <= o.prior_power <= 1:
        raise ConfigError(f"objective.prior_power = {o.prior_power}: expected a power in [0, 1] (1 = TEMI's marginal, "
                          "0 = none)")
    for key, value in (("beta", o.beta), ("student_temp", o.student_temp), ("teacher_temp", o.teacher_temp)):
        if not value > 0:
            raise ConfigError(f"objective.{key} = {value}: expected a positive number")
    for key, value in (("teacher_momentum", o.teacher_momentum), ("marginal_momentum", o.marginal_momentum)):
        if not 0 <= value < 1:
            raise ConfigError(f"objective.{key} = {value}: expected a momentum in [0, 1)")
    if o.freeze_last_layer < 0 or t.warmup_epochs < 0:
        raise ConfigError(f"objective.freeze_last_layer = {o.freeze_last_layer}, train.warmup_epochs = {t.warmup_epochs}: "
                          "expected passes ≥ 0")
    sl = cfg.selflabel
    if not 0 <= sl.epochs < t.epochs:
        raise ConfigError(f"selflabel.epochs = {sl.epochs} of train.epochs = {t.epochs}: expected 0 (none) or fewer "
                          "passes than the whole run, so TEMI trains first")
    if not 0 < sl.threshold < 1:
        raise ConfigError(f"selflabel.threshold = {sl.threshold}: expected a posterior in (0, 1), e.g. SCAN's 0.99")
    if t.weight_decay < 0 or not t.min_lr >= 0:
        raise ConfigError(f"train.weight_decay = {t.weight_decay}, train.min_lr = {t.min_lr}: expected values ≥ 0")
