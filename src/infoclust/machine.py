"""The machine a run uses: its device (CPU or which GPU), determinism, CPU threads, and one line
naming it (budgets in minutes mean little without it)."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from .cpus import available_cpus
from .distributed import DistContext
from .errors import ConfigError


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


def choose_threads(requested: int, processes_here: int = 1) -> int:
    """``train.threads``: a positive value as it is; 0 = the usable CPUs shared among this machine's
    processes of one run (at least 1 each)."""
    return requested if requested > 0 else max(1, available_cpus() // max(1, processes_here))


def select_device(name: str, dist: DistContext = DistContext()) -> torch.device:
    """``"auto"`` → this process's own GPU (cuda:local_rank) when there is one GPU per process of
    this machine, else CPU (a GPU cannot be shared by two processes of one NCCL group); otherwise the
    named device, which must exist."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if name == "auto":
        name = f"cuda:{dist.local_rank}" if gpus >= dist.local_world_size else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device = '{name}': expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not gpus:
        raise ConfigError(f"train.device = '{name}' but CUDA is not available here: use auto or cpu")
    if device.type == "cuda" and dist.local_world_size > gpus:
        raise ConfigError(f"train.device = '{name}' with {dist.local_world_size} processes on this machine but "
                          f"{gpus} GPU(s): expected one GPU per process (fewer processes, or train.device=cpu)")
    if device.type == "cuda" and device.index is None and dist.local_world_size > 1:
        device = torch.device("cuda", dist.local_rank)  # "cuda": each process its own GPU
    return device


def resolve_determinism(setting: bool | None, device: torch.device) -> bool:
    """``train.deterministic`` as a run uses it: unset = on, on every device (free on the CPU; 6 % of
    IIC's step on an H100 with the step replayed as a CUDA graph, docs/RESULTS.md)."""
    return True if setting is None else setting


def configure_determinism(on: bool) -> None:
    """Deterministic kernels (and cuBLAS's fixed workspace) when ``on``: same seed, same numbers on
    CUDA as on CPU; off lets cuDNN pick the fastest, possibly nondeterministic, algorithms."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(on)
    # deterministic mode would also fill every new tensor with NaN (one kernel per allocation, a
    # third of the launches of a small GPU step): a debugging aid, not needed for equal numbers
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.deterministic = on
    torch.backends.cudnn.benchmark = not on
