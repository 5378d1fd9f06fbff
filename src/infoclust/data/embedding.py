"""An embedding folder (``infoclust embed --out EMB_DIR``): the features of every image under one
encoder, in row chunks, read back as N×D float32 vectors.

Layout: ``embedding.json`` (the encoder's name, revision, preprocessing and feature size, the
data's source and fingerprint, N, the rows per chunk, ``complete``), ``ids.txt`` (one item name
a line: a folder's relative file paths), ``labels.npy`` when the data have labels (class
sub-folders; used only to score), ``chunks/NNNNNN.npy`` (rows c·R .. (c+1)·R − 1, float32).
The photos of an embedded folder are shown (``Dataset.pictures``) while that folder is where
``embedding.json`` says (``data.folder``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset
from .thumbnails import PhotoThumbnails

META = "embedding.json"
IDS = "ids.txt"
LABELS = "labels.npy"
CHUNKS = "chunks"


def is_embedding_folder(path: str | Path) -> bool:
    return (Path(path) / META).is_file()


def chunk_path(folder: Path, index: int) -> Path:
    return folder / CHUNKS / f"{index:06d}.npy"


def read_meta(folder: str | Path) -> dict:
    path = Path(folder) / META
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"cannot read '{path}': {getattr(error, 'msg', None) or error}; expected the embedding's "
                        "record written by 'infoclust embed'") from None


def chunk_ranges(n: int, rows: int) -> list[range]:
    """The rows of each chunk: 0..rows−1, rows..2·rows−1, …, the last one shorter."""
    return [range(start, min(start + rows, n)) for start in range(0, n, rows)]


def read_chunk(folder: Path, index: int, rows: int, dim: int) -> np.ndarray | None:
    """Chunk ``index`` as rows×dim float32, or None when it is missing or not what it should be."""
    path = chunk_path(folder, index)
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return values if values.dtype == np.float32 and values.shape == (rows, dim) else None


def read_embedding(folder: str | Path) -> Dataset:
    """A finished embedding folder as a Dataset of N×D float32 vectors (labels when it has them)."""
    folder = Path(folder)
    meta = read_meta(folder)
    if not meta.get("complete"):
        raise DataError(f"the embedding in '{folder}' is not finished: run the same 'infoclust embed' command again "
                        "to complete it")
    n, dim = meta["n"], meta["dim"]
    vectors = np.empty((n, dim), dtype=np.float32)
    for index, rows in enumerate(chunk_ranges(n, meta["chunk_rows"])):
        chunk = read_chunk(folder, index, len(rows), dim)
        if chunk is None:
            raise DataError(f"'{chunk_path(folder, index)}' is missing or damaged; expected {len(rows)}×{dim} "
                            "float32 features: embed again into a new folder")
        vectors[rows.start:rows.stop] = chunk
    ids = (folder / IDS).read_text().splitlines()
    labels = np.load(folder / LABELS) if (folder / LABELS).is_file() else None
    photos = meta["data"].get("folder")
    pictures = PhotoThumbnails(photos, ids) if photos and Path(photos).is_dir() else None
    return Dataset(vectors, labels, ids, name=meta["data"]["name"], class_names=meta["data"].get("class_names"),
                   pictures=pictures)
