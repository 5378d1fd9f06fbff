"""Clustering metrics: ACC (Hungarian one-to-one), many-to-one ACC, NMI, ARI, sub-head summaries."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

NMI_AVERAGE = "arithmetic"  # sklearn's default since 0.22; DCCS reports "geometric" (see docs/methods.md)


def contingency(pred: np.ndarray, labels: np.ndarray, n_clusters: int, n_classes: int) -> np.ndarray:
    """Counts C[k, c] of samples in cluster k with label c (n_clusters × n_classes)."""
    counts = np.zeros((n_clusters, n_classes), dtype=np.int64)
    np.add.at(counts, (pred, labels), 1)
    return counts


def hungarian_mapping(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> dict[int, int]:
    """Best one-to-one map cluster → label (maximises matches; scipy's linear_sum_assignment)."""
    n_classes = int(labels.max()) + 1
    counts = contingency(pred, labels, n_clusters, max(n_classes, n_clusters))
    rows, cols = linear_sum_assignment(-counts)
    return dict(zip(rows.tolist(), cols.tolist()))


def mapped_labels(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Each sample's cluster replaced by its Hungarian-matched label (−1 for an unmatched cluster)."""
    lookup = np.full(n_clusters, -1, dtype=np.int64)
    for cluster, label in hungarian_mapping(pred, labels, n_clusters).items():
        if cluster < n_clusters:
            lookup[cluster] = label
    return lookup[pred]


def cluster_acc(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> float:
    """ACC under the best one-to-one mapping of clusters to labels (IIC eq. in §4.1)."""
    return float(np.mean(mapped_labels(pred, labels, n_clusters) == labels))


def class_iou(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> list[float]:
    """Per class c (0..max label): |matched prediction = c ∧ label = c| / |matched prediction = c ∨
    label = c| under the Hungarian mapping (segmentation's per-class IoU)."""
    matched = mapped_labels(pred, labels, n_clusters)
    ious = []
    for c in range(int(labels.max()) + 1):
        union = np.count_nonzero((matched == c) | (labels == c))
        ious.append(float(np.count_nonzero((matched == c) & (labels == c)) / union) if union else float("nan"))
    return ious


def many_to_one_acc(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> float:
    """ACC when every cluster maps to its majority label (for over-clustering heads, k > classes)."""
    counts = contingency(pred, labels, n_clusters, int(labels.max()) + 1)
    return float(counts.max(axis=1).sum() / len(labels))


def clustering_scores(pred: np.ndarray, labels: np.ndarray, n_clusters: int) -> dict[str, float]:
    """ACC, NMI (``NMI_AVERAGE`` normaliser), ARI of one assignment, and NMI with the geometric
    normaliser that DCCS's paper used (``nmi_geometric``, for comparisons with it)."""
    return {
        "acc": cluster_acc(pred, labels, n_clusters),
        "nmi": float(normalized_mutual_info_score(labels, pred, average_method=NMI_AVERAGE)),
        "ari": float(adjusted_rand_score(labels, pred)),
        "nmi_geometric": float(normalized_mutual_info_score(labels, pred, average_method="geometric")),
    }


def summarize_heads(
    posteriors: dict[str, np.ndarray], sub_head_scores: np.ndarray | None, labels: np.ndarray | None, report: str,
    dense: bool = False,
) -> dict:
    """Figures for a run. ``posteriors``: head → h×N×K (N samples, or pixels for segmentation);
    ``sub_head_scores``: (h,) label-free score of the ``report`` head's sub-heads, lowest = the
    reported one (None: sub-head 0); ``labels``: (N,), −1 = unlabelled (not scored). Every other
    head gets its many-to-one ACC (``acc_many_to_one_<head>``), the measure for over-clustering
    heads. ``dense`` adds the per-class IoU (``iou_per_class``) and its mean (``miou``)."""
    main_post = posteriors[report]
    h, n, k = main_post.shape
    best = 0 if sub_head_scores is None else int(np.argmin(sub_head_scores))
    pred = main_post[best].argmax(axis=1)
    out: dict = {
        "n_samples": int(n),
        "n_clusters": int(k),
        "selected_sub_head": best,
        "selection": "lowest loss of the MI term on training views (no labels)" if sub_head_scores is not None
        else "the only sub-head",
        "sub_head_loss": [] if sub_head_scores is None else [float(x) for x in sub_head_scores],
        "cluster_sizes": np.bincount(pred, minlength=k).tolist(),
        "mean_confidence": float(main_post[best].max(axis=1).mean()),  # mean posterior of each sample's cluster
    }
    if labels is None:
        return out
    scored = labels >= 0
    if not scored.all():
        labels = labels[scored]
        posteriors = {head: post[:, scored] for head, post in posteriors.items()}
        main_post = posteriors[report]
        out["n_scored"] = int(scored.sum())
    per_head = [clustering_scores(main_post[i].argmax(axis=1), labels, k) for i in range(h)]
    out.update(per_head[best])
    if dense:
        out["iou_per_class"] = class_iou(main_post[best].argmax(axis=1), labels, k)
        out["miou"] = float(np.nanmean(out["iou_per_class"]))
    for key in ("acc", "nmi", "ari"):
        values = np.array([s[key] for s in per_head])
        out[f"{key}_mean"], out[f"{key}_std"] = float(values.mean()), float(values.std())
    out["acc_per_sub_head"] = [s["acc"] for s in per_head]
    out["nmi_average_method"] = NMI_AVERAGE
    for head, post in posteriors.items():
        if head != report:
            out[f"acc_many_to_one_{head}"] = float(
                np.mean([many_to_one_acc(p.argmax(axis=1), labels, p.shape[1]) for p in post]))
    return out
