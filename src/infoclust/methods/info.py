"""Information-based clustering: one MI term × transformations × KL regularisers (Peng et al.).

IIC (paired MI with geometric views), IMSAT (marginal MI + VAT regulariser) and IIC+VAT are
presets of this one method (``config.PRESETS``). The method owns its views, model and optimiser;
the engine only calls ``prepare``, ``phase``, ``train_step``, ``predict``, ``selection_loss``,
``features`` and the state methods.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from ..adversarial import frozen_batchnorm_stats, perturb
from ..config import TRANSFORMS, RunConfig
from ..errors import ConfigError
from ..losses import iic_loss, imsat_loss, kl_divergence
from ..models import BACKBONES, IMAGE_BACKBONES, ClusterNet
from ..views import (INPUT_MODES, Geometry, Jitter, PairViews, VectorViews, cutout, gaussian_noise, input_channels,
                     mix_like, mixup)

MAIN, OVER = "B", "A"  # head names as in the IIC code: B = main (k clusters), A = over-clustering
MI_KINDS = ("paired", "marginal")
IMAGE_ONLY = ("geometric", "cutout")  # transformations that need images, not vectors
NEIGHBOUR = 10  # IMSAT's adaptive VAT radius: distance to the 10th nearest neighbour


def parse_schedule(text: str, heads: list[str]) -> list[str]:
    """``"A:1,B:2"`` → ``["A", "B", "B"]``: the head trained in each pass of one cycle.

    Heads not present in the model (A when over-clustering is off) are dropped.
    """
    cycle: list[str] = []
    for item in text.replace(" ", ",").split(","):
        if not item:
            continue
        head, _, passes = item.partition(":")
        if head not in (MAIN, OVER) or not passes.isdigit():
            raise ConfigError(
                f"bad train.head_schedule item '{item}': expected HEAD:PASSES with HEAD A or B, e.g. 'B:1,A:1'"
            )
        if head in heads:
            cycle += [head] * int(passes)
    if MAIN not in cycle:
        raise ConfigError(f"train.head_schedule '{text}' never trains the main head B")
    return cycle


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


def resolve(cfg: RunConfig, sample_shape: tuple[int, ...], n_classes: int | None) -> RunConfig:
    """Fill every ``None``/``"auto"`` from the sample shape ((C, H, W) images or (D,) vectors)."""
    model, views = dataclasses.replace(cfg.model), dataclasses.replace(cfg.views)
    if model.n_clusters is None:
        model.n_clusters = n_classes or 10
    if model.overcluster is None:
        model.overcluster = 5 * model.n_clusters
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


def _validate_objective(cfg: RunConfig, vectors: bool) -> None:
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
    if not 1 <= t.cutout_min <= t.cutout_max:
        raise ConfigError(f"objective.transforms.cutout_min/max = {t.cutout_min}/{t.cutout_max}: expected 1 ≤ min ≤ max pixels")
    for key, value in (("gaussian_std", t.gaussian_std), ("vat_eps", t.vat_eps), ("vat_prop_eps", t.vat_prop_eps),
                       ("vat_xi", t.vat_xi), ("mixup_alpha", t.mixup_alpha)):
        if not value > 0:
            raise ConfigError(f"objective.transforms.{key} = {value}: expected a positive number")


def validate(cfg: RunConfig, sample_shape: tuple[int, ...]) -> None:
    """Reject impossible settings with one clear line each (run after ``resolve``)."""
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
    for key, value in (("train.repeats", t.repeats), ("train.epochs", t.epochs), ("train.eval_every", t.eval_every),
                       ("train.checkpoint_every", t.checkpoint_every)):
        if value < 1:
            raise ConfigError(f"{key} = {value}: expected a positive integer")
    if not t.lr > 0:
        raise ConfigError(f"train.lr = {t.lr}: expected a positive learning rate")
    if vectors and m.backbone in IMAGE_BACKBONES:
        raise ConfigError(f"model.backbone = '{m.backbone}' needs images, but the data are N×D feature vectors: use mlp")
    if not vectors:
        _validate_views(cfg, min(sample_shape[1:]))
    _validate_objective(cfg, vectors)


def build_views(cfg: RunConfig) -> PairViews:
    v = cfg.views
    return PairViews(
        tf1=Geometry(v.input_size, tuple(v.tf1_crops), center_p=v.tf1_center_p),
        tf2=Geometry(v.input_size, tuple(v.tf2_crops), rotation=v.rotation, rotation_p=v.rotation_p, flip_p=v.flip_p),
        eval=Geometry(v.input_size, (v.eval_crop,)),
        jitter=Jitter(*v.jitter),
        input_mode=v.input_mode,
    )


def neighbour_distances(x: torch.Tensor, k: int = NEIGHBOUR, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distance from each row of x (N×D) to its k-th nearest other row, (N,).

    With N ≤ k samples the farthest other row is used. IMSAT's code takes index [10] of the sorted
    distances with the self-distance overwritten by 1000, i.e. the 11th nearest other sample; we
    use the 10th, as its paper says.
    """
    k = min(k, len(x) - 1)
    dist = []
    sq = (x * x).sum(1)
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk]
        d2 = (sq[start:start + chunk, None] + sq[None, :] - 2 * block @ x.t()).clamp_min(0)
        d2[torch.arange(len(block)), torch.arange(start, start + len(block))] = float("inf")  # not itself
        dist.append(d2.topk(k, dim=1, largest=False).values[:, -1].sqrt())
    return torch.cat(dist)


