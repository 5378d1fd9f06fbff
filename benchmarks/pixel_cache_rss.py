"""Reading an on-disk uint8 pixel cache batch by batch: peak resident set of a memory map against
positioned reads (the choice behind ``infoclust.data.pixel_cache``, issue 30 item 2).

    python benchmarks/pixel_cache_rss.py --n 30000 --shape 3 96 96 --out results/photo-folder

Writes an N-row raw file (random bytes) to a temporary folder, then in a fresh process per reader
reads one epoch of random batches of --batch rows (a fixed permutation) and reports that process's
peak resident set (``ru_maxrss``) and the seconds. The readers: ``mmap`` (``numpy.memmap``, rows
gathered by fancy indexing), ``pread`` (``DiskImages``: one ``os.preadv`` per row or run of rows).
Writes OUT/pixel-cache-rss.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

READERS = ("mmap", "pread")


def read_epoch(reader: str, path: Path, shape: tuple[int, ...], batch: int) -> dict:
    """One epoch of random batches through ``reader``; this process's peak RSS (MiB) and seconds."""
    from infoclust.data.pixel_cache import DiskImages

    images = np.memmap(path, dtype=np.uint8, mode="r", shape=shape) if reader == "mmap" else \
        DiskImages(path, shape, {})
    order = np.random.default_rng(0).permutation(shape[0])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, total = time.perf_counter(), 0
    for first in range(0, len(order), batch):
        rows = np.asarray(images[order[first:first + batch]])
        total += int(rows[:, 0, 0, 0].sum())  # touch what was read
    return {"reader": reader, "seconds": time.perf_counter() - start, "peak_rss_mib": 
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_before_mib": before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30000)
    parser.add_argument("--shape", type=int, nargs=3, default=[3, 96, 96])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # (reader, file): one measurement
    args = parser.parse_args()
    shape = (args.n, *args.shape)
    if args.child:
        print(json.dumps(read_epoch(args.child[0], Path(args.child[1]), shape, args.batch)))
        return
    rows = []
    with tempfile.TemporaryDirectory(dir=args.out.parent if args.out.parent.exists() else None) as folder:
        path = Path(folder) / "pixels.u8"
        rng = np.random.default_rng(0)
        with open(path, "wb") as out:
            for first in range(0, args.n, 1000):
                out.write(rng.integers(0, 256, (min(1000, args.n - first), *args.shape), dtype=np.uint8).tobytes())
        for reader in READERS:
            command = [sys.executable, __file__, "--n", str(args.n), "--shape", *map(str, args.shape),
                       "--batch", str(args.batch), "--out", str(args.out), "--child", reader, str(path)]
            rows.append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
    file_mib = args.n * int(np.prod(args.shape)) / 2**20
    record = {"date": date.today().isoformat(), "n": args.n, "shape": args.shape, "batch": args.batch,
              "file_mib": round(file_mib, 1), "readers": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pixel-cache-rss.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"| reader | peak RSS (MiB) | one epoch (s) |  file: {file_mib:,.0f} MiB, batches of {args.batch}\n|---|---|---|")
    for row in rows:
        print(f"| {row['reader']} | {row['peak_rss_mib']:,.0f} | {row['seconds']:.1f} |")


if __name__ == "__main__":
    main()
