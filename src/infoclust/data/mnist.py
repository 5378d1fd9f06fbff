"""MNIST and Fashion-MNIST: four IDX files (plain or .gz), found locally or downloaded.

Lookup order (see ``sources``) for the files of the requested split: ``root`` and ``root/<name>``,
the cache folder ``$INFOCLUST_DATA/<name>`` (default ``~/.cache/infoclust/<name>``), system folders
(Debian's dataset-fashion-mnist package), then a download of the .gz files into the cache folder
from the mirror (``mirror`` argument, else ``$INFOCLUST_MIRROR_<NAME>``, e.g.
INFOCLUST_MIRROR_FASHION_MNIST, else ``sources.MIRRORS``), each verified against ``sources.CHECKSUMS``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset
from .idx import read_idx_pair
from .sources import cache_dir, locate

SYSTEM_DIRS = {
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
    "mnist": (),
}

CLASS_NAMES = {
    "fashion-mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "mnist": [str(k) for k in range(10)],
}

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(folder: Path, base: str) -> Path | None:
    """``folder/base`` or ``folder/base.gz``, whichever exists first."""
    return next((path for path in (folder / base, folder / f"{base}.gz") if path.is_file()), None)


def _find_all(bases: list[str], folder: Path) -> dict[str, Path] | None:
    """Paths of all the IDX files ``bases`` in ``folder``, or None when one is missing."""
    found = {base: _find(folder, base) for base in bases}
    return found if all(found.values()) else None


def load_mnist_format(
    name: str,
    split: str = "all",
    root: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
    mirror: str | None = None,
) -> Dataset:
    """Load ``name`` ("mnist" or "fashion-mnist") as (N, 1, 28, 28) uint8 images and labels 0..9.

    ``split`` "all" is the train set followed by the test set; ids are "train/<i>" / "test/<i>".
    The IDX files of the split are all taken from one folder.
    """
    splits = ["train", "test"] if split == "all" else [split]
    bases = [base for part in splits for base in FILES[part]]
    paths = locate(
        name,
        partial(_find_all, bases),
        [f"{base}.gz" for base in bases if _find(cache_dir(name), base) is None],  # what the cache lacks
        root,
        download,
        progress,
        mirror,
        system_dirs=SYSTEM_DIRS[name],
    )
    parts = [read_idx_pair(*(paths[base] for base in FILES[part])) for part in splits]
    shapes = {images.shape[1:] for images, _ in parts}
    if len(shapes) > 1:
        raise DataError(f"{name} train and test images differ in shape ({sorted(shapes)}); expected one shape")
    return Dataset(
        np.concatenate([images for images, _ in parts]),
        np.concatenate([labels for _, labels in parts]),
        [f"{part}/{i}" for part, (images, _) in zip(splits, parts) for i in range(len(images))],
        name=name,
        split=split,
        class_names=list(CLASS_NAMES[name]),
    )
