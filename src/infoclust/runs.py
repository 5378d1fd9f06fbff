"""Run folders: ``config.yaml`` (resolved), ``data.json`` (what was trained on), ``metrics.jsonl``,
``checkpoint/last.safetensors``, ``summary.json``, ``report/``, and ``.lock`` while a process writes it.

Every file is written to a temporary name in the same folder, flushed to disk and renamed into
place, so a run killed at any moment, or a disk that fills up, leaves the previous good version
intact. One process at a time may write a run folder (``RunDir.lock``, an advisory ``flock`` that
the kernel drops when its process dies, so a killed run's ``.lock`` is taken over; a run that ends
removes it). Checkpoints are
safetensors files with their plain values as JSON (``checkpoint_file``): nothing is unpickled.
Reading a run (evaluate, predict, report) never writes to it.
"""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from .checkpoint_file import decode, encode
from .config import RunConfig, dump_yaml, read_yaml
from .errors import CheckpointError, ConfigError, RunFolderError
from .methods import config_from_dict


_UMASK = os.umask(0)
os.umask(_UMASK)


def write_failure(error: OSError, path: Path, size: int | None = None) -> RunFolderError:
    """One line for a failed write of ``path`` (``size`` bytes): what the disk said, where, and
    that the previous version is intact."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        need = f"; {size / 2**20:.1f} MiB needed" if size else ""
        kept = "the previous version of the file is intact" if path.exists() else "no part of it was left"
        return RunFolderError(f"no space left on the device while writing '{path}'{need}: "
                              f"free some space and continue with --resume; {kept}")
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return RunFolderError(f"cannot write '{path}': {error.strerror.lower()}; expected a writable folder")
    if error.errno == errno.ENOTDIR:
        return RunFolderError(f"cannot write '{path}': a part of that path is a file; expected folders")
    return RunFolderError(f"cannot write '{path}': {error.strerror or error}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it to
    ``path``: readers see the old file or the new one, never a part. An OSError (disk full,
    read-only folder) becomes a ``RunFolderError`` naming the path; the old file stays."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except OSError as error:
        raise write_failure(error, path, len(data)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _is_pickle_or_zip(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a pickle (protocol byte) or a zip (torch's format)."""
    return head[:1] == b"\x80" or head[:2] == b"PK"


