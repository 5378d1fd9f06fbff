"""Ways to read clusters off finished runs of any method: the run's own clusters (the reported
head's argmax) and k-means on the method's features Z of the evaluation images, raw and
L2-normalised; for DCCS also on Zc and Zs (its paper's Table 4 rules; its own clusters are the
argmax of Zc). With ``--confusion``, each run's clusters against the classes.

    python benchmarks/assignments.py RUN_DIR [RUN_DIR ...] [--confusion]

Prints one markdown row per run and rule: ACC, NMI (arithmetic and, as DCCS, geometric average)
and ARI. k-means: scikit-learn's, K clusters, 10 initialisations, seed 0. The confusion table has
one row per cluster, ordered by the class the best one-to-one map gives it, and one column per class.
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize

from infoclust import load_run, prediction
from infoclust.evaluation import clustering_scores, contingency, hungarian_lookup


def assignments(run_dir: str) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """({rule: (N,) clusters}, (N,) labels, K) of one run's evaluation images."""
    trainer = load_run(run_dir)
    k, style = trainer.cfg.model.n_clusters, getattr(trainer.cfg.model, "style_dim", None)
    own = prediction.reported(trainer.method, trainer.eval_images, trainer.selected_sub_head).argmax(1)
    z = prediction.features(trainer.method, trainer.eval_images)
    parts = {"Z": z, "Z/‖Z‖": normalize(z)}
    if style is not None:
        parts.update({"Zc": z[:, style:], "Zs": z[:, :style]})
    rules = {"argmax Zc" if style is not None else "the run's clusters": own}
    for name, x in parts.items():
        rules[f"k-means on {name}"] = KMeans(k, n_init=10, random_state=0).fit_predict(x)
    return rules, trainer.eval_dataset.labels, k


def confusion_rows(pred: np.ndarray, labels: np.ndarray, k: int) -> list[str]:
    """Markdown rows: cluster, its matched class, then its count of every class."""
    n_classes = int(labels.max()) + 1
    counts, lookup = contingency(pred, labels, k, n_classes), hungarian_lookup(pred, labels, k)
    order = sorted(range(k), key=lambda c: (lookup[c] < 0, lookup[c]))
    head = "| cluster | matched class | " + " | ".join(str(c) for c in range(n_classes)) + " |"
    rows = [head, "|" + "---|" * (n_classes + 2)]
    for c in order:
        rows.append(f"| {c} | {lookup[c] if lookup[c] >= 0 else '—'} | " + " | ".join(str(n) for n in counts[c]) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--confusion", action="store_true", help="also print each run's clusters against the classes")
    args = parser.parse_args()
    print("| run | rule | ACC | NMI (arithmetic) | NMI (geometric) | ARI |")
    print("|---|---|---|---|---|---|")
    confusions = []
    for run in args.runs:
        rules, labels, k = assignments(run)
        for rule, pred in rules.items():
            s = clustering_scores(pred, labels, k)
            print(f"| {run} | {rule} | {s['acc']:.3f} | {s['nmi']:.3f} | {s['nmi_geometric']:.3f} | {s['ari']:.3f} |")
        if args.confusion:
            confusions.append((run, confusion_rows(next(iter(rules.values())), labels, k)))
    for run, rows in confusions:
        print(f"\n{run}: its clusters (rows) against the classes (columns)\n")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
