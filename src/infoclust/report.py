"""HTML report of a run: cluster grid, confusion matrix, training curves and a figures table.

Everything lands in ``run.report_dir``: ``clusters.png``, ``confusion.png`` (only with labels),
``curves.png`` and ``index.html``, each written atomically. Plots use ``matplotlib.figure.Figure``
directly (no pyplot, so no global figure registry and nothing to close); this module never uses torch.
"""
from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.optimize import linear_sum_assignment

from .evaluation import contingency
from .runs import RunDir, atomic_write_bytes, atomic_write_text

GRID_COLS = 10        # images shown per cluster
MAX_ROWS = 50         # clusters shown in the grid (over-clustering heads have more)
TILE_PX = 48          # about this many screen pixels for the long side of a tile
GAP_PX = 2            # white space between tiles
LABEL_PX = 230        # room for the row labels left of the grid
ANNOTATE_MAX = 20     # write counts into the confusion matrix up to this many rows and columns
DPI = 100

TRAIN_META = ("kind", "epoch", "step", "pass", "head", "img_s", "time_s")  # train-record keys that are not loss parts
PARTS_COLS = 4  # panels per row of parts.png
EMBEDDING_POINTS = 5000
NEIGHBOUR_ROWS = 8  # anchors shown in neighbours.png

CAPTIONS = {
    "segmentations": "Each row: an image, its clusters per pixel and, with labels, the ground truth (black: "
                     "unlabelled). With labels each cluster is coloured as the class the Hungarian matching "
                     "gave it, so matching colours mean correct pixels.",
    "probes": "Each 'infoclust probe' of this run's network: the labelled fraction of each class trains the "
              "protocol (a linear classifier on a layer's outputs, the many-to-one map of the largest head's "
              "clusters, or fine-tuning with a new linear layer) and the accuracy is measured on the samples "
              "whose labels were not used.",
    "clusters": "One row per cluster, largest first, showing its most confident members (highest posterior) "
                "from left to right. A good clustering has rows of one kind of image; the left label gives the "
                "cluster's size and, with labels, its most common class and that class's share.",
    "confusion": "Rows: clusters, reordered by the one-to-one Hungarian matching to classes (unmatched clusters last); "
                 "columns: true classes. Colour: fraction of the cluster's images in each class (row-normalised). "
                 "A bright diagonal means clusters match classes; a row spread over several columns is a mixed cluster; "
                 "two bright cells in one column mean a class split over two clusters.",
    "neighbours": "For a method that pairs each sample with its nearest neighbours (TEMI, the grid's neighbour "
                  "transformation): each row is a training sample (left) and its nearest neighbours in the "
                  "embedding the method mines them from, most similar first. Neighbours of another kind of image "
                  "are pairs that teach the wrong thing; the title gives the share of all neighbours that end in "
                  "their sample's cluster.",
    "embedding": "Each point is an image's embedding (the method's features, e.g. DCCS's Z = [Zs, Zc]) projected "
                 "on its two principal components, coloured by its cluster (at most 5,000 images drawn). "
                 "Well separated, compact colours mean the clusters are distinct in the embedding.",
    "k_choice": "How K was chosen without labels (n_clusters = auto, docs/methods.md): left, the eigengap "
                "λ_K − λ_{K+1} of the trained clusters' neighbour-pair graph for every candidate K, the "
                "chosen K (the largest) in orange; right, the spectrum itself. A gap that towers over the "
                "others means a clear number of groups; several gaps of similar height mean the data "
                "hold groups at several scales, each a defensible K ('infoclust evaluate RUN --clusters K').",
    "parts": "Each part the method logs besides its loss, on its own scale, against the step: its loss terms "
             "(e.g. DCCS's critic, prior, MI and augmentation terms; IMC-SwAV's swapped and MI terms) and counts "
             "such as the prototypes IMC-SwAV's codes use in a batch (a collapse drives it towards 1).",
    "curves_scores": "Left: training loss per head or pass (lower is better; for IIC it is −I(z, z')). Right: ACC, NMI and ARI "
                     "of the selected sub-head against training time; dashed: ACC averaged over sub-heads "
                     "(a gap means the sub-heads disagree).",
    "curves_sizes": "Left: training loss per head or pass (lower is better; for IIC it is −I(z, z')). Right: cluster sizes "
                    "of the selected sub-head, largest first; the dashed line is the uniform size N/K. A few huge "
                    "clusters and many tiny ones suggest a degenerate solution.",
}


