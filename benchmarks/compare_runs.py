"""One table of several methods' finished runs (each a quality.py output folder with sSEED/summary.json):

    python benchmarks/compare_runs.py DCCS=results/dccs-fashion-mnist-cpu \
        IIC=results/iic-fashion-mnist-cpu IMSAT=BENCH_DIR/imsat-fmnist

Prints a markdown row per method: the seeds found, ACC, NMI (arithmetic) and ARI as mean ± std (%)
over them, the training minutes and passes of each run, and the machines the runs reported. Runs
without a summary (unfinished) are left out and named on stderr. ``--picture FILE.png`` draws every
run's evaluation curve (its summary's ``curve``) against training minutes on a logarithmic axis, so
that runs of minutes and of hours (a GPU's and a CPU's) read side by side; ``--target`` adds a
dashed line (e.g. the paper's figure).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infoclust.grid import acc_text
from infoclust.report import plot_acc_over_time


def finished_runs(folder: Path) -> dict[int, dict]:
    """{seed: summary} of every sSEED under ``folder`` that has a summary.json."""
    runs = {}
    for run in sorted(folder.glob("s[0-9]*")):
        summary = run / "summary.json"
        if summary.is_file():
            runs[int(run.name[1:])] = json.loads(summary.read_text())
        else:
            print(f"{run}: no summary.json (unfinished), left out", file=sys.stderr)
    return runs


def table(rows: dict[str, dict[int, dict]]) -> str:
    """Markdown: method | seeds | ACC | NMI | ARI | training minutes a run | passes a run | machines."""
    lines = ["| method | seeds | ACC (%) | NMI (%) | ARI (%) | training min a run | passes a run | machine(s) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, runs in rows.items():
        seeds = sorted(runs)
        figures = [acc_text([runs[s][key] for s in seeds]) for key in ("acc", "nmi", "ari")]
        minutes = " / ".join(f"{runs[s]['time_s'] / 60:.1f}" for s in seeds)
        passes = " / ".join(str(runs[s]["epoch"]) for s in seeds)
        machines = "; ".join(sorted({runs[s].get("machine", "?") for s in seeds}))
        lines.append(f"| {name} | {', '.join(map(str, seeds))} | " + " | ".join(figures)
                     + f" | {minutes} | {passes} | {machines} |")
    return "\n".join(lines)


def curves(rows: dict[str, dict[int, dict]]) -> list[dict]:
    """Every evaluation of every run: {run: "NAME sSEED", minutes, acc}, for plot_acc_over_time."""
    return [{"run": f"{name} s{seed}", "minutes": point["time_s"] / 60, "acc": point["acc"]}
            for name, runs in rows.items() for seed, summary in sorted(runs.items())
            for point in summary.get("curve", []) if "acc" in point and point["time_s"] > 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", nargs="+", metavar="NAME=FOLDER")
    parser.add_argument("--picture", type=Path, help="PNG of every run's ACC against training minutes")
    parser.add_argument("--target", type=float, help="ACC drawn as a dashed line in the picture")
    args = parser.parse_args()
    rows = {}
    for item in args.rows:
        name, sep, folder = item.partition("=")
        if not sep or not Path(folder).is_dir():
            raise SystemExit(f"{item!r}: expected NAME=FOLDER with FOLDER a quality.py output folder")
        rows[name] = finished_runs(Path(folder))
    print(table(rows))
    if args.picture:
        plot_acc_over_time(args.picture, curves(rows), " vs ".join(rows), args.target, log_minutes=True)
        print(f"\npicture: {args.picture}")


if __name__ == "__main__":
    main()
