"""``--nproc N``: N processes of one ``infoclust`` command on this machine, started and watched
here (no torchrun in between), so the user sees rank 0 alone: its progress, its figures and, when
something fails, one error line.

Each process gets torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
MASTER_ADDR, MASTER_PORT on 127.0.0.1); rank 0 keeps this terminal, the others write their stderr
to a temporary file and their stdout nowhere. When a process fails, the others are stopped (they
would wait forever in a collective), and the status is rank 0's; when rank 0 did not fail by
itself, the failing rank's last line is shown instead of a wall of tracebacks.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from .machine import choose_threads

GRACE_S = 3.0  # how long the others may take to end by themselves once one process has failed


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_line(stream) -> str:
    """The last non-empty line a process wrote to ``stream`` (a temporary file), or ""."""
    stream.seek(0)
    lines = [line.strip() for line in stream.read().decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``infoclust argv`` in ``nproc`` processes of one distributed run; the exit status of the
    whole (rank 0's, else the first failure's)."""
    base = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": str(nproc),
            "LOCAL_WORLD_SIZE": str(nproc), "OMP_NUM_THREADS": str(choose_threads(0, nproc))}
    errors = [None] + [tempfile.TemporaryFile() for _ in range(nproc - 1)]
    procs = [subprocess.Popen([sys.executable, "-m", "infoclust", *argv],
                              env={**base, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                              stdout=None if rank == 0 else subprocess.DEVNULL, stderr=errors[rank])
             for rank in range(nproc)]
    try:
        failed = _wait(procs)
    except KeyboardInterrupt:  # the terminal sent SIGINT to every process: let them end as they do
        _stop(procs)
        raise
    finally:
        codes = [p.wait() for p in procs]
    status = codes[0]
    if status <= 0 and failed is not None:  # rank 0 did not fail by itself: say why another did
        line = last_line(errors[failed]) or f"ended with status {codes[failed]}"
        print(line if line.startswith("infoclust: ") else f"infoclust: error: process {failed} of {nproc}: {line}",
              file=sys.stderr)
        status = codes[failed] if codes[failed] > 0 else 1
    for stream in errors[1:]:
        stream.close()
    return status


def _wait(procs: list[subprocess.Popen]) -> int | None:
    """Wait for every process; when one fails, give the others a moment to end by themselves, stop
    those still running and return the failed rank (None when all succeeded)."""
    while True:
        codes = [p.poll() for p in procs]
        failed = next((rank for rank, code in enumerate(codes) if code not in (None, 0)), None)
        if failed is not None:
            deadline = time.monotonic() + GRACE_S
            while time.monotonic() < deadline and any(p.poll() is None for p in procs):
                time.sleep(0.05)
            _stop(procs)
            return failed
        if all(code == 0 for code in codes):
            return None
        time.sleep(0.05)


def _stop(procs: list[subprocess.Popen]) -> None:
    """Ask every process still running to stop, then make sure it has."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
