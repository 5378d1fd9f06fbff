"""The method contract: what the engine may ask of a clustering method, and how a method registers.

The engine, API, CLI, grid and report talk to a method only through ``Method`` and ``MethodSpec``;
they know no method's math, heads or presets. Adding a method = one module under ``methods/`` that
calls ``register`` + one import line in ``methods/__init__.py``. ``tests/methods/test_contract.py``
checks every registered method against this contract.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch
from torch import nn

from ..config import RunConfig
from ..distributed import DistContext
from ..errors import ConfigError
from ..graphs import Step, StepGraphs, use_cuda_graphs
from ..rng import Rng


@dataclass
class StepContext:
    """What a training step (or a selection score) may know besides its samples.

    ``epoch``: the pass index (0-based); ``step``: global steps done before this one; ``rng``: the
    seeded, shard-aware random source (its state is checkpointed); ``indices``: (b,) dataset indices
    of this process's samples; ``dist``: the distributed context (its ``reduce`` for whole-batch
    statistics); ``labelled``: (b,) True for samples of a labelled part of the data (STL-10's train
    images among its unlabelled ones, which IMC-SwAV's classifier alone trains on), None when every
    sample is: the parts of the source, never the labels.
    """

    epoch: int
    step: int
    rng: Rng
    indices: torch.Tensor
    dist: DistContext = field(default_factory=DistContext)
    labelled: torch.Tensor | None = None


@dataclass(frozen=True)
class DataFacts:
    """What a method may know of its data before the first step (``resolve`` and ``validate`` take
    it): ``shape`` of one sample, (C, H, W) images or (D,) vectors; ``n_classes`` when the data name
    them (a default for ``model.n_clusters``, never a training signal); ``n_samples``: the training
    samples, None when the data are only predicted; ``labelled_parts``: whether some samples come
    from a labelled part of the source (``StepContext.labelled``); ``processes``: how many processes
    share each global batch; ``channel_stats``: per-channel (mean, std) of the pixels in [0, 1]
    where the dataset is known to have them (the papers' normalisation), else None."""

    shape: tuple[int, ...]
    n_classes: int | None = None
    n_samples: int | None = None
    labelled_parts: bool = False
    processes: int = 1
    channel_stats: tuple[tuple[float, ...], tuple[float, ...]] | None = None


class PrepareCache(Protocol):
    """Where ``Method.prepare`` keeps what it computed from the data across resumes (the run
    folder's ``cache/``): tensors under a name that carries their inputs' fingerprint."""

    def load(self, name: str) -> dict[str, torch.Tensor] | None:
        """The tensors saved under ``name``, or None when there are none (or they cannot be read)."""

    def save(self, name: str, tensors: dict[str, torch.Tensor]) -> None:
        """Keep ``tensors`` under ``name`` (atomically; nothing half-written)."""


class Method(ABC):
    """A clustering method: owns its views, modules, optimisers and schedules.

    Built as ``spec.build(cfg, sample_shape, device, dist)`` with ``sample_shape`` (C, H, W) for
    images or (D,) for vectors; samples arrive as uint8 B×C×H×W images or float32 B×D vectors on
    ``device``. This class carries the contract's defaults: a method overrides what it uses and
    must write ``train_step``, ``predict``, ``features``, ``feature_network`` and the state pair.
    """

    report_head: str  # the head whose posteriors are the reported clustering
    watched_loss: str = "loss"  # the loss part that stops moving when the clustering collapses (collapse.py)
    dense: bool = False  # posteriors per pixel (segmentation: ``predict`` gives h×(B·H·W)×K), else per sample
    neighbours: torch.Tensor | None = None  # N×k neighbours of the training samples (``pairs_neighbours``)
    # h×S: per sub-head, the group in [0, K) of each of the report head's S clusters once K is chosen
    # after training (``cluster_count``): the reported posteriors are each group's summed; None = the S clusters
    cluster_groups: torch.Tensor | None = None
    grouped_head: str | None = None  # the head whose S clusters ``cluster_groups`` groups (None: the report head)
    graphs: StepGraphs | None = None  # the steps replayed as CUDA graphs (``train.cuda_graphs``), None: eager

    def __init__(self, cfg: RunConfig, device: torch.device, dist: DistContext = DistContext()):
        """Sets ``graphs`` as ``train.cuda_graphs`` asks where the method's step can be recorded (its
        spec's ``graph_obstacle``); ``True`` where it cannot is one ConfigError naming why. Build the
        optimisers after it, with ``optimiser``."""
        self.cfg, self.device, self.dist = cfg, device, dist
        obstacle = method_spec(cfg.method).graph_obstacle(cfg)
        recorded = use_cuda_graphs(cfg.train.cuda_graphs, device, dist, obstacle and f"{cfg.method}: {obstacle}")
        self.graphs = StepGraphs() if recorded else None

    def optimiser(self, kind: type[torch.optim.Optimizer], params, **settings) -> torch.optim.Optimizer:
        """``kind(params, **settings)``, capturable where this run records its steps (its step counts
        then live on the device, where a replayed step reads them)."""
        return kind(params, capturable=self.graphs is not None, **settings)

    def run_step(self, kind: object, step: Step, samples: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """``step(samples, indices)`` eagerly, or as the CUDA graph of its ``kind`` of step (a head, a
        critic or an encoder step: whatever changes the step's work) when ``graphs`` is set. ``step``
        reads the indices it is given, never ``ctx.indices`` (a graph reads its own copy), and draws
        its random numbers from ``ctx.rng``."""
        if self.graphs is None:
            return step(samples, ctx.indices)
        on_device = samples.to(self.device), ctx.indices.to(self.device)  # a graph copies nothing from the host
        return self.graphs.run(kind, step, ctx.rng.generator, *on_device)

    def set_learning_rate(self, optimizer: torch.optim.Optimizer, lr: float) -> None:
        """Every group of ``optimizer`` at ``lr`` for the next step. With recorded steps the rate is a
        device tensor filled in place (a recorded optimiser reads it at each replay; a Python number
        would stay the recording's)."""
        for group in optimizer.param_groups:
            if self.graphs is None:
                group["lr"] = lr
            elif isinstance(group["lr"], torch.Tensor) and group["lr"].device.type == self.device.type:
                group["lr"].fill_(lr)  # the same tensor: a new one would leave the graphs reading freed memory
            else:  # the first step, or a loaded state (the graphs were dropped with it)
                group["lr"] = torch.tensor(float(lr), device=self.device)

    def optimisers_loaded(self, *optimizers: torch.optim.Optimizer) -> None:
        """After ``load_state_dict`` of ``optimizers``: capturable as this run records steps, whatever
        the saved run did, and any recorded graph dropped (the loaded state is new tensors)."""
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["capturable"] = self.graphs is not None
                if self.graphs is None and isinstance(group["lr"], torch.Tensor):
                    group["lr"] = group["lr"].item()  # a recorded run's rate, for an eager optimiser
            if self.graphs is not None:  # an eager run's step counts stay on the host: a recorded step reads them on the device
                for state in optimizer.state.values():
                    if "step" in state:
                        state["step"] = state["step"].to(self.device)
        if self.graphs is not None:
            self.graphs.reset()

    def prepare(self, samples: torch.Tensor, cache: PrepareCache | None = None) -> None:
        """Once per run, before training, with every training sample (e.g. IMSAT's VAT radii,
        TEMI's neighbours); ``cache`` keeps costly results for a resume (None: no run folder).
        Nothing by default."""

    def pairs_neighbours(self) -> bool:
        """Whether this method pairs each training sample with its nearest neighbours; if so,
        ``prepare`` sets ``neighbours`` (N×k indices into the training samples). No, by default."""
        return False

    def pass_name(self, epoch: int) -> str:
        """A short label of what pass ``epoch`` trains (logged and shown in the progress bar); by
        default the method's registered name."""
        return self.cfg.method

    def may_report(self, epoch: int) -> bool:
        """Whether a model stopped inside pass ``epoch`` may be reported as it is; when not, the
        engine reports the model as the last pass for which this is true left it. Always, by default."""
        return True

    @abstractmethod
    def train_step(self, samples: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """One optimisation step on this process's b samples; returns named 0-d loss parts
        (detached tensors): the engine logs each key's mean over the steps that returned it, without
        a host sync per step. Steps may return different parts (DCCS: critic or encoder parts), but
        "loss" and ``watched_loss`` come at least once every 10 steps."""

    def diagnose(self, parts: dict[str, float]) -> str | None:
        """A method-specific failure seen in the loss parts' means of a log window (e.g. a
        diverging critic), in words, or None (the default: the engine's finite-loss check only)."""
        return None

    @abstractmethod
    def predict(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """B samples → {head: h×B×K posteriors} on the evaluation view (h sub-heads, h ≥ 1)."""

    def selection_scores(self, samples: torch.Tensor, ctx: StepContext) -> torch.Tensor | None:
        """Label-free score per sub-head of ``report_head`` (h,), lower is better; None (the
        default) when the method has no choice to make."""
        return None

    @abstractmethod
    def features(self, samples: torch.Tensor) -> torch.Tensor:
        """B samples → B×D embedding on the evaluation view (``feature_network`` in eval mode)."""

    @abstractmethod
    def feature_network(self) -> "FeatureNetwork":
        """The network behind ``features`` with gradients, sharing this method's modules (the
        probes copy it before training it)."""

    @abstractmethod
    def state_dict(self) -> dict:
        """Every module, optimiser and schedule: ``load_state_dict`` of it continues exactly."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state_dict()``'s output exactly."""


class FeatureNetwork(nn.Module):
    """Samples as a method receives them (uint8 B×C×H×W images or float32 B×D vectors) → B×D
    features: the parameter-free evaluation ``view`` (a function), then the ``trunk`` module."""

    def __init__(self, view: Callable[[torch.Tensor], torch.Tensor], trunk: nn.Module):
        super().__init__()
        self.view, self.trunk = view, trunk

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.view(samples))


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its config class (a ``RunConfig`` subclass with its own sections),
    preset (config values under the user's), the steps that fill automatic values from the data
    and check them, the builder, one line for ``infoclust list``, and settings small enough for
    the contract test."""

    name: str
    config: type[RunConfig]
    preset: dict
    resolve: Callable[[RunConfig, DataFacts], RunConfig]  # fills the automatic values from the data
    validate: Callable[[RunConfig, DataFacts], None]  # one ConfigError / DataError line for an impossible setting
    build: Callable[[RunConfig, tuple[int, ...], torch.device, DistContext], Method]
    summary: str = ""
    quick: dict = field(default_factory=dict)  # dotted-key values that train digits in seconds (contract test)
    graph_obstacle: Callable[[RunConfig], str | None] = lambda cfg: None
    # why a config's training step cannot be replayed as a CUDA graph (graphs.py), None when it can
    default: bool = False  # the method that runs when none is named (exactly one registered method)
    estimator: str = ""  # the class name of its scikit-learn estimator (``infoclust.<estimator>``), "" for none
    estimator_doc: str = ""  # that class's docstring
    vectors: bool = False  # whether it clusters N×D feature vectors besides images


REGISTRY: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    if spec.name in REGISTRY:
        raise ValueError(f"method '{spec.name}' is registered twice")
    if spec.default and any(other.default for other in REGISTRY.values()):
        raise ValueError(f"method '{spec.name}' is registered as the default, but one already is")
    REGISTRY[spec.name] = spec
    return spec


def default_method() -> str:
    """The name of the method that runs when none is named (the one registered as the default)."""
    return next(spec.name for spec in REGISTRY.values() if spec.default)


def method_spec(name: str) -> MethodSpec:
    """The registered method ``name``; an unknown name is a ConfigError listing the known ones."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown method '{name}': expected one of {', '.join(REGISTRY)}")
    return REGISTRY[name]
