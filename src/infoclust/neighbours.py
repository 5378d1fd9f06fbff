"""Exact k nearest neighbours by cosine similarity, computed in chunks (no N×N matrix in memory),
and the neighbour view: one of a sample's k neighbours drawn afresh at every step."""
from __future__ import annotations

import hashlib
from typing import Callable

import torch
from torch.nn import functional as F

from .rng import Rng

CHUNK_BYTES = 64 * 2**20  # the similarity block of one chunk of rows: at most this many bytes
PAPER_K = 50  # TEMI's neighbours per sample (k = 50; 1 % of a CIFAR-10 class)
LEAST_K = 5  # the fewest neighbours chosen for small data


def default_k(n_samples: int | None, n_clusters: int) -> int:
    """Neighbours per sample when none are given: TEMI's 50, or on small data at most a tenth of an
    average cluster (N / 10K), at least 5 (docs/methods.md)."""
    if n_samples is None:
        return PAPER_K
    return min(PAPER_K, max(LEAST_K, n_samples // (10 * n_clusters)))


def nearest_neighbours(embedding: torch.Tensor, k: int, progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """N×D embedding → N×k int64 indices of each row's k most cosine-similar other rows, most
    similar first (exact; ties broken by ``topk``). Rows are compared a chunk at a time, so memory
    is N×D plus a chunk × N block of ``CHUNK_BYTES`` at most. ``progress`` is called with the
    number of rows done after each chunk."""
    n = len(embedding)
    if not 1 <= k < n:
        raise ValueError(f"k = {k} neighbours of {n} samples: expected 1 ≤ k < {n}")
    unit = F.normalize(embedding.float(), dim=1)
    chunk = max(1, CHUNK_BYTES // (4 * n))
    out = torch.empty(n, k, dtype=torch.long, device=embedding.device)
    for start in range(0, n, chunk):
        sims = unit[start:start + chunk] @ unit.t()
        rows = torch.arange(len(sims), device=sims.device)
        sims[rows, rows + start] = -float("inf")  # not itself
        out[start:start + chunk] = sims.topk(k, dim=1).indices
        if progress is not None:
            progress(min(start + chunk, n))
    return out


def fingerprint(embedding: torch.Tensor, k: int) -> str:
    """A short hex digest of the embedding's values and shape and of k: the cache key of its neighbours."""
    digest = hashlib.sha256(f"{tuple(embedding.shape)} {embedding.dtype} k={k}".encode())
    digest.update(embedding.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def draw_neighbours(neighbours: torch.Tensor, indices: torch.Tensor, rng: Rng) -> torch.Tensor:
    """For each sample index in ``indices`` (b,), one of its k neighbours drawn uniformly: (b,)
    indices into the same samples (the same draw for a sample in one or many processes)."""
    pick = rng.randint(0, neighbours.shape[1], len(indices)).to(neighbours.device)
    return neighbours[indices.to(neighbours.device), pick]


def purity(neighbours: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of neighbours that carry their anchor's label (a diagnosis; labels never train)."""
    labels = labels.to(neighbours.device)
    return (labels[neighbours] == labels[:, None]).float().mean().item()
