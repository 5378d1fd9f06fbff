"""scikit-learn's embedded 8x8 handwritten digits (1,797 images, no download).

There is no official split; ``"train"`` is the first 1,500 images and ``"test"`` the last 297.
"""

from __future__ import annotations

import numpy as np

from .dataset import Dataset

TRAIN_SIZE = 1500
SPLITS = {"all": slice(None), "train": slice(None, TRAIN_SIZE), "test": slice(TRAIN_SIZE, None)}


def load_digits(split: str = "all") -> Dataset:
    """Digits as (N, 1, 8, 8) uint8 (0..16 scaled to 0..255) with labels 0..9; ids are row numbers."""
    from sklearn.datasets import load_digits as sklearn_digits  # slow import, only when asked for

    bunch = sklearn_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    rows = np.arange(len(images))[SPLITS[split]]
    return Dataset(
        images[rows],
        labels[rows],
        [str(i) for i in rows],
        name="digits",
        split=split,
        class_names=[str(k) for k in range(10)],
    )
