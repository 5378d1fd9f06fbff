"""Vector methods against k-means on imbalanced data: half the classes keep every sample, the other
half 1/RATIO of theirs, so the class sizes stand RATIO : 1.

    python benchmarks/imbalance.py --data digits --ratios 1 2 10 --seeds 0 1 2 --out results/imbalance/digits
    python benchmarks/imbalance.py --data fashion-mnist --per-class 1000 --ratios 1 2 10 --seeds 0 1 2 \\
        --out results/imbalance/fashion-mnist

Every method gets the same vectors, standardised per dimension (k-means: scikit-learn's KMeans,
n_init 10); labels only score. Each cell (method, ratio, seed) is one line of OUT/cells.jsonl with
ACC, NMI, ARI, the cluster sizes and the seconds; a rerun skips the cells already there, so the
command continues where it stopped. Prints the table (mean ± sd over the seeds) and writes it to
OUT/table.md. ``--purity`` adds, per ratio, the share of each sample's k nearest neighbours (cosine,
the standardised vectors) in its own class, for the common and the rare half (labels only
diagnose), to OUT/purity.md.
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
import yaml
from sklearn.cluster import KMeans

import infoclust
from infoclust.data.vectors import dataset_vectors, standardised
from infoclust.evaluation import clustering_scores
from infoclust.machine import describe
from infoclust.methods import METHODS
from infoclust.neighbours import nearest_neighbours
from infoclust.runs import atomic_write_text


def imbalanced(x: np.ndarray, y: np.ndarray, ratio: float, per_class: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (x, y): per class ``per_class`` samples (all when None, or fewer if it has fewer) for
    the first half of the classes, that many / ``ratio`` for the second half; drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    keep = []
    for c in classes:
        rows = np.flatnonzero(y == c)
        n = len(rows) if per_class is None else min(per_class, len(rows))
        if c >= classes[len(classes) // 2]:
            n = max(1, round(n / ratio))
        keep.append(rng.choice(rows, n, replace=False))
    rows = np.sort(np.concatenate(keep))
    return x[rows], y[rows]


def cluster(method: str, x: np.ndarray, k: int, seed: int, config: dict) -> np.ndarray:
    """Cluster assignments of ``x`` by k-means or a registered vector method's estimator."""
    if method == "kmeans":
        return KMeans(k, n_init=10, random_state=seed).fit_predict(x)
    estimator = getattr(infoclust, METHODS[method].estimator)
    return estimator(n_clusters=k, random_state=seed, config=config.get(method) or None).fit_predict(x)


PURITY_K = (1, 5, 10)


def purity_by_half(x: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    """Share of the k nearest neighbours (k in PURITY_K) in the sample's class, over the common
    half of the classes and over the rare half."""
    classes = np.unique(y)
    rare = y >= classes[len(classes) // 2]
    same = (y[nearest_neighbours(torch.from_numpy(x), max(PURITY_K)).numpy()] == y[:, None])
    return {half: [float(same[rows, :k].mean()) for k in PURITY_K] for half, rows in (("common", ~rare), ("rare", rare))}


def purity_table(rows: list[tuple[float, int, dict]]) -> str:
    """Markdown, one line per ratio: mean over the seeds of each half's purity at each k."""
    ratios = sorted({r for r, _, _ in rows})
    head = " | ".join(f"{half} k={k}" for half in ("common", "rare") for k in PURITY_K)
    lines = [f"| ratio | {head} |", "|---|" + "---|" * 2 * len(PURITY_K)]
    for ratio in ratios:
        found = [p for r, _, p in rows if r == ratio]
        cells = [f"{np.mean([p[half][i] for p in found]):.3f}" for half in ("common", "rare") for i in range(len(PURITY_K))]
        lines.append(f"| {ratio:g}:1 | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(cells: list[dict], methods: list[str], ratios: list[float]) -> str:
    lines = ["| method | " + " | ".join(f"{r:g}:1 ACC" for r in ratios) + " | " +
             " | ".join(f"{r:g}:1 NMI" for r in ratios) + " |", "|---|" + "---|" * (2 * len(ratios))]
    for m in methods:
        row = []
        for key in ("acc", "nmi"):
            for r in ratios:
                values = [c[key] for c in cells if c["method"] == m and c["ratio"] == r]
                row.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "")
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--per-class", type=int, help="samples per class of the larger half (default: all)")
    parser.add_argument("--ratios", type=float, nargs="+", default=[1, 2, 10])
    parser.add_argument("--methods", nargs="+", default=["kmeans", *[n for n, s in METHODS.items() if s.vectors]])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], metavar="METHOD:KEY=VALUE",
                        help="a config value for one method, e.g. temi:train.epochs=20 (repeatable)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--purity", action="store_true", help="also the neighbours' class purity per half (OUT/purity.md)")
    args = parser.parse_args()
    config: dict[str, dict] = {}
    for item in args.set:
        method, _, setting = item.partition(":")
        key, _, value = setting.partition("=")
        config.setdefault(method, {})[key.replace(".", "__")] = yaml.safe_load(value)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cells_path = out / "cells.jsonl"
    cells = [json.loads(line) for line in cells_path.read_text().splitlines()] if cells_path.is_file() else []
    done = {(c["method"], c["ratio"], c["seed"]) for c in cells}
    x_all, y_all = dataset_vectors(args.data)
    k = len(np.unique(y_all))
    purities = []
    for ratio in args.ratios:
        for seed in args.seeds:
            x, y = imbalanced(x_all, y_all, ratio, args.per_class, seed)
            x = standardised(x)
            if args.purity:
                purities.append((ratio, seed, purity_by_half(x, y)))
            for method in args.methods:
                if (method, ratio, seed) in done:
                    continue
                start = time.perf_counter()
                found = cluster(method, x, k, seed, config)
                cell = {"method": method, "ratio": ratio, "seed": seed, "n": len(x),
                        **clustering_scores(found, y, k), "sizes": np.bincount(found, minlength=k).tolist(),
                        "seconds": round(time.perf_counter() - start, 1), "config": config.get(method, {})}
                cells.append(cell)
                with cells_path.open("a") as f:  # one line a cell: a stop loses at most the cell in progress
                    f.write(json.dumps(cell) + "\n")
                print(f"{method} ratio {ratio:g} seed {seed}: ACC {cell['acc']:.3f} ({cell['seconds']} s)", flush=True)
    text = (f"{args.data}, classes {k // 2}..{k - 1} at 1/RATIO of the others, seeds {args.seeds}, "
            f"{date.today()}, {describe()}\n\n{table(cells, args.methods, args.ratios)}\n")
    atomic_write_text(out / "table.md", text)
    print(text)
    if args.purity:
        text = (f"{args.data}, neighbours' class purity (cosine, standardised vectors), mean over seeds {args.seeds}, "
                f"{date.today()}\n\n{purity_table(purities)}\n")
        atomic_write_text(out / "purity.md", text)
        print(text)


if __name__ == "__main__":
    main()
