"""A label-free check that training has collapsed: almost every sample in one cluster while the
loss no longer moves (the MI term is flat at its degenerate value).

Both signs are needed: a healthy run may pass through a lopsided clustering early on, and a
converged one has a steady loss, but only a collapsed one has both. The thresholds were checked
against every logged run in docs/RESULTS.md (``benchmarks/collapse_check.py``).
"""
from __future__ import annotations

from collections.abc import Sequence

LARGEST_SHARE = 0.95  # fraction of the evaluated samples in the largest cluster
FLAT_LOSS = 1e-3  # largest change of the logged mean loss between the last two log windows
WINDOWS = 2  # log windows compared


def collapse_reason(cluster_sizes: Sequence[int], recent_losses: Sequence[float]) -> str | None:
    """Why the run looks collapsed, or None. ``cluster_sizes``: (K,) samples per cluster of the
    reported clustering; ``recent_losses``: the mean loss of the last log windows, oldest first."""
    total = sum(cluster_sizes)
    if total == 0 or len(recent_losses) < WINDOWS:
        return None
    share = max(cluster_sizes) / total
    window = recent_losses[-WINDOWS:]
    change = max(window) - min(window)
    if share < LARGEST_SHARE or change > FLAT_LOSS:
        return None
    return (f"cluster {list(cluster_sizes).index(max(cluster_sizes))} holds {100 * share:.1f}% of the {total} samples "
            f"and the loss has stopped moving ({window[-1]:.4g}, changed by {change:.1e})")


def largest_share(cluster_sizes: Sequence[int]) -> float:
    """Fraction of the samples in the largest cluster (0 for no samples)."""
    total = sum(cluster_sizes)
    return max(cluster_sizes) / total if total else 0.0
