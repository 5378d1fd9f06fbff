"""The in-memory dataset every reader returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

import numpy as np

from ..errors import DataError
from .lazy import LazyImages


@dataclass(eq=False)
class Dataset:
    """Images (or feature vectors) with optional labels.

    ``images`` is uint8 of shape (N, C, H, W) with C = 1 or 3 (pixel values 0..255), held in
    memory or read when indexed (``LazyImages``: a large folder's on-disk cache), or float32 of
    shape (N, D) for feature vectors. ``labels`` is int64 of shape (N,), or for segmentation
    (N, H, W) label maps with −1 for unlabelled pixels, or None. ``ids`` names
    each item in its source, stable whatever split is loaded: ``"train/<i>"`` / ``"test/<i>"``
    (index in the official files) for MNIST, Fashion-MNIST, CIFAR and STL-10 (also
    ``"unlabeled/<i>"``), ``"<i>"`` (row number) for digits and
    .npy/.npz arrays, the path relative to the folder (with ``/``) for image folders.
    ``pictures``: what to show of each item when the samples are feature vectors (the photos
    behind an embedding, read when shown), or None.
    """

    images: np.ndarray
    labels: np.ndarray | None
    ids: list[str]
    name: str
    split: str = "all"
    class_names: list[str] | None = None
    pictures: LazyImages | None = None

    def __post_init__(self) -> None:
        images = self.images
        if not isinstance(images, (np.ndarray, LazyImages)):
            raise DataError(f"dataset '{self.name}': images must be a numpy array, got {type(images).__name__}")
        if images.ndim == 4:
            if images.dtype != np.uint8 or images.shape[1] not in (1, 3):
                raise DataError(
                    f"dataset '{self.name}': images have dtype {images.dtype} and shape {images.shape}; "
                    "expected uint8 (N, C, H, W) with C = 1 or 3"
                )
        elif images.ndim == 2:
            if images.dtype != np.float32:
                raise DataError(
                    f"dataset '{self.name}': feature vectors have dtype {images.dtype}; expected float32 (N, D)"
                )
        else:
            raise DataError(
                f"dataset '{self.name}': images have shape {images.shape}; "
                "expected (N, C, H, W) images or (N, D) feature vectors"
            )
        n = len(images)
        if self.labels is not None:
            labels = self.labels
            maps = (n, *images.shape[2:]) if images.ndim == 4 else None
            if not isinstance(labels, np.ndarray) or labels.dtype != np.int64 or labels.shape not in ((n,), maps):
                shape = getattr(labels, "shape", None)
                dtype = getattr(labels, "dtype", type(labels).__name__)
                raise DataError(
                    f"dataset '{self.name}': labels have dtype {dtype} and shape {shape}; expected int64 ({n},)"
                    + (f" or label maps {maps}" if maps else "")
                )
        if len(self.ids) != n:
            raise DataError(f"dataset '{self.name}': {len(self.ids)} ids for {n} items; expected one id per item")
        if self.class_names is not None and self.labels is not None and n:
            top = int(self.labels.max())
            if top >= len(self.class_names) or int(self.labels.min()) < (-1 if self.is_dense else 0):
                raise DataError(
                    f"dataset '{self.name}': labels span {int(self.labels.min())}..{top} "
                    f"but there are {len(self.class_names)} class names"
                )

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        kind = "vectors" if self.is_vectors else "images"
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"{kind}={self.images.dtype}{tuple(self.images.shape)}, n_classes={self.n_classes})"
        )

    @property
    def is_vectors(self) -> bool:
        """True for (N, D) float32 feature vectors, False for (N, C, H, W) uint8 images."""
        return self.images.ndim == 2

    @property
    def is_dense(self) -> bool:
        """True when the labels are per-pixel maps (segmentation)."""
        return self.labels is not None and self.labels.ndim == 3

    @property
    def n_classes(self) -> int | None:
        """Number of distinct labels (unlabelled pixels, −1, not counted), or None when unlabelled."""
        return None if self.labels is None else int(np.unique(self.labels[self.labels >= 0]).size)

    def from_labelled_parts(self) -> np.ndarray | None:
        """(N,) True for samples of a labelled part of the source (STL-10's train and test, not its
        "unlabeled/" images), None when every sample is; read from the ids, never from labels."""
        mask = np.array([not i.startswith("unlabeled/") for i in self.ids])
        return None if mask.all() else mask

    def fingerprint(self) -> dict:
        """{"count", "shape" (of one sample), "sha256" (of the samples' bytes, then the labels')}: equal
        fingerprints mean the same samples in the same order (with the same labels). Images read
        when indexed are identified by their source's fingerprint (a folder's file names, sizes and
        times) instead of every byte."""
        if isinstance(self.images, LazyImages) and self.images.fingerprint is not None:
            source = json.dumps(self.images.fingerprint, sort_keys=True).encode()
            return {"count": len(self), "shape": list(self.images.shape[1:]), "sha256": hashlib.sha256(source).hexdigest()}
        digest = hashlib.sha256(np.ascontiguousarray(self.images).tobytes())
        if self.labels is not None:
            digest.update(np.ascontiguousarray(self.labels).tobytes())
        return {"count": len(self), "shape": list(self.images.shape[1:]), "sha256": digest.hexdigest()}

    def subset(self, indices: np.ndarray | list[int]) -> Dataset:
        """The items at ``indices`` (integer positions or a boolean mask of length N), in that order."""
        index = np.asarray(indices)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise DataError(f"dataset '{self.name}': mask of shape {index.shape} for {len(self)} items")
            index = np.flatnonzero(index)
        index = index.astype(np.int64, copy=False).reshape(-1)
        lazy = isinstance(self.images, LazyImages)
        return replace(
            self,
            images=self.images.take(index) if lazy else self.images[index],
            labels=None if self.labels is None else self.labels[index],
            ids=[self.ids[i] for i in index],
            pictures=None if self.pictures is None else self.pictures.take(index),
        )
