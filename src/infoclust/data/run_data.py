"""The data of a run: its training and evaluation splits from the config, and ``data.json`` (the
resolved path and fingerprints) that ties a run folder to the very samples it was trained on."""
from __future__ import annotations

from pathlib import Path

from ..config import RunConfig
from ..errors import DataError
from .dataset import Dataset
from .registry import dataset_path, load_dataset


def load_data(cfg: RunConfig, progress: bool = True, record: dict | None = None,
              run_root: Path | None = None, eval_split: str | None = None) -> tuple[Dataset, Dataset | None]:
    """The training split and, when ``data.eval_split`` (or ``eval_split``, which overrides it)
    names another one, the evaluation split. ``record``: a run's ``data.json``; the data are then
    read from the path it resolved (whatever the working directory) and must match its
    fingerprints (an overriding evaluation split has none to match)."""
    d = cfg.data
    name = data_source(cfg, record)
    wanted = d.eval_split if eval_split is None else eval_split
    train_data = load_dataset(name, split=d.split, root=d.root, progress=progress)
    eval_data = None
    if wanted is not None and wanted != d.split:
        eval_data = load_dataset(name, split=wanted, root=d.root, progress=progress)
    if record:
        _check_fingerprint(record.get("train"), train_data, "train", name, run_root)
        if eval_split is None:
            _check_fingerprint(record.get("eval"), eval_data, "eval", name, run_root)
    return train_data, eval_data


def data_source(cfg: RunConfig, record: dict | None) -> str:
    """What to load a run's data from: the path its ``data.json`` resolved when it still exists,
    else the configured name (whatever the working directory)."""
    if record and record.get("path") and Path(record["path"]).exists():
        return record["path"]
    return cfg.data.name


def data_record(cfg: RunConfig, train_data: Dataset, eval_data: Dataset | None) -> dict:
    """``data.json`` of a run: the data's name, its resolved path (None for a named dataset) and
    the fingerprints (count, shape, SHA-256) of the training and evaluation samples."""
    return {"name": cfg.data.name, "path": dataset_path(cfg.data.name),
            "train": train_data.fingerprint(), "eval": None if eval_data is None else eval_data.fingerprint()}


def _check_fingerprint(want: dict | None, data: Dataset | None, which: str, source: str, run_root: Path | None) -> None:
    if want is None or data is None:
        return
    have = data.fingerprint()
    if have != want:
        def describe_data(fp: dict) -> str:
            return f"{fp['count']} samples of shape {tuple(fp['shape'])}, sha256 {fp['sha256'][:12]}"

        raise DataError(f"the {which} data '{source}' ({describe_data(have)}) are not those run '{run_root}' was "
                        f"trained on ({describe_data(want)}): expected the same data; restore them or start a new run")