def json_safe(value: Any) -> Any:
    """``value`` with every NaN / ±inf float replaced by None, so ``json.dumps`` writes valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def _append_line(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path``, waiting for any other appender to finish its
    line (an advisory ``flock`` of the file itself, released on close)."""
    try:
        with open(path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(json.dumps(json_safe(record)) + "\n")
    except OSError as error:
        raise write_failure(error, path) from None


def _read_lines(path: Path) -> list[dict]:
    """The JSON records of ``path``, one a line ([] when it does not exist)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill mid-write
    return records


class RunDir:
    """Paths and I/O of one run folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.config_path = self.root / "config.yaml"
        self.metrics_path = self.root / "metrics.jsonl"
        self.summary_path = self.root / "summary.json"  # written when the run has finished
        self.data_path = self.root / "data.json"  # what the run trains on: resolved path and fingerprints
        self.probes_path = self.root / "probes.jsonl"  # one line per 'infoclust probe' of the trained network
        self.checkpoint_path = self.root / "checkpoint" / "last.safetensors"
        self.legacy_checkpoint_path = self.root / "checkpoint" / "last.pt"  # earlier versions' pickle-based file
        self.report_dir = self.root / "report"
        self.cache_dir = self.root / "cache"  # what a method computed from the data (``RunCache``)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run folder for writing (creating it if needed); a second writer gets a
        ``RunFolderError`` naming the process that holds it. ``.lock`` exists while a process holds
        it and is removed when the holder ends; a killed holder's file stays, but its ``flock`` dies
        with the process, so the next writer takes the folder over."""
        path = self.root / ".lock"
        fh = self._take_lock(path)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"process {os.getpid()} on {os.uname().nodename}\n")
            fh.flush()
            yield
        finally:
            path.unlink(missing_ok=True)  # still held: no other process can hold this file now
            fh.close()

    def _take_lock(self, path: Path):
        """The open, ``flock``-ed ``.lock`` file; retried when the file was removed (by a holder that
        ended) between opening it and locking it, so two writers never hold two files."""
        while True:
            try:
                if self.root.exists() and not self.root.is_dir():
                    raise RunFolderError(f"'{self.root}' is a file; expected a run folder (new or made by 'infoclust train')")
                self.root.mkdir(parents=True, exist_ok=True)
                fh = open(path, "a+")
            except OSError as error:
                raise write_failure(error, path) from None
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                fh.close()
                raise RunFolderError(f"run folder '{self.root}' is being written by {holder}: "
                                     "wait for it to end, or choose another --out") from None
            try:
                if os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino:
                    return fh
            except FileNotFoundError:
                pass
            fh.close()

    @contextmanager
    def writing(self, is_main: bool, new: bool) -> Iterator[None]:
        """Hold the folder for writing (the main process alone); a new run that fails before its
        config is written leaves nothing behind (no orphan folder)."""
        if not is_main:
            yield
            return
        created_root = new and not self.root.exists()
        with self.lock():
            try:
                yield
            except BaseException:
                if created_root and not self.config_path.exists():
                    shutil.rmtree(self.root, ignore_errors=True)
                raise

    @classmethod
    def existing(cls, root: str | Path) -> "RunDir":
        """Open a run folder made by ``infoclust train``; anything else is a CheckpointError."""
        run = cls(root)
        if not run.root.is_dir():
            raise CheckpointError(f"run folder '{run.root}' does not exist")
        if not run.config_path.is_file():
            raise CheckpointError(f"'{run.root}' is not an infoclust run folder (no config.yaml); expected the --out folder of 'infoclust train'")
        return run

    def write_config(self, cfg: RunConfig) -> None:
        atomic_write_text(self.config_path, dump_yaml(cfg))

    def read_config(self) -> RunConfig:
        try:
            return config_from_dict(read_yaml(self.config_path))
        except ConfigError as exc:
            raise CheckpointError(f"run folder '{self.root}' has a bad config.yaml: {exc}") from None

    def write_data_record(self, record: dict) -> None:
        atomic_write_text(self.data_path, json.dumps(record, indent=2))

    def read_data_record(self) -> dict | None:
        """The run's ``data.json``, or None for a run made before infoclust recorded it."""
        if not self.data_path.is_file():
            return None
        try:
            return json.loads(self.data_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"'{self.data_path}' cannot be read ({exc}); expected the JSON infoclust wrote") from None

    def append_metrics(self, record: dict[str, Any]) -> None:
        _append_line(self.metrics_path, record)

    def append_probe(self, record: dict[str, Any]) -> None:
        """Add one probe result (``infoclust probe``) to ``probes.jsonl``."""
        _append_line(self.probes_path, record)

    def metrics_size(self) -> int:
        return self.metrics_path.stat().st_size if self.metrics_path.exists() else 0

    def truncate_metrics(self, size: int) -> None:
        """Drop lines logged after the checkpoint we resume from. A log already shorter than
        ``size`` (cut outside infoclust) is kept as it is, never padded, with a warning."""
        have = self.metrics_size()
        if have > size:
            with open(self.metrics_path, "r+") as fh:
                fh.truncate(size)
        elif have < size:
            warnings.warn(f"'{self.metrics_path}' holds {have} bytes but the checkpoint recorded {size}: "
                          "lines logged before the checkpoint are missing; new lines are appended after what is left",
                          stacklevel=2)

    def read_metrics(self) -> list[dict]:
        return _read_lines(self.metrics_path)

    def read_probes(self) -> list[dict]:
        return _read_lines(self.probes_path)

    def save_checkpoint(self, state: dict) -> None:
        """Serialise in memory first, so a full disk is an OSError of our own write."""
        atomic_write_bytes(self.checkpoint_path, encode(state))

    def has_checkpoint(self) -> bool:
        if not self.checkpoint_path.is_file() and self.legacy_checkpoint_path.is_file():
            raise CheckpointError(f"checkpoint '{self.legacy_checkpoint_path}' was written by an earlier infoclust as a "
                                  "pickle-based torch file, which this version never loads: train the run again")
        return self.checkpoint_path.is_file()

    def load_checkpoint(self, map_location: str | torch.device = "cpu") -> dict:
        if not self.has_checkpoint():
            raise CheckpointError(f"run folder '{self.root}' has no checkpoint ({self.checkpoint_path} is missing)")
        data = self.checkpoint_path.read_bytes()
        try:
            return decode(data, str(self.checkpoint_path), map_location)
        except CheckpointError:
            if not _is_pickle_or_zip(data[:2]):  # only once it is not one: a header length may begin with these bytes
                raise
        raise CheckpointError(f"checkpoint '{self.checkpoint_path}' is refused as unsafe: it is a pickle-based "
                              "file, which infoclust never loads")


class RunCache:
    """A run folder's ``cache/``: a method's precomputed tensors (``methods.base.PrepareCache``),
    one safetensors file per name; only the writing process (rank 0) saves."""

    def __init__(self, run: RunDir, writes: bool = True):
        self.root, self.writes = run.cache_dir, writes

    def _path(self, name: str) -> Path:
        return self.root / f"{name}.safetensors"

    def load(self, name: str) -> dict[str, torch.Tensor] | None:
        path = self._path(name)
        if not path.is_file():
            return None
        try:
            return decode(path.read_bytes(), str(path))
        except CheckpointError:
            return None  # unreadable: computed again and written anew

    def save(self, name: str, tensors: dict[str, torch.Tensor]) -> None:
        if self.writes:
            atomic_write_bytes(self._path(name), encode(tensors))
