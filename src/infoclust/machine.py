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
