"""Trainings that share a machine: each one's wall and CPU time alone and when N run at once.

    python benchmarks/shared_machine.py --jobs 2 --threads 0 1 -- --data digits --set train.epochs=10

Everything after ``--`` is passed to ``infoclust train`` (each job gets its own ``--out`` under a
temporary folder and ``--quiet``). For each ``--threads`` value T (``train.threads``; 0 = automatic,
the CPUs the process may use) it runs the command once alone, then ``--jobs`` copies at once, and
prints one markdown row per run: wall seconds, CPU seconds (user + system, from the kernel's
accounting of that process) and the ratio to the lone run. ``--src DIR`` times another version of
infoclust (e.g. a ``git worktree`` of an older commit): the jobs run ``python -m infoclust`` with
``DIR`` first on their ``PYTHONPATH``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ENVIRONMENT = dict(os.environ)  # before infoclust's import sets OMP_WAIT_POLICY: each job decides for itself

from infoclust.machine import available_cpus, describe  # noqa: E402


def start(args: list[str], out: Path, threads: int, src: str | None) -> subprocess.Popen:
    setting = ["--set", f"train.threads={threads}"] if threads else []  # 0: the default, so older versions run too
    cmd = [sys.executable, "-m", "infoclust", "train", *args, "--quiet", "--out", str(out), *setting]
    env = {**ENVIRONMENT, "PYTHONPATH": os.pathsep.join(filter(None, [src, ENVIRONMENT.get("PYTHONPATH")]))}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def wait_all(procs: list[subprocess.Popen], t0: float) -> list[dict]:
    """Wall and CPU seconds of each process (``os.wait4`` gives the rusage of that one child)."""
    done: dict[int, dict] = {}
    while len(done) < len(procs):
        pid, status, usage = os.wait4(-1, 0)
        done[pid] = {"wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                     "ok": os.waitstatus_to_exitcode(status) == 0}
    for p in procs:
        p.returncode = 0 if done[p.pid]["ok"] else 1
        if not done[p.pid]["ok"]:
            sys.exit(f"a training failed: {p.stderr.read()[-2000:]}")
    return [done[p.pid] for p in procs]


def run_batch(args: list[str], n: int, threads: int, folder: Path, src: str | None) -> list[dict]:
    t0 = time.perf_counter()
    procs = [start(args, Path(tempfile.mkdtemp(dir=folder)) / "run", threads, src) for _ in range(n)]
    return wait_all(procs, t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--src", help="the src folder of another infoclust version to time")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("train_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    train_args = [a for a in args.train_args if a != "--"]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in args.threads:
            alone = run_batch(train_args, 1, threads, Path(tmp), args.src)[0]
            rows.append({"threads": threads, "jobs": 1, "job": 0, **alone, "wall_vs_alone": 1.0})
            for i, r in enumerate(run_batch(train_args, args.jobs, threads, Path(tmp), args.src)):
                rows.append({"threads": threads, "jobs": args.jobs, "job": i, **r,
                             "wall_vs_alone": round(r["wall_s"] / alone["wall_s"], 2)})
    if args.json:
        print(json.dumps({"machine": describe(), "usable_cpus": available_cpus(), "rows": rows}))
        return
    version = f" (infoclust from {args.src})" if args.src else ""
    print(f"`infoclust train {' '.join(train_args)}`{version}, {date.today()}, {describe()}, usable CPUs {available_cpus()}\n")
    print("| train.threads | at once | job | wall (s) | CPU (s) | wall / alone |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['threads'] or 'auto'} | {r['jobs']} | {r['job']} | {r['wall_s']} | {r['cpu_s']} | {r['wall_vs_alone']} |")


if __name__ == "__main__":
    main()
