"""Two-stage clustering: a first stage's features, then second stages on them (issue 29).

    python benchmarks/two_stage.py --first-config configs/imc-swav-fashion-mnist-cpu.yaml \
        --seeds 0 1 2 --out results/two-stage-fashion-mnist      # rerun the same command to resume

For each seed, into OUT/sSEED/: the first stage (``first/``, trained from ``--first-config`` with
``--set-first``), then each second stage of ``--second`` on its features (``temi/``,
``temi-self-label/``, ``iic-neighbours/``: ``infoclust train --features OUT/sSEED/first``, trained
on the first stage's training split, scored on its evaluation split), and beside them k-means on the
same features (fitted on the training split) and the k-NN purity of the training features at k = 5,
20, 50 (labels only diagnose), beside that of the training images' own standardised pixels
(OUT/pixels-purity.json, computed once: a first stage helps neighbours only above it). Every run
is also scored on train ∪ test (``--split all``).
OUT/sSEED/table.json holds the seed's rows; the script prints a markdown table over the seeds with
each pipeline's CPU minutes (first stage + second stage training). Finished runs are read, not
retrained. OUT/acc-vs-time.png draws every run's evaluation curve against pipeline minutes (a
second stage starts where its first stage ended), with the issue's 0.78 as a dashed line.
``--set-second KEY=VALUE`` applies to every second stage, ``--set-second STAGE:KEY=VALUE`` to one.
``temi-self-label``'s 10 self-label passes are the last of its ``train.epochs``: give it TEMI's
passes + 10 (``--set-second temi-self-label:train.epochs=25`` beside ``temi:train.epochs=15``) so
that its TEMI part is the ``temi`` row's.
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans

from infoclust.config import RunConfig
from infoclust.data import load_dataset
from infoclust.data.vectors import standardised
from infoclust.engine import embedded_by, load_trainer, run_to_end
from infoclust.evaluation import cluster_acc
from infoclust.machine import describe
from infoclust.methods import load_config
from infoclust.neighbours import nearest_neighbours, purity
from infoclust.report import plot_acc_over_time
from infoclust.runs import RunDir, atomic_write_text

PURITY_K = (5, 20, 50)
HEADLINE = 0.78  # issue 29's Fashion-MNIST target, drawn in OUT/acc-vs-time.png
# second stage name → (method, settings)
SECOND = {"temi": ("temi", []),
          "temi-self-label": ("temi", ["selflabel.epochs=10"]),
          "iic-neighbours": ("iic", ["objective.transform=neighbour"])}


def scored(run: Path) -> dict:
    """ACC on the run's evaluation split (its summary) and on train ∪ test, with training minutes."""
    summary = json.loads((run / "summary.json").read_text())
    merged = load_trainer(run, eval_split="all", progress=False).evaluate()
    return {"acc": summary["acc"], "nmi": summary["nmi"], "acc_all": merged["acc"], "minutes": summary["time_s"] / 60}


def feature_rows(first: Path) -> dict:
    """k-means on the first stage's features (fitted on its training split, scored on its
    evaluation split and on both) and the k-NN purity of the training features."""
    cfg = RunDir.existing(first).read_config()
    train = load_dataset(cfg.data.name, split=cfg.data.split, root=cfg.data.root, progress=False)
    held = load_dataset(cfg.data.name, split=cfg.data.eval_split or cfg.data.split, root=cfg.data.root, progress=False)
    train, held = embedded_by(first, train, held)
    start = time.perf_counter()
    k = int(cfg.model.n_clusters)
    kmeans = KMeans(k, n_init=10, random_state=cfg.seed).fit(train.images)
    fit_min = (time.perf_counter() - start) / 60
    pred_held, pred_train = kmeans.predict(held.images), kmeans.labels_
    acc_all = cluster_acc(np.concatenate([pred_train, pred_held]), np.concatenate([train.labels, held.labels]), k)
    return {"kmeans": {"acc": cluster_acc(pred_held, held.labels, k), "acc_all": acc_all, "minutes": fit_min},
            "purity": knn_purity(train.images, train.labels)}


