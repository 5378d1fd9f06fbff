"""A label-free check that training has collapsed: almost every sample in one cluster, assigned
with confidence, while the loss no longer moves (the MI term is flat at its degenerate value).

Every sign is needed: a healthy run may pass through a lopsided clustering early on, a converged
one has a steady loss, and a network that has not started to learn puts most samples in one
cluster with near-uniform posteriors and a loss near 0; only a collapsed one has all three. The
thresholds were checked against every logged run in docs/RESULTS.md (``benchmarks/collapse_check.py``).
"""
from __future__ import annotations

from collections.abc import Sequence

LARGEST_SHARE = 0.95  # fraction of the evaluated samples in the largest cluster
FLAT_LOSS = 1e-3  # largest change of the logged mean loss between the last two log windows
CONFIDENT = 0.9  # mean posterior of the assigned cluster (near 1/K for a network that has not started)
WINDOWS = 2  # log windows compared


def collapse_reason(cluster_sizes: Sequence[int], recent_losses: Sequence[float],
                    confidence: float | None) -> str | None:
    """Why the run looks collapsed, or None. ``cluster_sizes``: (K,) samples per cluster of the
    reported clustering; ``recent_losses``: the mean of the method's watched loss part
    (``Method.watched_loss``: IIC's and IMSAT's loss, DCCS's augmentation KL) over the last log
    windows, oldest first;
    ``confidence``: the mean posterior of each sample's cluster (None: not known, not checked)."""
    total = sum(cluster_sizes)
    if total == 0 or len(recent_losses) < WINDOWS:
        return None
    share = max(cluster_sizes) / total
    window = recent_losses[-WINDOWS:]
    change = max(window) - min(window)
    if share < LARGEST_SHARE or change > FLAT_LOSS or (confidence is not None and confidence < CONFIDENT):
        return None
    return (f"cluster {list(cluster_sizes).index(max(cluster_sizes))} holds {100 * share:.1f}% of the {total} samples "
            f"and the loss has stopped moving ({window[-1]:.4g}, changed by {change:.1e})")


def largest_share(cluster_sizes: Sequence[int]) -> float:
    """Fraction of the samples in the largest cluster (0 for no samples)."""
    total = sum(cluster_sizes)
    return max(cluster_sizes) / total if total else 0.0
