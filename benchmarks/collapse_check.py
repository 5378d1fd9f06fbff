"""Replay the collapse detector over logged runs: it must fire on the collapsed ones only.

    python benchmarks/collapse_check.py results          # every run folder with a log

For each run folder with a ``metrics.jsonl`` (the per-step logs stay out of git: this checks the
runs on the machine that trained them), the detector of ``infoclust.collapse`` is applied at every
logged evaluation exactly as the engine applies it during training (cluster sizes of that
evaluation, its mean confidence where the log has it, mean loss of the last log windows before
it). Prints one line per run where it fires
and a count of the rest, with each run's final ACC and largest-cluster share for comparison.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from infoclust.collapse import WINDOWS, collapse_reason, largest_share
from infoclust.runs import RunDir


def first_collapse(run: RunDir) -> tuple[int, str] | None:
    """(step, reason) of the first evaluation the detector fires on, or None."""
    losses: list[float] = []
    for record in run.read_metrics():
        if record.get("kind") == "train" and record.get("loss") is not None:
            losses = [*losses, record["loss"]][-WINDOWS:]
        elif record.get("kind") == "eval":
            reason = collapse_reason(record["cluster_sizes"], losses, record.get("mean_confidence"))
            if reason:
                return record["step"], reason
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", nargs="+", help="folders searched for run folders")
    args = parser.parse_args()
    runs = sorted({p.parent for root in args.roots for p in Path(root).rglob("metrics.jsonl")})
    fired, silent = [], []
    for folder in runs:
        summary = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").is_file() else {}
        figures = f"ACC {summary.get('acc', float('nan')):.3f}, largest cluster {largest_share(summary.get('cluster_sizes', [0])):.0%}"
        found = first_collapse(RunDir(folder))
        (fired if found else silent).append((folder, found, figures))
    print(f"{len(runs)} logged runs; the detector fires on {len(fired)}:")
    for folder, (step, reason), figures in fired:
        print(f"  {folder}: step {step}: {reason} (final {figures})")
    healthy = [f for _, _, f in silent]
    top = max((float(f.split("largest cluster ")[1].rstrip("%")) for f in healthy), default=0)
    print(f"silent on the other {len(silent)} (their final largest cluster holds at most {top:.0f}% of the samples)")


if __name__ == "__main__":
    main()