# ----------------------------------------------------------------------------- helpers

def top_members(assignments: np.ndarray, confidence: np.ndarray, k: int, n: int) -> list[np.ndarray]:
    """For each cluster 0..k-1, the indices of its (at most ``n``) most confident members, most confident first.

    ``assignments``: int (N,); ``confidence``: float (N,). Ties keep index order. Returns k int arrays.
    """
    order = np.lexsort((-confidence, assignments))  # by cluster, then confidence descending (stable)
    sizes = np.bincount(assignments, minlength=k)[:k]
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return [order[s:s + min(c, n)] for s, c in zip(starts, sizes)]


def class_names_for(class_names: Sequence[str] | None, n_classes: int) -> list[str]:
    """Names of classes 0..n_classes-1: ``class_names`` where given, the class number otherwise."""
    given = list(class_names or [])
    return [given[c] if c < len(given) else str(c) for c in range(n_classes)]


def hungarian_row_order(counts: np.ndarray) -> np.ndarray:
    """Cluster order for a K × C count matrix: matched clusters by their Hungarian class, then the rest
    by majority class and size, so a good clustering shows a bright diagonal."""
    rows, cols = linear_sum_assignment(-counts)
    matched = rows[np.argsort(cols)]
    rest = np.setdiff1d(np.arange(len(counts)), rows)
    rest = rest[np.lexsort((-counts[rest].sum(axis=1), counts[rest].argmax(axis=1)))]
    return np.concatenate((matched, rest)).astype(np.int64)


def _to_rgb_tiles(images: np.ndarray) -> np.ndarray:
    """(M, C, H, W) uint8 with C = 1 or 3 → (M, h, w, 3) uint8, nearest-neighbour resized by an integer
    factor so the long side is about ``TILE_PX`` (grey images become grey RGB)."""
    tiles = images.transpose(0, 2, 3, 1)
    if tiles.shape[3] == 1:
        tiles = np.repeat(tiles, 3, axis=3)
    side = max(tiles.shape[1:3])
    if side >= TILE_PX:
        step = max(1, round(side / TILE_PX))
        return tiles[:, ::step, ::step]
    factor = max(1, round(TILE_PX / side))
    return tiles.repeat(factor, axis=1).repeat(factor, axis=2)


def mosaic(images: np.ndarray, members: list[np.ndarray]) -> np.ndarray:
    """One RGB picture with a row of up to ``GRID_COLS`` tiles per entry of ``members`` (indices into ``images``),
    white where a cluster has fewer members."""
    lengths = [len(m) for m in members]
    tiles = _to_rgb_tiles(images[np.concatenate(members)])
    h, w = tiles.shape[1:3]
    grid = np.full((len(members), GRID_COLS, h + GAP_PX, w + GAP_PX, 3), 255, dtype=np.uint8)
    rows = np.repeat(np.arange(len(members)), lengths)
    cols = np.concatenate([np.arange(n) for n in lengths])
    grid[rows, cols, :h, :w] = tiles
    return grid.transpose(0, 2, 1, 3, 4).reshape(len(members) * (h + GAP_PX), GRID_COLS * (w + GAP_PX), 3)


def row_label(cluster: int, size: int, counts_row: np.ndarray | None, names: list[str]) -> str:
    """``cluster k (n images)`` plus the majority class and its share when labels exist."""
    head = f"cluster {cluster} ({size:,} image{'s' if size != 1 else ''})"
    if size == 0:
        return f"{head}\nempty"
    if counts_row is None:
        return head
    top = int(counts_row.argmax())
    return f"{head}\nmostly '{names[top][:20]}' ({100 * counts_row[top] / size:.0f}%)"


