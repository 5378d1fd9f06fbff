"""The Python API and the CLI give the same ACC on the digits for the same seed.

    python benchmarks/api_vs_cli.py --seeds 0 1 2 --out bench-runs/api-vs-cli
    python benchmarks/api_vs_cli.py --method temi --input vectors --seeds 0 1 2 --out bench-runs/temi-digits

For each seed: the method's estimator, e.g. ``infoclust.IIC(n_clusters=10,
random_state=S).fit_predict(load_digits().images / 16)`` (the README's Python example; ``--input
vectors``: ``load_digits().data``, N×64) and ``infoclust train --method M --data digits --seed S``
(the README's first command), each scored against the digits' labels, with its wall time. Prints a
markdown table, one row per seed, and the means. ``--set KEY=VALUE`` is passed to both.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from sklearn.datasets import load_digits

import infoclust
from infoclust.evaluation import cluster_acc
from infoclust.machine import describe
from infoclust.methods import METHODS


def api_acc(method: str, vectors: bool, seed: int, sets: list[str]) -> tuple[float, float]:
    """ACC of the method's estimator on the digits (images in [0, 1], or the N×64 vectors) and its
    wall time in seconds."""
    digits = load_digits()
    config = {key.replace(".", "__"): _value(value) for key, value in (item.split("=", 1) for item in sets)}
    estimator = getattr(infoclust, METHODS[method].estimator)
    start = time.perf_counter()
    X = digits.data if vectors else digits.images / 16.0
    labels = estimator(n_clusters=10, random_state=seed, config=config or None).fit_predict(X)
    return cluster_acc(labels, digits.target, 10), time.perf_counter() - start


def cli_acc(method: str, seed: int, sets: list[str], out: Path) -> tuple[float, float]:
    """ACC of ``infoclust train --method M --data digits --seed S`` and its wall time in seconds."""
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "infoclust", "train", "--method", method, "--data", "digits", "--seed", str(seed),
           "--out", str(out), "--quiet", *[arg for item in sets for arg in ("--set", item)]]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return json.loads((out / "summary.json").read_text())["acc"], seconds


def _value(text: str):
    import yaml

    return yaml.safe_load(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="iic", help="a registered method with an estimator")
    parser.add_argument("--input", choices=["images", "vectors"], default="images",
                        help="what the estimator is given: the digits' 8×8 images or their 64-d rows")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="bench-runs/api-vs-cli", help="folder of the CLI runs (must not hold them yet)")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    print(f"{args.method}, estimator on {args.input}; machine: {describe()}; {date.today()}")
    print("| seed | ACC, Python API | ACC, CLI | API s | CLI s |")
    print("|---|---|---|---|---|")
    rows = []
    for seed in args.seeds:
        api, api_s = api_acc(args.method, args.input == "vectors", seed, args.set)
        cli, cli_s = cli_acc(args.method, seed, args.set, Path(args.out) / f"s{seed}")
        rows.append((api, cli))
        print(f"| {seed} | {api:.4f} | {cli:.4f} | {api_s:.0f} | {cli_s:.0f} |", flush=True)
    api_mean, cli_mean = (sum(column) / len(rows) for column in zip(*rows))
    print(f"| mean | {api_mean:.4f} | {cli_mean:.4f} | | |")


if __name__ == "__main__":
    main()
