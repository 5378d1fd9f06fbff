"""How many CPUs this process may use, and how many of them decode images (no torch here: the
data readers use it too)."""
from __future__ import annotations

import os
from pathlib import Path

MAX_DECODERS = 4


def _cgroup_cpu_limit() -> float | None:
    """CPUs granted by the cgroup quota (v2 ``cpu.max`` or v1 ``cfs_quota_us``), None when unlimited."""
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.is_file():
            quota, period = (v2.read_text().split() + ["100000"])[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        if v1.is_file():
            quota = int(v1.read_text())
            return None if quota <= 0 else quota / int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None


def available_cpus() -> int:
    """CPUs this process may actually use: its affinity mask (``taskset``), capped by a cgroup quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    if quota is not None:
        cpus = min(cpus, max(1, int(quota)))
    return max(1, cpus)


def decoding_workers(requested: int | None = None) -> int:
    """Processes that decode images beside the main one: ``requested`` when given, else one fewer
    than the usable CPUs, at most ``MAX_DECODERS`` (0 on one CPU: decode in the main process)."""
    return requested if requested is not None else max(0, min(MAX_DECODERS, available_cpus() - 1))