def _save(fig: Figure, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    atomic_write_bytes(path, buffer.getvalue())


# ----------------------------------------------------------------------------- pictures

SEGMENTATION_ROWS = 8  # images shown in segmentations.png


def plot_segmentations(path: Path, images: np.ndarray, predicted: np.ndarray, label_maps: np.ndarray | None,
                       k: int, names: list[str]) -> None:
    """The first ``SEGMENTATION_ROWS`` images with their predicted clusters (mapped to classes by
    the Hungarian matching when ``label_maps`` exist, so colours agree) and the ground truth (black:
    unlabelled). ``images``: uint8 (N, C, H, W); ``predicted``, ``label_maps``: int (N, H, W)."""
    from .evaluation import hungarian_lookup

    n = min(SEGMENTATION_ROWS, len(images))
    shown = predicted[:n]
    if label_maps is not None:
        scored = label_maps >= 0
        shown = hungarian_lookup(predicted[scored], label_maps[scored], k)[shown]  # each cluster as its class
    columns = 2 if label_maps is None else 3
    fig = Figure(figsize=(2 * columns, 2 * n + 0.4), dpi=DPI)
    colours = max(k, 1 + (int(label_maps.max()) if label_maps is not None else 0))
    for row in range(n):
        panels = [(_to_rgb_tiles(images[row:row + 1])[0], "image"), (shown[row], "prediction")]
        if label_maps is not None:
            panels.append((label_maps[row], "ground truth"))
        for col, (picture, title) in enumerate(panels):
            ax = fig.add_subplot(n, columns, row * columns + col + 1)
            if picture.ndim == 3:
                ax.imshow(picture, interpolation="nearest")
            else:
                ax.imshow(np.ma.masked_less(picture, 0), cmap="tab20", vmin=0, vmax=max(colours - 1, 1),
                          interpolation="nearest")
                ax.set_facecolor("black")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=9)
    legend = ", ".join(names[:colours]) if label_maps is not None else f"{k} clusters"
    fig.suptitle(f"image, prediction{' (clusters matched to classes)' if label_maps is not None else ''}"
                 f"{', ground truth' if label_maps is not None else ''}: {legend}", fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.01, top=1 - 0.6 / (2 * n + 0.4), hspace=0.08, wspace=0.05)
    _save(fig, path)


def plot_clusters(path: Path, images: np.ndarray, assignments: np.ndarray, confidence: np.ndarray, k: int,
                  counts: np.ndarray | None, names: list[str]) -> None:
    """Grid of the most confident images per cluster, rows by size (largest first), at most ``MAX_ROWS`` rows.

    ``images``: uint8 (N, C, H, W); ``counts``: K × classes contingency or None without labels.
    """
    sizes = np.bincount(assignments, minlength=k)
    shown = np.argsort(-sizes, kind="stable")[:MAX_ROWS]
    members = top_members(assignments, confidence, k, GRID_COLS)
    labels = [row_label(int(c), int(sizes[c]), None if counts is None else counts[c], names) for c in shown]
    _plot_rows(path, mosaic(images, [members[c] for c in shown]), labels,
               f"{k} clusters: most confident members, largest cluster first",
               f"showing the {MAX_ROWS} largest of {k} clusters" if k > MAX_ROWS else None)


def plot_neighbours(path: Path, images: np.ndarray, neighbours: np.ndarray, assignments: np.ndarray,
                    anchors: int = NEIGHBOUR_ROWS, seed: int = 0) -> float:
    """Rows of an anchor image (left) and its nearest neighbours, most similar first, for ``anchors``
    anchors drawn with ``seed``; returns the share of all neighbours that are in their anchor's
    cluster. ``images``: uint8 (N, C, H, W); ``neighbours``: N×k indices; ``assignments``: (N,)."""
    chosen = np.sort(np.random.default_rng(seed).choice(len(images), min(anchors, len(images)), replace=False))
    same = assignments[neighbours] == assignments[:, None]  # N×k
    members = [np.concatenate([[a], neighbours[a][:GRID_COLS - 1]]) for a in chosen]
    labels = [f"sample {a}, cluster {assignments[a]}\n{same[a].mean():.0%} of its {neighbours.shape[1]} "
              f"neighbours in it" for a in chosen]
    share = float(same.mean())
    _plot_rows(path, mosaic(images, members), labels,
               f"left: a sample; right: its nearest neighbours. {share:.1%} of all neighbours share their sample's cluster")
    return share


