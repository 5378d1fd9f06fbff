"""One line naming the machine a benchmark ran on (machines differ between sessions)."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def describe() -> str:
    """E.g. 'AMD EPYC (x86_64, avx2, no avx512), 2 cores, torch 2.13.0+cpu, 2 threads'."""
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
    simd = "avx512" if any(f.startswith("avx512") for f in flags) else "avx2, no avx512" if "avx2" in flags else "no avx2"
    return (f"{model} ({platform.machine()}, {simd}), {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")
