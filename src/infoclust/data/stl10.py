"""STL-10 from the official binary archive ``stl10_binary.tar.gz``.

``<part>_X.bin`` holds N images of 3 x 96 x 96 bytes, each channel a 96 x 96 plane stored
column-major (Fortran order, as written by MATLAB): read as (N, 3, 96, 96), the last two axes are
(column, row) and get swapped. ``<part>_y.bin`` holds one byte per image, the class 1..10
(0..9 here). Parts: train (5,000 labelled), test (8,000 labelled), unlabeled (100,000, no labels).

Splits: "all" = train then test (13,000, the clustering papers' protocol), "train", "test",
"unlabeled" and "train+unlabeled" (train then unlabeled). A Dataset has labels for every item or
none, so splits including unlabeled images have ``labels`` None (class names are still set).
Files are looked up as described in ``sources``: an extracted ``stl10_binary`` folder or the
archive, in ``root``, ``root/stl10`` or the cache folder, else the archive (2.6 GB) is downloaded
there (INFOCLUST_MIRROR_STL10 overrides the mirror). Reading from the archive decompresses it up
to the last member needed; extract it once in place for faster loading.
"""

from __future__ import annotations

from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError
from .archive import locate_bundle, read_lines, read_records
from .dataset import Dataset

ARCHIVE = "stl10_binary.tar.gz"
INNER = "stl10_binary"
NAMES_FILE = "class_names.txt"
SHAPE = (3, 96, 96)
IMAGE_BYTES = 3 * 96 * 96
N_CLASSES = 10

FILES = {  # part -> (images file, labels file or None)
    "train": ("train_X.bin", "train_y.bin"),
    "test": ("test_X.bin", "test_y.bin"),
    "unlabeled": ("unlabeled_X.bin", None),
}
COUNTS = {"train": 5_000, "test": 8_000, "unlabeled": 100_000}  # images in each official part
PARTS = {
    "all": ("train", "test"),
    "train": ("train",),
    "test": ("test",),
    "unlabeled": ("unlabeled",),
    "train+unlabeled": ("train", "unlabeled"),
}
SPLITS = tuple(PARTS)


def _read_images(handle: BinaryIO, size: int, source: str, *, out: np.ndarray) -> None:
    """Read an ``_X.bin`` file into ``out`` (n, 3, 96, 96), turning its column-major planes row-major."""

    def store(start: int, records: np.ndarray) -> None:
        out[start : start + len(records)] = records.reshape(-1, *SHAPE).transpose(0, 1, 3, 2)

    read_records(handle, size, source, len(out), IMAGE_BYTES, store)


def _read_labels(handle: BinaryIO, size: int, source: str, *, out: np.ndarray) -> None:
    """Read a ``_y.bin`` file (classes 1..10) into ``out`` as 0..9."""

    def store(start: int, records: np.ndarray) -> None:
        found = records[:, 0]
        bad = (found < 1) | (found > N_CLASSES)
        if bad.any():
            index = int(np.argmax(bad))
            raise DataError(f"{source} has label {found[index]} at {start + index}; expected 1..{N_CLASSES}")
        out[start : start + len(records)] = found.astype(np.int64) - 1

    read_records(handle, size, source, len(out), 1, store)


def load_stl10(
    split: str = "all",
    root: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
    mirror: str | None = None,
) -> Dataset:
    """Load STL-10 as (N, 3, 96, 96) uint8 images; labels 0..9, or None when unlabelled images are included.

    Ids are "<part>/<i>" with part train, test or unlabeled and ``i`` the index in that part's file.
    """
    parts = PARTS[split]
    labelled = all(FILES[part][1] is not None for part in parts)
    wanted = [file for part in parts for file in FILES[part][: 2 if labelled else 1]]
    bundle = locate_bundle("stl10", ARCHIVE, INNER, [*wanted, NAMES_FILE], root, download, progress, mirror)
    total = sum(COUNTS[part] for part in parts)
    images = np.empty((total, *SHAPE), dtype=np.uint8)
    labels = np.empty(total, dtype=np.int64) if labelled else None
    readers = {NAMES_FILE: read_lines}
    for part, start in zip(parts, accumulate((COUNTS[part] for part in parts), initial=0)):
        images_file, labels_file = FILES[part]
        block = slice(start, start + COUNTS[part])
        readers[images_file] = partial(_read_images, out=images[block])
        if labels is not None:
            readers[labels_file] = partial(_read_labels, out=labels[block])
    class_names = bundle.read(readers)[NAMES_FILE]
    if len(class_names) != N_CLASSES:
        raise DataError(f"{bundle.describe(NAMES_FILE)} lists {len(class_names)} class names; expected {N_CLASSES}")
    ids = [f"{part}/{i}" for part in parts for i in range(COUNTS[part])]
    return Dataset(images, labels, ids, name="stl10", split=split, class_names=class_names)
