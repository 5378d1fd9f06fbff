"""The cost of mining exact k nearest neighbours (issue 29, item 1): wall time and peak memory of
``infoclust.neighbours.nearest_neighbours`` on N rows, and of reading them back from a run's cache.

    python benchmarks/knn_cost.py --data fashion-mnist --k 50 --dims 784 64 --out results/knn-cost

The rows are a dataset's flattened pixels (train and test merged: Fashion-MNIST gives N = 70,000),
and the same rows projected to fewer dimensions by a fixed random matrix (an embedding's size).
Peak memory is the growth of this process's peak resident set over the search (Linux: the peak
is reset before each search through ``/proc/self/clear_refs``), beside the N×N float32 matrix that
a search without chunks would hold. Writes OUT/knn-cost.json
and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from infoclust.data.vectors import dataset_vectors
from infoclust.machine import describe
from infoclust.methods.common import mined_neighbours
from infoclust.neighbours import nearest_neighbours
from infoclust.runs import RunCache, RunDir, atomic_write_text


def rss_mib(field: str) -> float:
    """This process's ``VmRSS`` (now) or ``VmHWM`` (peak since the last reset), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}: this benchmark needs Linux")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS


def measure(rows: torch.Tensor, k: int) -> dict:
    """Seconds and peak-memory growth of one search over ``rows`` (N×D), then of a cache round trip."""
    reset_peak()
    before = rss_mib("VmRSS")
    start = time.perf_counter()
    found = nearest_neighbours(rows, k)
    seconds = time.perf_counter() - start
    grown = rss_mib("VmHWM") - before
    with tempfile.TemporaryDirectory() as folder:
        run = RunDir(Path(folder))
        run.cache_dir.mkdir()
        cache = RunCache(run)
        mined_neighbours(rows, k, cache)  # mined again and written (the first run of a training)
        start = time.perf_counter()
        kept = mined_neighbours(rows, k, cache)  # what a resume does: fingerprint, then read
        cached_s = time.perf_counter() - start
    assert torch.equal(kept, found)
    n = len(rows)
    return {"n": n, "dims": rows.shape[1], "k": k, "seconds": round(seconds, 1), "peak_growth_mib": round(grown),
            "full_matrix_mib": round(n * n * 4 / 2**20), "cached_read_s": round(cached_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--dims", type=int, nargs="+", default=[784, 64],
                        help="embedding sizes: the pixels' own size keeps them, a smaller one projects them")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    x, _ = dataset_vectors(args.data)
    pixels = torch.from_numpy(x)
    rows = []
    for dims in args.dims:
        projection = torch.randn(pixels.shape[1], dims, generator=torch.Generator().manual_seed(0))
        embedding = pixels if dims == pixels.shape[1] else pixels @ projection
        rows.append(measure(embedding, args.k))
        print(json.dumps(rows[-1]), flush=True)
    record = {"machine": describe(), "date": str(date.today()), "data": args.data, "rows": rows}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out) / "knn-cost.json", json.dumps(record, indent=1) + "\n")
    print(f"{record['machine']}, {record['date']}, {args.data}\n")
    print("| N | dimensions | k | search s | peak memory growth MiB | N×N float32 MiB | cached read s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']:,} | {r['dims']} | {r['k']} | {r['seconds']} | {r['peak_growth_mib']} | "
              f"{r['full_matrix_mib']:,} | {r['cached_read_s']} |")


if __name__ == "__main__":
    main()
