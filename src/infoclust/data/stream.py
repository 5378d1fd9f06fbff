"""Images one at a time, for work that must not hold a whole collection in memory (``infoclust
embed``): a folder's files decoded on demand (in DataLoader workers), or a loaded dataset's arrays,
each item handed to a per-image ``transform`` (an encoder's preprocessing)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .dataset import Dataset
from .folder import decoded, folder_fingerprint, folder_listing


class ImageStream:
    """N images by index: ``stream[i]`` = ``transform(image i)`` (a Pillow image when ``transform``
    is None). ``ids`` name the items (a folder's relative paths), ``labels`` and ``class_names``
    come from class sub-folders or the dataset (None when unlabelled), ``fingerprint`` identifies
    the source without decoding it (a folder: its file names, sizes and modification times);
    ``folder``: the folder the ``ids`` are relative to (None for a dataset's arrays)."""

    def __init__(self, name: str, ids: list[str], labels: np.ndarray | None, class_names: list[str] | None,
                 fingerprint: dict, read: Callable[[int], Image.Image], folder: Path | None = None):
        self.name, self.ids, self.labels, self.class_names = name, ids, labels, class_names
        self.fingerprint, self._read, self.folder = fingerprint, read, folder
        self.transform: Callable[[Image.Image], Any] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Any:
        image = self._read(index)
        return image if self.transform is None else self.transform(image)

    def with_transform(self, transform: Callable[[Image.Image], Any]) -> "ImageStream":
        out = ImageStream(self.name, self.ids, self.labels, self.class_names, self.fingerprint, self._read, self.folder)
        out.transform = transform
        return out


def folder_stream(folder: str | Path) -> ImageStream:
    """The images under ``folder`` (found as the folder reader finds them), decoded when read."""
    folder = Path(folder)
    files, ids, labels, class_names = folder_listing(folder)
    return ImageStream(folder.resolve().name, ids, labels, class_names, folder_fingerprint(files, ids),
                       lambda i: decoded(files[i]), folder.resolve())


def dataset_stream(data: Dataset) -> ImageStream:
    """A loaded dataset's (N, C, H, W) uint8 images as Pillow images ("L" or "RGB")."""

    def read(i: int) -> Image.Image:
        pixels = data.images[i]
        return Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))

    return ImageStream(data.name, data.ids, data.labels, data.class_names, data.fingerprint(), read)
