"""A dataset as N×D float32 feature vectors in a ``.npz`` (``images`` and ``labels``), for the
vector methods (IMSAT on vectors)."""
from __future__ import annotations

import io

import numpy as np

from .registry import load_dataset


def dataset_vectors(name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(N×D float32 vectors, labels or None) of dataset ``name``: ``digits`` as scikit-learn's
    ``load_digits(return_X_y=True)`` gives it (values 0..16); any other dataset infoclust reads,
    train and test merged, flattened, pixels scaled to [0, 1]."""
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return x.astype(np.float32), y
    data = load_dataset(name, split="all", progress=False)
    pixels = np.asarray(data.images)  # (a large folder: read from its on-disk cache)
    return pixels.reshape(len(pixels), -1).astype(np.float32) / 255, data.labels


def standardised(x: np.ndarray) -> np.ndarray:
    """N×D → N×D float32, each dimension shifted to mean 0 and scaled to sd 1 (a constant one stays 0)."""
    std = x.std(0)
    return ((x - x.mean(0)) / np.where(std > 0, std, 1)).astype(np.float32)


def npz_bytes(vectors: np.ndarray, labels: np.ndarray | None) -> bytes:
    """The ``.npz`` file's bytes (written by the caller atomically, under any name)."""
    buffer = io.BytesIO()  # a buffer: given a path without .npz, savez would add the suffix
    np.savez(buffer, **({"images": vectors} if labels is None else {"images": vectors, "labels": labels}))
    return buffer.getvalue()
