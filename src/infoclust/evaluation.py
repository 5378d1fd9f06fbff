"""Clustering metrics: ACC (Hungarian one-to-one), top-5 ACC (SCAN's), many-to-one ACC, NMI, ARI,
per-class IoU and sub-head summaries, all computed from contingency counts (clusters × classes), so that the figures
of many samples (every pixel of a segmentation set) can be accumulated chunk by chunk."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

NMI_AVERAGE = "arithmetic"  # sklearn's default since 0.22; DCCS reports "geometric" (see docs/methods.md)
_EPS = np.finfo(np.float64).eps


def contingency(pred: np.ndarray, labels: np.ndarray, n_clusters: int, n_classes: int) -> np.ndarray:
    """Counts C[k, c] of samples in cluster k with label c (n_clusters × n_classes)."""
    flat = np.asarray(pred, dtype=np.int64) * n_classes + labels
    return np.bincount(flat, minlength=n_clusters * n_classes).reshape(n_clusters, n_classes)


def _square(counts: np.ndarray) -> np.ndarray:
    """``counts`` padded with zero columns to at least as many classes as clusters (so every
    cluster can be matched)."""
    k, c = counts.shape
    return counts if c >= k else np.pad(counts, ((0, 0), (0, k - c)))


def hungarian_lookup(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """(n_clusters,) the label each cluster is matched to by the best one-to-one map (scipy's
    linear_sum_assignment), −1 for a cluster left unmatched."""
    counts = contingency(pred, labels, n_clusters, int(labels.max()) + 1)
    rows, cols = linear_sum_assignment(-counts)
    lookup = np.full(n_clusters, -1, dtype=np.int64)
    lookup[rows] = cols
    return lookup


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def acc_from_counts(counts: np.ndarray) -> float:
    """ACC under the best one-to-one mapping of the K×C contingency ``counts``."""
    square = _square(counts)
    rows, cols = linear_sum_assignment(-square)
    return float(square[rows, cols].sum() / counts.sum())


def scores_from_counts(counts: np.ndarray) -> dict[str, float]:
    """ACC (best one-to-one mapping), NMI with the ``NMI_AVERAGE`` normaliser and the geometric one
    (``nmi_geometric``, as DCCS's paper), ARI, of the K×C contingency ``counts``: the values
    scikit-learn gives from the samples (its special cases included), without them."""
    total = int(counts.sum())
    acc = acc_from_counts(counts)
    used = counts[counts.sum(1) > 0][:, counts.sum(0) > 0].astype(np.float64)
    h_pred, h_true = _entropy(used.sum(1)), _entropy(used.sum(0))
    if used.shape[0] == used.shape[1] == 1:
        nmi = geometric = 1.0  # one cluster, one class: identical labellings
    else:
        p = used / total
        outer = p.sum(1, keepdims=True) * p.sum(0, keepdims=True)
        mi = float(max((p[p > 0] * np.log(p[p > 0] / outer[p > 0])).sum(), 0.0))
        nmi = 0.0 if mi == 0 else mi / max((h_pred + h_true) / 2, _EPS)
        geometric = 0.0 if mi == 0 else mi / max(np.sqrt(h_pred * h_true), _EPS)
    # ARI from pair counts (exact integers: N² overflows 64 bits for every pixel of a large set)
    cells = [int(v) for v in counts.ravel() if v]
    sum_squares = sum(v * v for v in cells)
    per_cluster = [int(v) for v in counts.sum(1)]
    per_class = [int(v) for v in counts.sum(0)]
    same_cluster = sum(v * v for v in per_cluster) - sum_squares
    same_class = sum(v * v for v in per_class) - sum_squares
    tp, fp, fn = sum_squares - total, same_cluster, same_class
    tn = total * total - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        ari = 1.0
    else:
        ari = 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))
    return {"acc": acc, "nmi": float(nmi), "ari": float(ari), "nmi_geometric": float(geometric)}


def top5_from_counts(counts: np.ndarray, top5: np.ndarray) -> float:
    """Top-5 ACC as SCAN reports it: the share of samples whose label is among the labels of their 5
    most probable clusters, clusters mapped to labels by the one-to-one mapping of ``counts``.
    ``top5[k, c]``: samples labelled c with cluster k among their 5 most probable."""
    rows, cols = linear_sum_assignment(-_square(counts))
    return float(_square(top5)[rows, cols].sum() / counts.sum())


def iou_from_counts(counts: np.ndarray) -> list[float]:
    """Per class c: matched-and-right / (predicted as c ∪ labelled c) under the Hungarian mapping
    of the K×C ``counts`` (segmentation's per-class IoU; NaN for a class absent from both)."""
    rows, cols = linear_sum_assignment(-_square(counts))
    n_classes = counts.shape[1]
    ious = []
    for c in range(n_classes):
        clusters = rows[cols == c]
        right = counts[clusters, c].sum()
        union = counts[clusters].sum() + counts[:, c].sum() - right
        ious.append(float(right / union) if union else float("nan"))
    return ious


def many_to_one_from_counts(counts: np.ndarray) -> float:
    """ACC when every cluster maps to its majority label (for over-clustering heads, k > classes)."""
    return float(counts.max(axis=1).sum() / counts.sum())


def cluster_acc(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> float:
    """ACC under the best one-to-one mapping of clusters to labels (IIC eq. in §4.1)."""
    return acc_from_counts(contingency(pred, labels, n_clusters, int(labels.max()) + 1))


def many_to_one_acc(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> float:
    """ACC when every cluster maps to its majority label (for over-clustering heads, k > classes)."""
    return many_to_one_from_counts(contingency(pred, labels, n_clusters, int(labels.max()) + 1))


def clustering_scores(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> dict[str, float]:
    """ACC, NMI, ARI and geometric NMI of one assignment (``scores_from_counts``)."""
    return scores_from_counts(contingency(pred, labels, n_clusters, int(labels.max()) + 1))


def class_iou(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> list[float]:
    """Per-class IoU under the Hungarian mapping (``iou_from_counts``), classes 0..max label."""
    return iou_from_counts(contingency(pred, labels, n_clusters, int(labels.max()) + 1))


@dataclass
class HeadTally:
    """What the figures of one head need, accumulated over chunks of samples: per sub-head, the
    cluster sizes (h×K, all samples), the summed confidence (h,), the contingency with the labels
    (h×K×C, labelled samples only; C grows with the labels seen) and its top-5 form (h×K×C: samples
    with the cluster among their 5 most probable)."""

    sizes: np.ndarray
    confidence: np.ndarray
    counts: np.ndarray
    top5: np.ndarray
    n: int = 0
    scored: int = 0

    @classmethod
    def empty(cls, sub_heads: int, k: int) -> "HeadTally":
        none = np.zeros((sub_heads, k, 0), np.int64)
        return cls(np.zeros((sub_heads, k), np.int64), np.zeros(sub_heads), none, none.copy())

    def add(self, posteriors: np.ndarray, labels: np.ndarray | None) -> None:
        """Add h×b×K posteriors of b samples with their (b,) labels (−1 = unlabelled) or None."""
        h, b, k = posteriors.shape
        pred = posteriors.argmax(axis=2)
        self.n += b
        self.confidence += posteriors.max(axis=2).sum(axis=1)
        for i in range(h):
            self.sizes[i] += np.bincount(pred[i], minlength=k)
        if labels is None:
            return
        keep = labels >= 0
        self.scored += int(keep.sum())
        if not keep.any():
            return
        n_classes = max(self.counts.shape[2], int(labels[keep].max()) + 1)
        if n_classes > self.counts.shape[2]:
            grow = ((0, 0), (0, 0), (0, n_classes - self.counts.shape[2]))
            self.counts, self.top5 = np.pad(self.counts, grow), np.pad(self.top5, grow)
        top = min(5, k)
        likeliest = np.argpartition(-posteriors[:, keep], top - 1, axis=2)[..., :top]  # h×b'×5, any order
        for i in range(h):
            self.counts[i] += contingency(pred[i][keep], labels[keep], k, n_classes)
            self.top5[i] += contingency(likeliest[i].ravel(), np.repeat(labels[keep], top), k, n_classes)


def summarize_tallies(tallies: dict[str, HeadTally], sub_head_scores: np.ndarray | None, report: str,
                      labelled: bool, dense: bool = False) -> dict:
    """Figures for a run from each head's tally. ``sub_head_scores``: (h,) label-free score of the
    ``report`` head's sub-heads, lowest = the reported one (None: sub-head 0); ``labelled``: whether
    labels were given (without them, sizes only). Every other head gets its many-to-one ACC
    (``acc_many_to_one_<head>``), the measure for over-clustering heads. ``dense`` adds the per-class
    IoU (``iou_per_class``) and its mean (``miou``)."""
    main = tallies[report]
    h, k = main.sizes.shape
    best = 0 if sub_head_scores is None else int(np.argmin(sub_head_scores))
    out: dict = {
        "n_samples": main.n,
        "n_clusters": int(k),
        "selected_sub_head": best,
        "selection": "lowest loss of the MI term on training views (no labels)" if sub_head_scores is not None
        else "the only sub-head",
        "sub_head_loss": [] if sub_head_scores is None else [float(x) for x in sub_head_scores],
        "cluster_sizes": main.sizes[best].tolist(),
        "mean_confidence": float(main.confidence[best] / main.n),  # mean posterior of each sample's cluster
    }
    if not labelled:
        return out
    if main.scored < main.n:
        out["n_scored"] = main.scored
    per_head = [scores_from_counts(c) for c in main.counts]
    out.update(per_head[best])
    out["top5"] = top5_from_counts(main.counts[best], main.top5[best])
    if dense:
        out["iou_per_class"] = iou_from_counts(main.counts[best])
        out["miou"] = float(np.nanmean(out["iou_per_class"]))
    for key in ("acc", "nmi", "ari"):
        values = np.array([s[key] for s in per_head])
        out[f"{key}_mean"], out[f"{key}_std"] = float(values.mean()), float(values.std())
    out["acc_per_sub_head"] = [s["acc"] for s in per_head]
    out["nmi_average_method"] = NMI_AVERAGE
    for head, tally in tallies.items():
        if head != report:
            out[f"acc_many_to_one_{head}"] = float(np.mean([many_to_one_from_counts(c) for c in tally.counts]))
    return out


def summarize_heads(
    posteriors: dict[str, np.ndarray], sub_head_scores: np.ndarray | None, labels: np.ndarray | None, report: str,
    dense: bool = False,
) -> dict:
    """``summarize_tallies`` of posteriors held at once: head → h×N×K (N samples, or pixels for
    segmentation), with (N,) ``labels`` (−1 = unlabelled, not scored) or None."""
    tallies = {}
    for head, post in posteriors.items():
        tallies[head] = HeadTally.empty(post.shape[0], post.shape[2])
        tallies[head].add(post, labels)
    return summarize_tallies(tallies, sub_head_scores, report, labels is not None, dense)