class InfoClustering:
    """Cluster heads trained by an MI term, optionally with T inside it, plus KL regularisers.

    A main head B (k clusters) and an optional over-clustering head A, each with ``sub_heads``
    sub-heads, trained in alternating passes (``train.head_schedule``); losses are averaged over
    the trained head's sub-heads.
    """

    def __init__(self, cfg: RunConfig, sample_shape: tuple[int, ...], device: torch.device):
        self.cfg, self.device = cfg, device
        heads = {MAIN: cfg.model.n_clusters}
        if cfg.model.overcluster:
            heads[OVER] = cfg.model.overcluster
        self.vectors = len(sample_shape) == 1
        if self.vectors:
            self.views, net_shape = VectorViews(), tuple(sample_shape)
            self.memory_format = torch.contiguous_format
        else:
            self.views = build_views(cfg)
            s = cfg.views.input_size
            net_shape = (input_channels(cfg.views.input_mode, sample_shape[0]), s, s)
            self.memory_format = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        self.model = ClusterNet(cfg.model.backbone, net_shape, heads, cfg.model.sub_heads, cfg.model.width).to(device)
        self.model.to(memory_format=self.memory_format)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.train.lr)
        self.cycle = parse_schedule(cfg.train.head_schedule, list(heads))
        self.heads = list(heads)
        self.radius: torch.Tensor | None = None  # per-sample VAT radius (adaptive ε), set by prepare

    # ------------------------------------------------------------------ set-up
    def prepare(self, samples: torch.Tensor) -> None:
        """Per-dataset precomputation: IMSAT's adaptive VAT radius when it is switched on."""
        t = self.cfg.objective.transforms
        if t.vat_adaptive_eps:
            flat = torch.cat([self.views.evaluation(samples[i:i + 4096]).flatten(1) for i in range(0, len(samples), 4096)])
            self.radius = t.vat_prop_eps * neighbour_distances(flat)

    def phase(self, pass_index: int) -> str:
        """The head trained during pass (epoch) ``pass_index``."""
        return self.cycle[pass_index % len(self.cycle)]

    def _net_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.vectors else x.contiguous(memory_format=self.memory_format)

    def _predictor(self, head: str) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: self.model(self._net_input(x), head)

    # ------------------------------------------------------------------ objective
    def _transformed(self, name: str, x: torch.Tensor, clean: torch.Tensor, predict, indices: torch.Tensor | None,
                     gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(reference posteriors, posteriors of T(x)) for a non-geometric T; h×B×K each.

        The reference is ``clean`` except for Mixup, whose reference is the same mixture of the
        clean posteriors as the mixture of the inputs.
        """
        t = self.cfg.objective.transforms
        if name == "gaussian":
            return clean, predict(gaussian_noise(x, t.gaussian_std, gen))
        if name == "cutout":
            return clean, predict(cutout(x, t.cutout_min, t.cutout_max, gen))
        if name == "mixup":
            mixed, lam = mixup(x, t.mixup_alpha, gen)
            return mix_like(clean, lam, dim=1), predict(mixed)
        eps = self.radius[indices.to(self.radius.device)] if self.radius is not None and indices is not None \
            else t.vat_eps * t.vat_prop_eps
        with frozen_batchnorm_stats(self.model), torch.enable_grad():
            moved = perturb(predict, x, clean, eps, t.vat_xi, t.vat_power_iters, "kl" if name == "vat" else "mi", gen)
            return clean, predict(moved)

    def _losses(self, samples: torch.Tensor, head: str, gen: torch.Generator, indices: torch.Tensor | None,
                regularize: bool = True) -> torch.Tensor:
        """The objective of each sub-head (h,) for one batch."""
        o, r = self.cfg.objective, self.cfg.train.repeats
        predict = self._predictor(head)
        regularize = regularize and head == MAIN  # as Peng et al.'s code: regularisers on the main head only
        geometric = (o.mi == "paired" and o.transform == "geometric") or \
            (regularize and any(reg.transform == "geometric" for reg in o.regularizers))
        if geometric:
            x, gx = self.views.pair(samples, r, gen)
        else:
            x = self.views.base(samples, gen)
        p = predict(x)  # h×B×K
        q_geo = predict(gx) if geometric else None  # h×rB×K
        if o.mi == "marginal":
            losses = torch.stack([imsat_loss(ph, o.imsat_lambda, o.imsat_mu) for ph in p])
        else:
            a, b = (p.repeat(1, r, 1), q_geo) if o.transform == "geometric" else \
                self._transformed(o.transform, x, p, predict, indices, gen)
            losses = torch.stack([iic_loss(ah, bh, o.lamb) for ah, bh in zip(a, b)])
        if regularize:
            for reg in o.regularizers:
                target, q = (p.detach().repeat(1, r, 1), q_geo) if reg.transform == "geometric" else \
                    self._transformed(reg.transform, x, p.detach(), predict, indices, gen)
                losses = losses + reg.weight * torch.stack([kl_divergence(th, qh) for th, qh in zip(target, q)])
        return losses

    def train_step(self, samples: torch.Tensor, phase: str, gen: torch.Generator,
                   indices: torch.Tensor | None = None) -> dict[str, float]:
        """One Adam step on ``phase``'s head, loss averaged over its sub-heads."""
        self.model.train()
        loss = self._losses(samples, phase, gen, indices).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def selection_loss(self, samples: torch.Tensor, gen: torch.Generator, indices: torch.Tensor | None = None,
                       head: str = MAIN) -> torch.Tensor:
        """Label-free score per sub-head (h,): the MI term (no regularisers), eval-mode network."""
        self.model.eval()
        return self._losses(samples, head, gen, indices, regularize=False)

    @torch.no_grad()
    def predict(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """B samples → {head: h×B×K posteriors} on the evaluation view, eval-mode network."""
        feats = self.features(samples)
        return {name: self.model.heads[name](feats) for name in self.heads}

    @torch.no_grad()
    def features(self, samples: torch.Tensor) -> torch.Tensor:
        """B samples → B×D trunk features on the evaluation view."""
        self.model.eval()
        return self.model.features(self._net_input(self.views.evaluation(samples)))

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
