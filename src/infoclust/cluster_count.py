"""The number of clusters without labels: over-cluster, then read the clusters' neighbour graph.

A head trained with S clusters (more than the data hold) splits each true group into several
clusters. Neighbouring samples (k-NN in the method's features) fall in clusters of the same group
far more often than across groups, so the clusters' joint distribution over neighbour pairs

    J[a, b] = mean over samples i and their neighbours j of p(a | x_i) · p(b | x_j)   (S×S, symmetrised)

(the pair distribution whose MI the methods maximise, here over neighbour pairs) is close to block
diagonal, one block per group. The number of blocks is read from the spectrum of the normalised
affinity D^-1/2 J D^-1/2 (D: the clusters' masses): K eigenvalues near 1, then a drop; K is the
largest eigengap λ_K − λ_{K+1} over 2 ≤ K ≤ max_clusters (the eigengap heuristic, von Luxburg,
"A tutorial on spectral clustering", 2007, §8.3). The clusters are then merged into K groups by
spectral clustering of that graph (Ng, Jordan and Weiss, 2001: the top K eigenvectors, rows
normalised, k-means weighted by mass). Any K can be read the same way from the same graph, so an
over-clustered run is read at several K without retraining. No label is used anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans

from .errors import ConfigError, DataError

EMPTY_SHARE = 1e-3  # a cluster with less than this share of a uniform cluster's mass is empty
DEFAULT_MAX_CLUSTERS = 50  # model.max_clusters when n_clusters is "auto"
OVERCLUSTER = 2  # n_clusters = "auto" trains OVERCLUSTER × max_clusters clusters (at most one per sample)
NEIGHBOURS = 50  # neighbours per sample in the joint (TEMI's k; chosen on blobs seeds 10–11 and digits seed 10, docs/methods.md)


def trained_clusters(n_clusters: int | str | None, max_clusters: int | None,
                     n_samples: int | None) -> tuple[int | None, int | None]:
    """(n_clusters, max_clusters) to train with: ``n_clusters`` "auto" trains ``OVERCLUSTER`` ×
    ``max_clusters`` (default ``DEFAULT_MAX_CLUSTERS``) clusters, at most one per sample; a given
    ``max_clusters`` (K chosen after training) must be at least 2 and below the clusters trained."""
    if isinstance(n_clusters, str):
        if n_clusters != "auto":
            raise ConfigError(f"model.n_clusters = {n_clusters!r}: expected a number of clusters or 'auto'")
        max_clusters = DEFAULT_MAX_CLUSTERS if max_clusters is None else max_clusters
        if max_clusters >= 2 and n_samples is not None and n_samples < 3:
            raise DataError(f"model.n_clusters = auto on {n_samples} sample(s): choosing K needs at least 3 samples")
        n_clusters = OVERCLUSTER * max_clusters if n_samples is None else min(OVERCLUSTER * max_clusters, n_samples)
    if max_clusters is None:
        return n_clusters, None
    if max_clusters < 2:
        raise ConfigError(f"model.max_clusters = {max_clusters}: expected at least 2 (the largest K to choose)")
    if n_clusters is not None and n_clusters <= max_clusters:
        raise ConfigError(f"model.max_clusters = {max_clusters} with model.n_clusters = {n_clusters}: K is chosen "
                          f"among the clusters trained, so expected n_clusters above max_clusters (or n_clusters = auto)")
    return n_clusters, max_clusters


def neighbour_joint(posteriors: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """S×S joint of the clusters of neighbour pairs (sums to 1, symmetric). ``posteriors``: N×S
    (rows sum to 1); ``neighbours``: N×k indices into the N samples."""
    post = np.asarray(posteriors, np.float64)
    joint = np.zeros((post.shape[1], post.shape[1]))
    for column in np.asarray(neighbours).T:
        joint += post.T @ post[column]
    joint = (joint + joint.T) / 2
    return joint / joint.sum()


@dataclass
class ClusterCount:
    """The spectrum of a joint (``neighbour_joint``) and what it says. ``eigenvalues``: of the
    normalised affinity of the non-empty clusters, largest first; ``gaps``: {K: λ_K − λ_{K+1}} for
    every candidate K; ``chosen``: the K of the largest gap; ``kept``: indices of the non-empty
    clusters among the S."""

    joint: np.ndarray
    kept: np.ndarray
    eigenvalues: np.ndarray
    vectors: np.ndarray = field(repr=False)
    gaps: dict[int, float]
    chosen: int

    def groups(self, k: int | None = None) -> np.ndarray:
        """(S,) group in [0, k) of each of the S clusters when merged into ``k`` groups (default:
        the chosen K); groups numbered by mass, largest first; an empty cluster joins the group it
        shares most neighbour pairs with."""
        k = self.chosen if k is None else k
        s, kept = len(self.joint), len(self.kept)
        if not 1 <= k <= kept:
            raise ConfigError(f"{k} clusters asked of a head with {kept} non-empty clusters (of {s}): "
                              f"expected 1 to {kept}")
        embedding = self.vectors[:, :k]
        embedding = embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
        mass = self.joint.sum(1)
        labels = KMeans(k, n_init=10, random_state=0).fit(embedding, sample_weight=mass[self.kept]).labels_
        groups = np.zeros(s, np.int64)
        groups[self.kept] = labels
        for empty in np.setdiff1d(np.arange(s), self.kept):
            groups[empty] = labels[np.argmax(self.joint[empty, self.kept])]
        order = np.argsort(-np.bincount(groups, weights=mass, minlength=k), kind="stable")
        return np.argsort(order)[groups]

    def record(self) -> dict:
        """What a run's summary keeps: the chosen K, the rule, each candidate's gap, the spectrum."""
        return {"chosen": self.chosen, "rule": "largest eigengap of the clusters' neighbour-pair graph",
                "trained_clusters": len(self.joint), "non_empty": len(self.kept),
                "gaps": {str(k): round(g, 6) for k, g in self.gaps.items()},
                "eigenvalues": [round(float(v), 6) for v in self.eigenvalues]}


def count_clusters(joint: np.ndarray, max_clusters: int) -> ClusterCount:
    """The eigengap choice of K ≤ ``max_clusters`` from an S×S neighbour-pair ``joint``."""
    if max_clusters < 2:
        raise ConfigError(f"model.max_clusters = {max_clusters}: expected at least 2")
    mass = joint.sum(1)
    kept = np.flatnonzero(mass > EMPTY_SHARE / len(mass))
    inner = joint[np.ix_(kept, kept)]
    scale = 1 / np.sqrt(mass[kept])
    values, vectors = np.linalg.eigh(inner * scale[:, None] * scale[None, :])
    values, vectors = values[::-1], vectors[:, ::-1]
    top = min(max_clusters, len(kept) - 1)
    gaps = {k: float(values[k - 1] - values[k]) for k in range(2, top + 1)}
    chosen = max(gaps, key=gaps.get) if gaps else len(kept)
    return ClusterCount(joint, kept, values, vectors, gaps, chosen)


def merge(posteriors: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """…×K posteriors from …×S ``posteriors``: each group's clusters summed (``groups``: (S,))."""
    return posteriors @ np.eye(k, dtype=posteriors.dtype)[groups]
