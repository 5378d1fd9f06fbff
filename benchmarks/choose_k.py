"""The label-free choice of K (issue 31): the K that ``n_clusters="auto"`` chooses against the true K.

    python benchmarks/choose_k.py blobs --methods temi --epochs 50 --seeds 0 1 2 --out results/choose-k
    python benchmarks/choose_k.py digits --methods temi imsat --seeds 0 1 2 --out results/choose-k

``blobs``: ``sklearn.datasets.make_blobs`` with K ∈ {3, 5, 10, 20, 30} true clusters of 100
samples, in 10 and 50 dimensions, spreads (cluster_std) 1, 2.5 and 4 (the centres drawn in
[-10, 10]: at 4 in 10 dimensions neighbouring blobs overlap), standardised. ``digits``: scikit-learn's 8×8 digits as 64-d vectors
(standardised), K = 10; beside the auto fit, a fit given the true K. ``features [--first RUN]``:
Fashion-MNIST embedded by a finished first-stage run (without it: the pixels as vectors), fitted on the training images and scored on
the test images, auto and K = 10 (``--methods gemclus-rim`` beside the TEMI runs of the CLI).
Each fit is one estimator ``infoclust.<METHOD>(n_clusters="auto", random_state=SEED)`` with its
defaults (max_clusters 50; ``--epochs`` sets the passes); labels only score (ACC and NMI at the chosen K). One JSON line per fit
in OUT/<part>.jsonl with its wall seconds, date and machine; a rerun skips the fits already there
(continue a stopped run with the same command). Prints a markdown table. ``gemclus-*``: GEMINI's
package beside them (``GEMCLUS``; needs ``pip install gemclus``).
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_blobs
from sklearn.metrics import normalized_mutual_info_score
from sklearn.preprocessing import StandardScaler

import infoclust
from infoclust.evaluation import cluster_acc
from infoclust.machine import describe

ESTIMATORS = {"temi": "TEMI", "imsat": "IMSAT"}
# GEMINI's package (Ohl et al., NeurIPS 2022; ``pip install gemclus``): its K-choosing mode is a model
# with up to MAX_CLUSTERS outputs whose unused clusters stay empty; K = the clusters its labels use.
# Its defaults (RIM, MLP-MMD with the linear kernel) and one tuned setting (MLP-MMD, rbf kernel).
GEMCLUS = {"gemclus-rim": ("linear", "RIM", {}), "gemclus-mmd": ("mlp", "MLPMMD", {}),
           "gemclus-mmd-rbf": ("mlp", "MLPMMD", {"kernel": "rbf"})}
MAX_CLUSTERS = 50  # infoclust's default model.max_clusters, given to gemclus as its number of outputs
BLOB_K = (3, 5, 10, 20, 30)
BLOB_DIMS = (10, 50)
BLOB_SPREADS = (1.0, 2.5, 4.0)
PER_CLUSTER = 100


def blob_sets(seed: int, first: Path | None = None):
    """(name, X, y) of every blob set of one seed (fitted and scored on the same samples)."""
    for k, dims, spread in itertools.product(BLOB_K, BLOB_DIMS, BLOB_SPREADS):
        x, y = make_blobs(n_samples=PER_CLUSTER * k, centers=k, n_features=dims, cluster_std=spread,
                          random_state=seed)
        yield f"K={k} d={dims} std={spread:g}", StandardScaler().fit_transform(x), y


def digit_sets(seed: int, first: Path | None = None):
    data = load_digits()
    yield "digits", StandardScaler().fit_transform(data.data), data.target


def feature_sets(seed: int, first: Path | None = None):
    """Fashion-MNIST's training and test images embedded by the finished run ``first`` (the two-stage
    pipeline's first stage; None: the pixels as 784-d vectors), standardised by the training
    features: (name, X, y, X_eval, y_eval)."""
    from infoclust.data import load_dataset
    from infoclust.engine import embedded_by

    train, test = (load_dataset("fashion-mnist", split=split, progress=False) for split in ("train", "test"))
    if first is not None:
        train, test = embedded_by(first, train, test)
    x, x_eval = (data.images.reshape(len(data.images), -1).astype(np.float32) for data in (train, test))
    scaler = StandardScaler().fit(x)
    name = f"fashion-mnist features of {first.name}" if first is not None else "fashion-mnist pixels"
    yield name, scaler.transform(x), train.labels, scaler.transform(x_eval), test.labels


SETS = {"blobs": blob_sets, "digits": digit_sets, "features": feature_sets}


def fit(method: str, x: np.ndarray, y: np.ndarray, seed: int, n_clusters: int | str, epochs: int | None,
        x_eval: np.ndarray | None = None, y_eval: np.ndarray | None = None) -> dict:
    """One fit on ``x``: the K it reports, ACC and NMI at that K on ``x_eval`` (default ``x``;
    labels only score), wall seconds of fit and prediction."""
    x_eval, y = (x, y) if x_eval is None else (x_eval, y_eval)
    start = time.perf_counter()
    if method in GEMCLUS:
        import importlib

        module, name, settings = GEMCLUS[method]
        model = getattr(importlib.import_module(f"gemclus.{module}"), name)(
            n_clusters=MAX_CLUSTERS if n_clusters == "auto" else n_clusters, random_state=seed, **settings)
        used, labels = np.unique(model.fit(x).predict(x_eval), return_inverse=True)  # its labels numbered 0..K-1
        k = len(used)
    else:
        estimator = getattr(infoclust, ESTIMATORS[method])(n_clusters=n_clusters, random_state=seed, epochs=epochs)
        labels = estimator.fit(x.astype(np.float32)).predict(x_eval.astype(np.float32))
        k = estimator.n_clusters_
    return {"k": int(k), "acc": round(cluster_acc(labels, y, max(k, int(y.max()) + 1)), 4),
            "nmi": round(float(normalized_mutual_info_score(y, labels)), 4),
            "seconds": round(time.perf_counter() - start, 1)}


def run(part: str, methods: list[str], seeds: list[int], out: Path, epochs: int | None,
        first: Path | None = None) -> list[dict]:
    path = out / f"{part}.jsonl"
    done = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    seen = {(r["method"], r["seed"], r["set"], r["given"], r["epochs"]) for r in done}
    out.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        for name, x, y, *held_out in SETS[part](seed, first):
            true_k = int(y.max()) + 1
            for method in methods:
                for given in (["auto"] if part == "blobs" else ["auto", true_k]):
                    if (method, seed, name, str(given), epochs) in seen:
                        continue
                    row = {"method": method, "seed": seed, "set": name, "true_k": true_k, "given": str(given),
                           "epochs": epochs, **fit(method, x, y, seed, given, epochs, *held_out), "date": date.today().isoformat(), "machine": describe()}
                    with path.open("a") as file:
                        file.write(json.dumps(row) + "\n")
                    done.append(row)
                    print(json.dumps(row), flush=True)
    return done


def table(rows: list[dict]) -> str:
    """Markdown: per set and method, the K chosen on each seed and the mean ACC / NMI at it."""
    lines = ["| data | true K | method | K chosen (per seed) | ACC at it | NMI at it | seconds a fit |",
             "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["set"], r["true_k"], r["method"], r["given"]) for r in rows}, key=lambda t: (t[1], t[0], t[2], t[3]))
    for name, true_k, method, given in keys:
        chosen = [r for r in rows if (r["set"], r["method"], r["given"]) == (name, method, given)]
        chosen.sort(key=lambda r: r["seed"])
        label = method if given == "auto" else f"{method}, K given"
        lines.append(f"| {name} | {true_k} | {label} | {', '.join(str(r['k']) for r in chosen)} | "
                     f"{np.mean([r['acc'] for r in chosen]):.3f} | {np.mean([r['nmi'] for r in chosen]):.3f} | "
                     f"{np.mean([r['seconds'] for r in chosen]):.0f} |")
    hits = [r for r in rows if r["given"] == "auto"]
    lines.append(f"\ntrue K chosen in {sum(r['k'] == r['true_k'] for r in hits)} of {len(hits)} auto fits")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=sorted(SETS))
    parser.add_argument("--first", type=Path, help="features: the finished first-stage run that embeds the images "
                                                   "(none: the pixels)")
    parser.add_argument("--methods", nargs="+", default=["temi", "imsat"], choices=[*ESTIMATORS, *GEMCLUS])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="passes of every fit (default: each method's own)")
    parser.add_argument("--out", type=Path, default=Path("results/choose-k"))
    args = parser.parse_args()
    rows = [r for r in run(args.part, args.methods, args.seeds, args.out, args.epochs, args.first)
            if r["epochs"] == args.epochs]
    print(f"\n{describe()}, {date.today()}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
