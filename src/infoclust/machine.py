"""One line naming the machine a run or benchmark used: budgets in minutes mean little without it."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> tuple[str, set[str]]:
    """(CPU model name, its feature flags) from /proc/cpuinfo, or the platform's name and no flags."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
            if model and flags:
                break
    return model, flags


def describe(device: torch.device | str = "cpu") -> str:
    """E.g. 'AMD EPYC (x86_64, avx512), 2 cores, torch 2.13.0+cpu, 2 threads', or the GPU's name
    first when ``device`` is a CUDA device."""
    model, flags = cpu_model()
    simd = "avx512" if any(f.startswith("avx512") for f in flags) else "avx2, no avx512" if "avx2" in flags else "no avx2"
    line = (f"{model} ({platform.machine()}, {simd}), {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")
    device = torch.device(device)
    if device.type == "cuda":
        line = f"{torch.cuda.get_device_name(device)}; host {line}"
    return line


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


def choose_threads(requested: int, processes_here: int = 1) -> int:
    """``train.threads``: a positive value as it is; 0 = the usable CPUs shared among this machine's
    processes of one run (at least 1 each)."""
    return requested if requested > 0 else max(1, available_cpus() // max(1, processes_here))