def _plot_rows(path: Path, picture: np.ndarray, labels: list[str], title: str, footer: str | None = None) -> None:
    """A ``mosaic`` picture with one label left of each row, a title and an optional footer line."""
    height, width = picture.shape[:2]
    top_px, bottom_px = 30, 24 if footer else 6
    fig = Figure(figsize=((LABEL_PX + width + 10) / DPI, (top_px + height + bottom_px) / DPI), dpi=DPI)
    ax = fig.add_axes((LABEL_PX / fig.bbox.width, bottom_px / fig.bbox.height,
                       width / fig.bbox.width, height / fig.bbox.height))
    ax.imshow(picture, interpolation="nearest", aspect="auto")
    row_px = height / len(labels)
    ax.set_yticks((np.arange(len(labels)) + 0.5) * row_px - GAP_PX / 2, labels, fontsize=8)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle(title, fontsize=10, y=1 - 8 / fig.bbox.height, va="top")
    if footer:
        fig.text(0.5, 4 / fig.bbox.height, footer, ha="center", va="bottom", fontsize=8)
    _save(fig, path)


def plot_confusion(path: Path, counts: np.ndarray, names: list[str]) -> None:
    """K × classes counts, rows in Hungarian order, coloured by row-normalised fraction."""
    order = hungarian_row_order(counts)
    counts = counts[order]
    fraction = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n_rows, n_cols = counts.shape
    fig = Figure(figsize=(2.5 + 0.45 * n_cols, 1.8 + min(0.32 * n_rows, 12)))
    ax = fig.add_subplot()
    im = ax.imshow(fraction, cmap="viridis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="fraction of the cluster")
    slanted = max(map(len, names)) > 2
    ax.set_xticks(np.arange(n_cols), [n[:20] for n in names], rotation=45 if slanted else 0,
                  ha="right" if slanted else "center", fontsize=8)
    if n_rows <= MAX_ROWS:
        ax.set_yticks(np.arange(n_rows), [f"cluster {c}" for c in order], fontsize=8)
    else:
        ax.set_yticks([])
    ax.set_xlabel("true class")
    ax.set_ylabel("cluster (Hungarian order)")
    if n_rows <= ANNOTATE_MAX and n_cols <= ANNOTATE_MAX:
        for (r, c), value in np.ndenumerate(counts):
            ax.text(c, r, str(value), ha="center", va="center", fontsize=7,
                    color="black" if fraction[r, c] > 0.6 else "white")
    ax.set_title("clusters × true classes", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _plot_lines(ax: Axes, records: list[dict], x: str, ys: dict[str, str], style: str = "-",
                group: str | None = None) -> None:
    """One line per key of ``ys`` (legend: its value), split by the value of ``group`` when given,
    over the records that hold ``x`` and the key."""
    for y, name in ys.items():
        rows = [r for r in records if x in r and r.get(y) is not None]
        groups = sorted({str(r.get(group)) for r in rows}) if group else [None]
        for g in groups:
            sel = sorted((r for r in rows if g is None or str(r.get(group)) == g), key=lambda r: r[x])
            if sel:
                label = f"{name} {g}" if g is not None else name
                ax.plot([r[x] for r in sel], [r[y] for r in sel], style, label=label, marker="." if len(sel) < 30 else None)


def plot_curves(path: Path, records: list[dict], sizes: np.ndarray) -> bool:
    """Loss per head vs step; ACC/NMI/ARI vs time when eval records have them, else the (K,) cluster ``sizes``.

    Returns True when the right panel shows scores."""
    train = [{**r, "pass": r.get("pass", r.get("head"))} for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    has_scores = any(r.get("acc") is not None for r in evals)
    fig = Figure(figsize=(11, 4))
    left, right = fig.subplots(1, 2)
    _plot_lines(left, train, "step", {"loss": "pass"}, group="pass")
    left.set(xlabel="step", ylabel="training loss", title="training loss per pass")
    if not train:
        left.text(0.5, 0.5, "no training records", ha="center", va="center", transform=left.transAxes)
    if has_scores:
        _plot_lines(right, evals, "time_s", {"acc": "ACC", "nmi": "NMI", "ari": "ARI"})
        _plot_lines(right, evals, "time_s", {"acc_mean": "ACC, mean over sub-heads"}, style="--")
        right.set(xlabel="training time (s)", ylabel="score", title="scores of the selected sub-head", ylim=(0, 1.02))
    else:
        right.bar(np.arange(len(sizes)), np.sort(sizes)[::-1], width=0.85, color="tab:blue")
        right.axhline(sizes.sum() / len(sizes), color="black", linestyle="--", label="uniform N/K")
        right.set(xlabel="cluster (largest first)", ylabel="images", title="cluster sizes of the selected sub-head")
    _finish(fig, (left, right), path)
    return has_scores


def loss_parts(records: list[dict]) -> list[str]:
    """The named parts the training records log besides the loss, in order of appearance."""
    return list(dict.fromkeys(k for r in records if r.get("kind") == "train" for k in r
                              if k not in TRAIN_META and k != "loss"))


def plot_parts(path: Path, records: list[dict], parts: list[str]) -> None:
    """One small panel per logged part against the step (each on its own scale: loss terms, a
    critic's estimate, a count such as the prototypes the codes use)."""
    train = [r for r in records if r.get("kind") == "train"]
    cols = min(len(parts), PARTS_COLS)
    rows = -(-len(parts) // cols)
    fig = Figure(figsize=(3.4 * cols, 2.6 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, part in zip(axes, parts):
        _plot_lines(ax, train, "step", {part: part})
        ax.set_title(part, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
    for ax in axes[len(parts):]:
        ax.set_visible(False)
    fig.tight_layout()
    _save(fig, path)


def plot_embedding(path: Path, features: np.ndarray, assignments: np.ndarray, k: int, seed: int = 0) -> None:
    """Scatter of N×D ``features`` on their first two principal components, coloured by cluster."""
    rows = np.random.default_rng(seed).permutation(len(features))[:EMBEDDING_POINTS]
    x = features[rows].astype(np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T if vt.shape[0] >= 2 else np.column_stack([x[:, 0], np.zeros(len(x))])
    fig = Figure(figsize=(6, 5.5))
    ax = fig.subplots()
    points = ax.scatter(xy[:, 0], xy[:, 1], c=assignments[rows], cmap="tab20" if k > 10 else "tab10",
                        vmin=-0.5, vmax=max(k, 10) - 0.5, s=4, alpha=0.7)
    fig.colorbar(points, ax=ax, label="cluster")
    ax.set(xlabel="principal component 1", ylabel="principal component 2",
           title=f"embedding of {len(rows):,} images, coloured by cluster")
    _finish(fig, (ax,), path)


def plot_k_choice(path: Path, choice: dict) -> None:
    """The eigengap of every candidate K (the chosen one marked) and the spectrum; ``choice``: a
    summary's ``k_choice``."""
    fig = Figure(figsize=(11, 3.8))
    left, right = fig.subplots(1, 2)
    ks = [int(k) for k in choice["gaps"]]
    gaps = list(choice["gaps"].values())
    colours = ["tab:orange" if k == choice["chosen"] else "tab:blue" for k in ks]
    left.bar(ks, gaps, color=colours)
    left.set(xlabel="K", ylabel="eigengap λ_K − λ_{K+1}", title=f"K = {choice['chosen']} chosen (largest gap)")
    values = choice["eigenvalues"]
    right.plot(range(1, len(values) + 1), values, marker=".")
    right.axvline(choice["chosen"] + 0.5, color="tab:orange", linestyle="--", label=f"after λ_{choice['chosen']}")
    right.set(xlabel="index", ylabel="eigenvalue", title=f"spectrum of the {choice['non_empty']} non-empty clusters")
    _finish(fig, (left, right), path)


def _finish(fig: Figure, axes: Sequence[Axes], path: Path) -> None:
    """Legends where there are labels, a light grid, a tight layout; then save to ``path``."""
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def plot_acc_over_time(path: Path, records: list[dict], title: str, target: float | None = None,
                       log_minutes: bool = False) -> None:
    """ACC against training minutes, one line per ``run`` value; ``records``: dicts with ``run``,
    ``minutes`` and ``acc``; ``target``: a dashed horizontal line (e.g. a paper's figure);
    ``log_minutes``: a logarithmic time axis (runs minutes and hours long on one picture)."""
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    _plot_lines(ax, records, "minutes", {"acc": "ACC"}, group="run")
    if target is not None:
        ax.axhline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set(xlabel="training time (minutes)", ylabel="ACC (selected sub-head)", title=title,
           xscale="log" if log_minutes else "linear")
    _finish(fig, [ax], path)


def plot_grid(path: Path, row_names: Sequence[str], datasets: Sequence[str],
              accs: dict[str, dict[str, list[float]]]) -> None:
    """A grid's ACC at a glance: one panel per dataset, one line per row (first row on top), a dot
    per seed and a bar at the mean; ``accs``: {row: {dataset: [ACC in [0, 1], one per seed]}}."""
    fig = Figure(figsize=(3.5 + 3 * len(datasets), 1.5 + 0.32 * len(row_names)))
    axes = fig.subplots(1, len(datasets), sharey=True, squeeze=False)[0]
    heights = np.arange(len(row_names))[::-1]
    labelled = False  # one legend entry per mark, in the first panel with a run
    for ax, dataset in zip(axes, datasets):
        for height, name in zip(heights, row_names):
            values = accs.get(name, {}).get(dataset, [])
            if values:
                ax.scatter(values, [height] * len(values), s=16, color="tab:blue",
                           label=None if labelled else "one seed")
                ax.plot([np.mean(values)] * 2, [height - 0.35, height + 0.35], color="black",
                        label=None if labelled else "mean")
                labelled = True
        ax.set(title=dataset, xlabel="ACC (selected sub-head)", xlim=(0, 1))
    axes[0].set_yticks(heights, row_names)
    _finish(fig, axes, path)


# ----------------------------------------------------------------------------- page

def _fmt(value: float) -> str:
    return f"{value:.4f}"


def _cell(value: object) -> str:
    """A table cell: floats to 4 decimals, anything else as it prints."""
    return _fmt(value) if isinstance(value, float) else str(value)


def figure_rows(figures: dict) -> list[tuple[str, str]]:
    """(name, value) rows of the figures table, skipping keys the figures dict lacks."""
    rows: list[tuple[str, str]] = []
    for key, name in (("acc", "ACC (selected sub-head, Hungarian one-to-one)"), ("nmi", "NMI"), ("ari", "ARI")):
        if key in figures:
            rows.append((name, _fmt(figures[key])))
    for key in ("acc", "nmi", "ari"):
        if f"{key}_mean" in figures:
            std = f" ± {_fmt(figures[f'{key}_std'])}" if f"{key}_std" in figures else ""
            rows.append((f"{key.upper()} mean ± std over sub-heads", _fmt(figures[f"{key}_mean"]) + std))
    for key in sorted(k for k in figures if k.startswith("acc_many_to_one_")):
        rows.append((f"head {key[len('acc_many_to_one_'):]} ACC (many-to-one, mean over sub-heads)", _fmt(figures[key])))
    if "eval_split" in figures:
        rows.append(("splits", f"trained on '{figures.get('train_split')}', reported on '{figures['eval_split']}'"))
    for key, name in (("n_samples", "samples"), ("n_clusters", "clusters")):
        if key in figures:
            rows.append((name, f"{figures[key]:,}"))
    if "k_choice" in figures:
        c = figures["k_choice"]
        why = f"chosen without labels: the largest eigengap ({c['gaps'][str(c['chosen'])]:.3f}) of the neighbour-pair " \
              f"graph of the {c['trained_clusters']} clusters trained, among K = 2 … {max(map(int, c['gaps']))}"
        if c["read_at"] != c["chosen"]:
            why = f"asked ({c['chosen']} was chosen: {why})"
        rows.append(("number of clusters", f"K = {c['read_at']}, {why}"))
    if "selected_sub_head" in figures:
        rule = f" — {figures['selection']}" if "selection" in figures else ""
        rows.append(("selected sub-head", f"{figures['selected_sub_head']}{rule}"))
    if "sub_head_loss" in figures:
        rows.append(("sub-head losses", ", ".join(f"{x:.4f}" for x in figures["sub_head_loss"])))
    if "nmi_average_method" in figures:
        rows.append(("NMI average method", str(figures["nmi_average_method"])))
    if "epoch" in figures:
        rows.append(("epoch", str(figures["epoch"])))
    if "time_s" in figures:
        rows.append(("training time", f"{figures['time_s']:.1f} s"))
    if "cluster_sizes" in figures:
        rows.append(("cluster sizes", ", ".join(str(s) for s in figures["cluster_sizes"])))
    return rows


PROBE_COLUMNS = (("protocol", "protocol"), ("layer", "layer"), ("labels_fraction", "labels"),
                 ("n_labelled", "labelled"), ("n_scored", "scored"), ("accuracy", "accuracy"), ("seed", "seed"),
                 ("scratch", "from scratch"), ("augment", "augmented"), ("epochs", "epochs"))


def probe_table(records: list[dict]) -> str:
    """HTML table of the run's probes (``probes.jsonl``), one row each; empty without probes."""
    if not records:
        return ""
    esc = html.escape
    head = "".join(f"<th>{esc(name)}</th>" for _, name in PROBE_COLUMNS)
    body = "\n".join("<tr>" + "".join(f"<td>{esc(_cell(r.get(key, '')))}</td>" for key, _ in PROBE_COLUMNS)
                     + "</tr>" for r in records)
    return (f"<h2>Probes</h2>\n<p class=note>{esc(CAPTIONS['probes'])}</p>\n"
            f"<table>\n<tr>{head}</tr>\n{body}\n</table>")


def render_html(title: str, run_root: Path, rows: list[tuple[str, str]], pictures: list[tuple[str, str]],
                notes: list[str], probes: list[dict] | None = None) -> str:
    """The self-contained page: heading, figures table, the probes' table, then each (file name,
    caption) picture."""
    esc = html.escape
    table = "\n".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    sections = "\n".join(
        f'<figure><img src="{esc(name)}" alt="{esc(name)}"><figcaption>{esc(caption)}</figcaption></figure>'
        for name, caption in pictures
    )
    note_html = "\n".join(f"<p class=note>{esc(n)}</p>" for n in notes)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; font-weight: normal; }}
td {{ font-family: monospace; }}
figure {{ margin: 2em 0; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}
figcaption, .note {{ color: #555; max-width: 900px; }}
</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p>run folder: <code>{esc(str(run_root))}</code></p>
<h2>Figures</h2>
<table>
{table}
</table>
{note_html}
{probe_table(probes or [])}
{sections}
</body>
</html>
"""


def _check_inputs(images: np.ndarray, labels: np.ndarray | None, assignments: np.ndarray,
                  confidence: np.ndarray, per_image: int = 1) -> None:
    n = len(images) * per_image
    for name, arr in (("assignments", assignments), ("confidence", confidence), ("labels", labels)):
        if arr is not None and np.shape(arr) != (n,):
            raise ValueError(f"{name} has shape {np.shape(arr)}; expected ({n},) like the images")


def write_report(run: RunDir, images: np.ndarray, labels: np.ndarray | None, assignments: np.ndarray,
                 confidence: np.ndarray, figures: dict, class_names: list[str] | None = None,
                 title: str = "", features: np.ndarray | None = None, dense: bool = False,
                 neighbours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Path:
    """Write ``clusters.png`` (``segmentations.png`` when ``dense``), ``confusion.png`` (with labels),
    ``curves.png``, ``parts.png`` (when the method logs parts besides its loss), ``embedding.png``
    (with N×D ``features``) and ``index.html`` into ``run.report_dir`` and return the page's path.

    ``images``: uint8 (N, C, H, W) with C = 1 or 3, or float (N, D) feature vectors (then no cluster grid);
    ``labels``: int (N,) or None; ``assignments``: int (N,) clusters 0..K-1; ``confidence``: float (N,)
    max posterior; ``figures``: the dict of ``evaluation.summarize_heads`` (missing keys are skipped).
    ``dense``: labels, assignments and confidence are per pixel (N·H·W, image by image; label −1 =
    unlabelled, left out of the confusion matrix). ``neighbours``: (training images, their N×k
    neighbour indices, their clusters) of a method that pairs neighbours: ``neighbours.png``.
    """
    pixels = int(np.prod(images.shape[2:])) if dense else 1
    _check_inputs(images, labels, assignments, confidence, pixels)
    assignments = np.asarray(assignments, dtype=np.int64)
    confidence = np.asarray(confidence, dtype=np.float64)
    k = max(int(figures.get("n_clusters", 0)), int(assignments.max()) + 1 if len(assignments) else 1)
    out = run.report_dir
    out.mkdir(parents=True, exist_ok=True)

    counts, names = None, []
    if labels is not None and len(labels):
        labels = np.asarray(labels, dtype=np.int64)
        n_classes = max(int(labels.max()) + 1, len(class_names or []))
        scored = labels >= 0
        counts = contingency(assignments[scored], labels[scored], k, n_classes)
        names = class_names_for(class_names, n_classes)

    pictures, notes = [], []
    if dense:
        maps = lambda flat: None if flat is None else flat.reshape(len(images), *images.shape[2:])  # noqa: E731
        plot_segmentations(out / "segmentations.png", images, maps(assignments), maps(labels), k, names)
        pictures.append(("segmentations.png", CAPTIONS["segmentations"]))
    elif images.ndim == 4:
        plot_clusters(out / "clusters.png", images, assignments, confidence, k, counts, names)
        pictures.append(("clusters.png", CAPTIONS["clusters"]))
    else:
        (out / "clusters.png").unlink(missing_ok=True)
        notes.append("No cluster grid: the dataset holds feature vectors, not images.")
    if counts is not None:
        plot_confusion(out / "confusion.png", counts, names)
        pictures.append(("confusion.png", CAPTIONS["confusion"]))
    else:
        (out / "confusion.png").unlink(missing_ok=True)
        notes.append("No confusion matrix and no ACC/NMI/ARI: the dataset has no labels.")
    records = run.read_metrics()
    has_scores = plot_curves(out / "curves.png", records, np.bincount(assignments, minlength=k))
    pictures.append(("curves.png", CAPTIONS["curves_scores" if has_scores else "curves_sizes"]))
    parts = loss_parts(records)
    if parts:
        plot_parts(out / "parts.png", records, parts)
        pictures.append(("parts.png", CAPTIONS["parts"]))
    else:
        (out / "parts.png").unlink(missing_ok=True)
    if neighbours is not None and neighbours[0].ndim == 4:
        plot_neighbours(out / "neighbours.png", *neighbours)
        pictures.append(("neighbours.png", CAPTIONS["neighbours"]))
    else:
        (out / "neighbours.png").unlink(missing_ok=True)
    if features is not None:
        plot_embedding(out / "embedding.png", features, assignments, k)
        pictures.append(("embedding.png", CAPTIONS["embedding"]))
    if "k_choice" in figures:
        plot_k_choice(out / "k-choice.png", figures["k_choice"])
        pictures.append(("k-choice.png", CAPTIONS["k_choice"]))
    else:
        (out / "k-choice.png").unlink(missing_ok=True)

    page = out / "index.html"
    atomic_write_text(page, render_html(title or "infoclust report", run.root, figure_rows(figures), pictures, notes,
                                        run.read_probes()))
    return page
