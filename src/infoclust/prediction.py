"""The one prediction path: a trained method's posteriors, its reported clustering and its features
over any number of samples, chunk by chunk on the method's device. The engine's evaluation, the
estimators, the command line, the probes and the report all predict through it.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from .data import Dataset
from .data.lazy import LazyImages
from .methods import Method

CHUNK = 1024  # samples per forward pass when predicting


class LazySamples:
    """Samples read when indexed (a large folder's on-disk cache): ``samples[idx]`` (positions as a
    tensor or array, or a slice) is a uint8 B×C×H×W tensor on ``device``; ``samples[:]`` reads
    every one. Stands where the engine would hold an N×C×H×W tensor."""

    def __init__(self, images: LazyImages, device: torch.device | str = "cpu"):
        self.images, self.device = images, torch.device(device)
        self.shape = torch.Size(images.shape)

    def __len__(self) -> int:
        return len(self.images)

    def to(self, device: torch.device | str) -> "LazySamples":
        return LazySamples(self.images, device)

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return torch.from_numpy(self.images[index]).to(self.device)


def sample_tensor(dataset: Dataset) -> torch.Tensor | LazySamples:
    """The dataset's samples as a method receives them: uint8 N×C×H×W images or float32 N×D
    vectors; images read when indexed stay so (``LazySamples``)."""
    if isinstance(dataset.images, LazyImages):
        return LazySamples(dataset.images)
    return torch.from_numpy(np.ascontiguousarray(dataset.images))


def chunked(fn: Callable[[torch.Tensor], torch.Tensor], samples: torch.Tensor, device: torch.device,
            chunk: int = CHUNK) -> Iterator[tuple[int, torch.Tensor]]:
    """(first index, ``fn`` of the chunk on ``device``) for every ``chunk`` samples, without gradients."""
    with torch.no_grad():
        for start in range(0, len(samples), chunk):
            yield start, fn(samples[start:start + chunk].to(device))


def posterior_chunks(method: Method, samples: torch.Tensor) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """(first index, {head: h×b×K posteriors}) of every chunk of ``samples`` (the evaluation view; a
    dense method's b counts pixels)."""
    for start, chunk in chunked(method.predict, samples, method.device):
        if method.cluster_groups is not None:  # K chosen after training: each sub-head's S clusters summed into K groups
            post = chunk[method.grouped_head or method.report_head]  # h×b×S
            groups = method.cluster_groups.to(post.device)  # h×S
            chunk[method.report_head] = torch.bmm(post, torch.nn.functional.one_hot(groups, int(groups.max()) + 1).to(post.dtype))
        yield start, {head: post.float().cpu().numpy() for head, post in chunk.items()}


def posteriors(method: Method, samples: torch.Tensor) -> dict[str, np.ndarray]:
    """{head: h×N×K posteriors} of every sample."""
    parts: dict[str, list[np.ndarray]] = {}
    for _, chunk in posterior_chunks(method, samples):
        for head, post in chunk.items():
            parts.setdefault(head, []).append(post)
    return {head: np.concatenate(chunks, axis=1) for head, chunks in parts.items()}


def reported(method: Method, samples: torch.Tensor, sub_head: int) -> np.ndarray:
    """N×K posteriors of the reported head's ``sub_head`` (the clustering a run reports); only that
    sub-head is kept in memory."""
    parts = [chunk[method.report_head][sub_head] for _, chunk in posterior_chunks(method, samples)]
    return np.concatenate(parts)


def features(method: Method, samples: torch.Tensor) -> np.ndarray:
    """N×D embedding (the method's ``features``) of every sample."""
    return np.concatenate([f.float().cpu().numpy() for _, f in chunked(method.features, samples, method.device)])
