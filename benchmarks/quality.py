"""Quality over seeds: train (or resume) one run per seed, then print a markdown table and curve.

    python benchmarks/quality.py --data digits --seeds 0 1 2 --out bench-runs/digits
    python benchmarks/quality.py --data fashion-mnist --config configs/iic-fashion-mnist-cpu.yaml \
        --seeds 0 1 2 --out bench-runs/fmnist          # rerun the same command to resume

Each seed trains into OUT/sSEED; OUT/acc-vs-time.png draws every seed's ACC against training
time. A run that stopped (killed, session ended) is continued with ``--resume`` semantics; a
finished one is only read. ``train.budget_minutes`` in the config (or
``--set``) bounds the training time of each run; evaluation time is not counted in the budget.
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import numpy as np

from infoclust.methods import load_config
from infoclust.engine import run_to_end
from infoclust.machine import describe
from infoclust.report import plot_acc_over_time


def seed_config(args: argparse.Namespace, seed: int):
    """The run configuration of one seed: method preset ← --config ← --set ← --data (when given)."""
    return load_config(args.config, args.set, method=args.method, seed=seed, data__name=args.data)


def run_seed(args: argparse.Namespace, seed: int) -> tuple[dict, list[dict], float | None]:
    """The seed's final figures, its evaluation curve (from ``summary.json``, which git keeps) and
    the wall seconds this invocation spent on it (None when the run had already finished)."""
    out = Path(args.out) / f"s{seed}"
    finished = (out / "summary.json").is_file()
    start = time.perf_counter()
    run_to_end(out, lambda: seed_config(args, seed), progress=not args.quiet)
    wall = None if finished else time.perf_counter() - start
    figures = json.loads((out / "summary.json").read_text())
    return figures, figures["curve"], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="iic")
    parser.add_argument("--data", help="dataset name or path (default: the config's, else digits)")
    parser.add_argument("--config")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", required=True)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--target", type=float, help="ACC to draw as a dashed line in OUT/acc-vs-time.png")
    args = parser.parse_args()

    data = seed_config(args, args.seeds[0]).data.name
    rows, curves = [], {}
    for seed in args.seeds:
        try:
            figures, evals, wall = run_seed(args, seed)
        except KeyboardInterrupt:
            raise SystemExit(f"stopped during seed {seed}; its last checkpoint is kept: rerun the same command to continue")
        rows.append((seed, figures, wall))
        curves[seed] = [(round(e["time_s"] / 60, 1), round(e["acc"], 3)) for e in evals if "acc" in e]

    print(f"{args.method} on {data}, {date.today()}, {describe()}, seeds {args.seeds}\n")
    print("| seed | ACC | NMI | ARI | mean ACC over sub-heads | epochs | train time (min) | wall (min, this call) |")
    print("|---|---|---|---|---|---|---|---|")
    for seed, f, wall in rows:
        spent = "finished before" if wall is None else f"{wall / 60:.1f}"
        print(f"| {seed} | {f['acc']:.4f} | {f['nmi']:.4f} | {f['ari']:.4f} | {f['acc_mean']:.4f} ± {f['acc_std']:.4f} "
              f"| {f['epoch']} | {f['time_s'] / 60:.1f} | {spent} |")
    for key in ("acc", "nmi", "ari"):
        values = np.array([f[key] for _, f, _ in rows])
        print(f"\n{key.upper()}: mean {values.mean():.4f} ± {values.std():.4f} (min {values.min():.4f})", end="")
    print("\n\nACC against training time (minutes, ACC):")
    for seed, curve in curves.items():
        print(f"- seed {seed}: " + ", ".join(f"{t}→{a}" for t, a in curve))
    picture = Path(args.out) / "acc-vs-time.png"
    plot_acc_over_time(picture, [{"run": f"seed {seed}", "minutes": t, "acc": a} for seed, curve in curves.items()
                                 for t, a in curve], f"{args.method} on {data}", args.target)
    print(f"\npicture: {picture}")


if __name__ == "__main__":
    main()
