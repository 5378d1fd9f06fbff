"""The Python API and the CLI give the same ACC on the digits for the same seed.

    python benchmarks/api_vs_cli.py --seeds 0 1 2 --out bench-runs/api-vs-cli

For each seed: ``infoclust.IIC(n_clusters=10, random_state=S).fit_predict(load_digits().images / 16)``
(the README's Python example) and ``infoclust train --data digits --seed S`` (the README's first
command), each scored against the digits' labels. Prints a markdown table, one row per seed.
``--set KEY=VALUE`` is passed to both (for a quick check of the script).
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


def api_acc(seed: int, sets: list[str]) -> tuple[float, float]:
    """ACC of the README's Python example and its wall time in seconds."""
    digits = load_digits()
    config = {key.replace(".", "__"): _value(value) for key, value in (item.split("=", 1) for item in sets)}
    start = time.perf_counter()
    labels = infoclust.IIC(n_clusters=10, random_state=seed, config=config or None).fit_predict(digits.images / 16.0)
    return cluster_acc(labels, digits.target, 10), time.perf_counter() - start


def cli_acc(seed: int, sets: list[str], out: Path) -> tuple[float, float]:
    """ACC of ``infoclust train --data digits --seed S`` and its wall time in seconds."""
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "infoclust", "train", "--data", "digits", "--seed", str(seed), "--out", str(out),
           "--quiet", *[arg for item in sets for arg in ("--set", item)]]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return json.loads((out / "summary.json").read_text())["acc"], seconds


def _value(text: str):
    import yaml

    return yaml.safe_load(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="bench-runs/api-vs-cli", help="folder of the CLI runs (must not hold them yet)")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    print(f"machine: {describe()}; {date.today()}")
    print("| seed | ACC, Python API | ACC, CLI | API s | CLI s |")
    print("|---|---|---|---|---|")
    for seed in args.seeds:
        api, api_s = api_acc(seed, args.set)
        cli, cli_s = cli_acc(seed, args.set, Path(args.out) / f"s{seed}")
        print(f"| {seed} | {api:.4f} | {cli:.4f} | {api_s:.0f} | {cli_s:.0f} |", flush=True)


if __name__ == "__main__":
    main()
