"""DCCS's four cluster-assignment rules (paper Table 4) on finished runs: argmax of Zc, and k-means
on Z, on Zc and on Zs of the evaluation images.

    python benchmarks/dccs_assignments.py RUN_DIR [RUN_DIR ...]

Prints one markdown row per run and rule: ACC, NMI (arithmetic and, as the paper, geometric
average) and ARI. k-means: scikit-learn's, K clusters, 10 initialisations, seed 0.
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.cluster import KMeans

from infoclust import load_run
from infoclust.evaluation import clustering_scores


def assignments(run_dir: str) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """({rule: (N,) clusters}, (N,) labels, K) of one run's evaluation images."""
    trainer = load_run(run_dir)
    k, style = trainer.cfg.model.n_clusters, trainer.cfg.model.style_dim
    z = trainer.predict_features()
    parts = {"Z": z, "Zc": z[:, style:], "Zs": z[:, :style]}
    rules = {"argmax Zc": z[:, style:].argmax(1)}
    for name, x in parts.items():
        rules[f"k-means on {name}"] = KMeans(k, n_init=10, random_state=0).fit_predict(x)
    return rules, trainer.eval_dataset.labels, k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    print("| run | rule | ACC | NMI (arithmetic) | NMI (geometric) | ARI |")
    print("|---|---|---|---|---|---|")
    for run in args.runs:
        rules, labels, k = assignments(run)
        for rule, pred in rules.items():
            s = clustering_scores(pred, labels, k)
            print(f"| {run} | {rule} | {s['acc']:.3f} | {s['nmi']:.3f} | {s['nmi_geometric']:.3f} | {s['ari']:.3f} |")


if __name__ == "__main__":
    main()