def knn_purity(vectors: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Share of each row's k nearest neighbours (cosine) with its label, for k in PURITY_K."""
    neighbours = nearest_neighbours(torch.from_numpy(vectors), max(PURITY_K))
    return {str(p): purity(neighbours[:, :p], torch.from_numpy(labels)) for p in PURITY_K}


def standardised_pixel_purity(cfg: RunConfig, path: Path) -> dict[str, float]:
    """k-NN purity of the training images' flattened pixels, standardised per pixel (cached in
    ``path``): the neighbours a second stage would get with no first stage."""
    if path.is_file():
        return json.loads(path.read_text())
    train = load_dataset(cfg.data.name, split=cfg.data.split, root=cfg.data.root, progress=False)
    found = knn_purity(standardised(train.images.reshape(len(train.images), -1).astype(np.float32)), train.labels)
    atomic_write_text(path, json.dumps(found) + "\n")
    return found


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    """Every row of one seed (trains what has not finished)."""
    out = Path(args.out) / f"s{seed}"
    first = out / "first"
    run_to_end(first, lambda: load_config(args.first_config, args.set_first, seed=seed), progress=not args.quiet)
    first_cfg = RunDir.existing(first).read_config()
    data = {"data__name": first_cfg.data.name, "data__split": first_cfg.data.split,
            "data__eval_split": first_cfg.data.eval_split, "data__features": str(first)}
    rows = {"first": scored(first), **feature_rows(first),
            "pixel_purity": standardised_pixel_purity(first_cfg, Path(args.out) / "pixels-purity.json")}
    for name in args.second:
        method, sets = SECOND[name]
        sets = sets + stage_settings(args.set_second, name)
        run_to_end(out / name, lambda: load_config(None, sets, method=method, seed=seed, **data), progress=not args.quiet)
        rows[name] = scored(out / name)
        rows[name]["pipeline_minutes"] = rows["first"]["minutes"] + rows[name]["minutes"]
    (out / "table.json").write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def stage_settings(items: list[str], stage: str) -> list[str]:
    """The ``--set-second`` items for one stage: ``KEY=VALUE`` for every stage, ``STAGE:KEY=VALUE``
    for that stage only."""
    chosen = []
    for item in items:
        key, _, value = item.partition("=")
        prefix, colon, key = key.rpartition(":")
        if not colon or prefix == stage:
            chosen.append(f"{key}={value}")
    return chosen


def mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def table(per_seed: dict[int, dict], second: list[str]) -> str:
    """Markdown: one line per clustering of the features, means over the seeds."""
    lines = ["| clustering | ACC (evaluation split) | ACC (train ∪ test) | minutes (stage) | minutes (pipeline) |",
             "|---|---|---|---|---|"]
    for name in ["first", "kmeans", *second]:
        rows = [seed_rows[name] for seed_rows in per_seed.values()]
        pipeline = [r["pipeline_minutes"] for r in rows if "pipeline_minutes" in r]
        lines.append(f"| {name} | {mean_sd([r['acc'] for r in rows])} | {mean_sd([r['acc_all'] for r in rows])} | "
                     f"{np.mean([r['minutes'] for r in rows]):.1f} | {f'{np.mean(pipeline):.1f}' if pipeline else '—'} |")
    purities = {k: [seed_rows["purity"][str(k)] for seed_rows in per_seed.values()] for k in PURITY_K}
    lines.append("")
    lines.append("k-NN purity of the training features: " + ", ".join(f"k = {k}: {mean_sd(v)}" for k, v in purities.items()))
    pixels = next(iter(per_seed.values()))["pixel_purity"]
    lines.append("k-NN purity of the standardised training pixels: " + ", ".join(f"k = {k}: {pixels[str(k)]:.3f}" for k in PURITY_K))
    return "\n".join(lines)


def curve_records(out: Path, seeds: list[int], second: list[str]) -> list[dict]:
    """Every run's evaluation curve as plot_acc_over_time records: minutes since the pipeline
    began (a second stage's times shifted by its first stage's training minutes), ACC."""
    records = []
    for seed in seeds:
        first_minutes = 0.0
        for name in ["first", *second]:
            summary = json.loads((out / f"s{seed}" / name / "summary.json").read_text())
            records += [{"run": f"{name}, seed {seed}", "minutes": first_minutes + e["time_s"] / 60, "acc": e["acc"]}
                        for e in summary["curve"] if "acc" in e]
            if name == "first":
                first_minutes = summary["time_s"] / 60
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first-config", required=True, help="the first stage's config file")
    parser.add_argument("--set-first", action="append", default=[], help="KEY=VALUE for the first stage")
    parser.add_argument("--second", nargs="+", default=list(SECOND), choices=list(SECOND))
    parser.add_argument("--set-second", action="append", default=[],
                        help="KEY=VALUE for every second stage, STAGE:KEY=VALUE for one (e.g. temi:model.heads=4)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", required=True)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    per_seed = {seed: run_seed(args, seed) for seed in args.seeds}
    print(f"{describe()}, {date.today()}, seeds {', '.join(map(str, args.seeds))}\n")
    print(table(per_seed, args.second))
    picture = Path(args.out) / "acc-vs-time.png"
    plot_acc_over_time(picture, curve_records(Path(args.out), args.seeds, args.second),
                       f"two stages from {Path(args.first_config).stem}", HEADLINE)
    print(f"\npicture: {picture}")


if __name__ == "__main__":
    main()
