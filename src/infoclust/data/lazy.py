"""Images that are read when indexed, not held: the common indexing of an (N, C, H, W) uint8 array
(an integer, a slice, integer positions or a boolean mask, then any further axes) over one
``rows(positions)`` read that subclasses write."""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class LazyImages(ABC):
    """(N, C, H, W) uint8 images; ``images[index]`` reads the rows asked for, in that order, and
    returns a numpy array, as indexing an array would. ``fingerprint``: what identifies the source
    without reading it (see ``Dataset.fingerprint``), or None."""

    ndim = 4
    dtype = np.dtype(np.uint8)
    fingerprint: dict | None = None

    def __init__(self, shape: tuple[int, int, int, int]):
        self.shape = tuple(int(s) for s in shape)

    def __len__(self) -> int:
        return self.shape[0]

    @abstractmethod
    def rows(self, positions: np.ndarray) -> np.ndarray:
        """(len(positions), C, H, W) uint8: the images at ``positions`` (int64, each in 0..N−1), in that order."""

    def __getitem__(self, index: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(index, tuple):
            index, rest = index[0], index[1:]
        n = len(self)
        if isinstance(index, (int, np.integer)):
            if not -n <= index < n:
                raise IndexError(f"index {index} is out of bounds for {n} images")
            found = self.rows(np.array([index % n], dtype=np.int64))[0]
        elif isinstance(index, slice):
            found = self.rows(np.arange(n, dtype=np.int64)[index])
        else:
            positions = np.asarray(index)
            if positions.dtype == bool:
                if positions.shape != (n,):
                    raise IndexError(f"a boolean mask of shape {positions.shape} for {n} images")
                positions = np.flatnonzero(positions)
            positions = positions.astype(np.int64, copy=False)
            if positions.size and not (-n <= positions.min() and positions.max() < n):
                raise IndexError(f"positions {int(positions.min())}..{int(positions.max())} are out of bounds for "
                                 f"{n} images")
            found = self.rows(positions.reshape(-1) % max(n, 1)).reshape(*positions.shape, *self.shape[1:])
        return found[(slice(None),) * (found.ndim - 3) + rest] if rest else found

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every image read into memory (what ``np.asarray`` gives)."""
        whole = self.rows(np.arange(len(self), dtype=np.int64))
        return whole if dtype is None else whole.astype(dtype)

    def take(self, positions: np.ndarray) -> "LazyImages":
        """The images at ``positions`` (int64), in that order, still read when indexed."""
        return _Taken(self, positions)


class _Taken(LazyImages):
    """Some images of another ``LazyImages``, by position."""

    def __init__(self, source: LazyImages, positions: np.ndarray):
        super().__init__((len(positions), *source.shape[1:]))
        self.source, self.positions = source, np.asarray(positions, dtype=np.int64)
        if source.fingerprint is not None:
            taken = hashlib.sha256(self.positions.tobytes()).hexdigest()
            self.fingerprint = {**source.fingerprint, "count": len(positions), "positions_sha256": taken}

    def rows(self, positions: np.ndarray) -> np.ndarray:
        return self.source.rows(self.positions[positions])
