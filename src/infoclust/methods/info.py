"""IIC: maximise I(z, z') between the cluster posteriors of an image and of its random transform.

The method owns its views, model and optimiser; the engine only calls ``phase``, ``train_step``,
``predict``, ``selection_loss``, ``features`` and the state methods.
"""
from __future__ import annotations

import dataclasses

import torch

from ..config import RunConfig
from ..errors import ConfigError
from ..losses import iic_loss
from ..models import ClusterNet
from ..views import INPUT_MODES, Geometry, Jitter, PairViews, input_channels

MAIN, OVER = "B", "A"  # head names as in the IIC code: B = main (k clusters), A = over-clustering


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


def resolve(cfg: RunConfig, image_shape: tuple[int, int, int], n_classes: int | None) -> RunConfig:
    """Fill every ``None``/``"auto"`` from the image shape (C, H, W) and the label count.

    Greyscale images get the MNIST recipe of the IIC code (tf1 crop 5/7 of the side, random or
    centred; tf2 crops 4/7, 5/7, 6/7 with ±25° rotation; input 6/7 of the side), colour images the
    CIFAR recipe (crops 5/8 of the side, resized to the full side, flips, Sobel input). Tiny images
    (side ≤ 16 px, e.g. 8×8 digits) lose too much to such crops: they are upsampled to twice their
    side, tf1 is the whole image and tf2 crops 3/4, 7/8 or all of it (measured in docs/RESULTS.md).
    """
    c, h, w = image_shape
    side = min(h, w)
    model, views = dataclasses.replace(cfg.model), dataclasses.replace(cfg.views)
    if model.n_clusters is None:
        model.n_clusters = n_classes or 10
    if model.overcluster is None:
        model.overcluster = 5 * model.n_clusters
    if views.input_mode == "auto":
        views.input_mode = "raw" if c == 1 else "sobel"
    grey, tiny = c == 1, side <= 16
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
    if model.backbone == "auto":
        model.backbone = "cnn-small" if views.input_size <= 16 else "vgg6c" if views.input_size < 32 else "resnet34"
    return dataclasses.replace(cfg, model=model, views=views)


def validate(cfg: RunConfig, image_shape: tuple[int, int, int]) -> None:
    """Reject impossible settings with one clear line each (run after ``resolve``)."""
    m, v, t = cfg.model, cfg.views, cfg.train
    side = min(image_shape[1:])
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
    if v.input_mode not in INPUT_MODES:
        raise ConfigError(f"views.input_mode = '{v.input_mode}': expected one of auto, {', '.join(INPUT_MODES)}")
    for key, crops in (("views.tf1_crops", v.tf1_crops), ("views.tf2_crops", v.tf2_crops), ("views.eval_crop", [v.eval_crop])):
        if not crops or any(not 0 < s <= side for s in crops):
            raise ConfigError(f"{key} = {crops}: expected crop sizes in (0, {side}] pixels (the image side)")
    if len(v.jitter) != 4 or any(j < 0 for j in v.jitter):
        raise ConfigError(f"views.jitter = {v.jitter}: expected [brightness, contrast, saturation, hue] ≥ 0")


def build_views(cfg: RunConfig) -> PairViews:
    v = cfg.views
    return PairViews(
        tf1=Geometry(v.input_size, tuple(v.tf1_crops), center_p=v.tf1_center_p),
        tf2=Geometry(v.input_size, tuple(v.tf2_crops), rotation=v.rotation, rotation_p=v.rotation_p, flip_p=v.flip_p),
        eval=Geometry(v.input_size, (v.eval_crop,)),
        jitter=Jitter(*v.jitter),
        input_mode=v.input_mode,
    )


class IIC:
    """Invariant Information Clustering with a main head B, an optional over-clustering head A and
    ``sub_heads`` sub-heads each; heads are trained in alternating passes (``train.head_schedule``)."""

    def __init__(self, cfg: RunConfig, image_channels: int, device: torch.device):
        self.cfg, self.device = cfg, device
        heads = {MAIN: cfg.model.n_clusters}
        if cfg.model.overcluster:
            heads[OVER] = cfg.model.overcluster
        self.views = build_views(cfg)
        self.model = ClusterNet(
            cfg.model.backbone, input_channels(cfg.views.input_mode, image_channels), cfg.views.input_size,
            heads, cfg.model.sub_heads, cfg.model.width,
        ).to(device)
        self.memory_format = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.train.lr)
        self.cycle = parse_schedule(cfg.train.head_schedule, list(heads))
        self.heads = list(heads)

    def phase(self, pass_index: int) -> str:
        """The head trained during pass (epoch) ``pass_index``."""
        return self.cycle[pass_index % len(self.cycle)]

    def _net_input(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=self.memory_format)

    def _pair_losses(self, images: torch.Tensor, head: str, gen: torch.Generator) -> torch.Tensor:
        """IIC loss of each sub-head (h,) for one batch of uint8 images."""
        r = self.cfg.train.repeats
        x, gx = self.views.pair(images, r, gen)
        p = self.model(self._net_input(x), head).repeat(1, r, 1)
        q = self.model(self._net_input(gx), head)
        return torch.stack([iic_loss(p[i], q[i], self.cfg.train.lamb) for i in range(p.shape[0])])

    def train_step(self, images: torch.Tensor, phase: str, gen: torch.Generator) -> dict[str, float]:
        """One Adam step on ``phase``'s head, loss averaged over its sub-heads."""
        self.model.train()
        loss = self._pair_losses(images, phase, gen).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def selection_loss(self, images: torch.Tensor, gen: torch.Generator, head: str = MAIN) -> torch.Tensor:
        """Label-free score per sub-head (h,): the IIC loss on training views, eval-mode network."""
        self.model.eval()
        return self._pair_losses(images, head, gen)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """uint8 B×C×H×W → {head: h×B×K posteriors} on the evaluation view, eval-mode network."""
        self.model.eval()
        x = self._net_input(self.views.evaluation(images))
        feats = self.model.features(x)
        return {name: self.model.heads[name](feats) for name in self.heads}

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 B×C×H×W → B×D trunk features on the evaluation view."""
        self.model.eval()
        return self.model.features(self._net_input(self.views.evaluation(images)))

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
