"""Run folders: ``config.yaml`` (resolved), ``metrics.jsonl``, ``checkpoint/last.pt``, ``report/``.

Every file is written to a temporary name in the same folder and renamed into place, so a run killed
at any moment leaves the previous good version intact. Checkpoints hold only tensors and plain
values and are loaded with ``torch.load(weights_only=True)``: no general unpickling.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from .config import RunConfig, config_from_dict, dump_yaml, read_yaml
from .errors import CheckpointError, ConfigError


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


class RunDir:
    """Paths and I/O of one run folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.config_path = self.root / "config.yaml"
        self.metrics_path = self.root / "metrics.jsonl"
        self.summary_path = self.root / "summary.json"  # written when the run has finished
        self.checkpoint_path = self.root / "checkpoint" / "last.pt"
        self.report_dir = self.root / "report"

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

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def metrics_size(self) -> int:
        return self.metrics_path.stat().st_size if self.metrics_path.exists() else 0

    def truncate_metrics(self, size: int) -> None:
        """Drop lines logged after the checkpoint we resume from."""
        if self.metrics_path.exists():
            with open(self.metrics_path, "r+") as fh:
                fh.truncate(size)

    def read_metrics(self) -> list[dict]:
        if not self.metrics_path.exists():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a kill mid-write
        return records

    def save_checkpoint(self, state: dict) -> None:
        atomic_write(self.checkpoint_path, lambda tmp: torch.save(state, tmp))

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    def load_checkpoint(self, map_location: str | torch.device = "cpu") -> dict:
        if not self.checkpoint_path.is_file():
            raise CheckpointError(f"run folder '{self.root}' has no checkpoint ({self.checkpoint_path} is missing)")
        try:
            return torch.load(self.checkpoint_path, map_location=map_location, weights_only=True)
        except Exception as exc:  # torch raises several kinds for corrupt or foreign files
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CheckpointError(f"checkpoint '{self.checkpoint_path}' cannot be loaded safely: {reason[:200]}") from None
