"""What several method families share: the image-size defaults, IIC's head names and schedule, and
the neighbours mined from the training samples.

Methods share code through this module (and ``base``, ``head_passes``), never through each
other's config modules.
"""
from __future__ import annotations

import copy
import dataclasses

import torch

from ..config import RunConfig
from ..errors import ConfigError, DataError
from ..neighbours import fingerprint, nearest_neighbours
from .base import PrepareCache

TINY_SIDE = 16  # images with a side up to this (the 8×8 digits) get a method's tiny-image defaults
MAIN, OVER = "B", "A"  # head names as in the IIC code: B = main (k clusters), A = over-clustering


def is_tiny(side: int) -> bool:
    """Whether images of this side (px) take a method's tiny-image defaults."""
    return side <= TINY_SIDE


def fill_image_defaults(cfg: RunConfig, sample_shape: tuple[int, ...], tiny: dict,
                        paper: dict) -> tuple[RunConfig, int, int]:
    """For a method of images: (``cfg`` with ``tiny`` or ``paper`` defaults filled by the image side,
    channels C, side) of samples of shape (C, H, W); N×D vectors are refused in one line."""
    if len(sample_shape) != 3:
        raise DataError(f"{cfg.method} clusters images, but the data are {sample_shape[0]}-d feature vectors: "
                        "expected images (C, H, W), or a method of vectors ('infoclust list')")
    c, h, w = sample_shape
    side = min(h, w)
    return fill_defaults(cfg, tiny if is_tiny(side) else paper), c, side


def fill_defaults(cfg: RunConfig, defaults: dict) -> RunConfig:
    """A copy of ``cfg`` with each dotted key of ``defaults`` ("section.key") set where it is None."""
    sections = {}
    for key, value in defaults.items():
        section, name = key.split(".")
        part = sections.setdefault(section, dataclasses.replace(getattr(cfg, section)))
        if getattr(part, name) is None:
            setattr(part, name, copy.deepcopy(value))  # lists stay the config's own
    return dataclasses.replace(cfg, **sections)


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


def mined_neighbours(embedding: torch.Tensor, k: int, cache: PrepareCache | None) -> torch.Tensor:
    """N×k indices of each row's k nearest neighbours by cosine similarity of the N×D ``embedding``,
    read from ``cache`` when it holds them for this embedding and k, else mined and kept there."""
    name = f"neighbours-{fingerprint(embedding, k)}"
    kept = cache.load(name) if cache is not None else None
    if kept is not None and kept["indices"].shape == (len(embedding), k):
        return kept["indices"].to(embedding.device)
    found = nearest_neighbours(embedding, k)
    if cache is not None:
        cache.save(name, {"indices": found})
    return found
