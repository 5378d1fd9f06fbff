"""Reader for images or feature vectors stored as .npy / .npz files (never unpickled).

Accepted image arrays, with N > 0:
  (N, H, W)                       grey images
  (N, C, H, W), C in {1, 3}       channels first
  (N, H, W, C), C in {1, 3}       channels last (only when dim 1 is not 1 or 3), transposed
  (N, D)                          feature vectors, kept as float32
Pixel values: uint8 kept; integers must lie in 0..255; bool becomes 0 / 255; floats with
max <= 1 are taken as [0, 1] and scaled by 255, otherwise as 0..255; then rounded and clipped.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset

IMAGE_KEYS = ("images", "x", "X", "data")
LABEL_KEYS = ("labels", "y", "targets")
ACCEPTED = "(N, H, W), (N, C, H, W) or (N, H, W, C) images with C = 1 or 3, or (N, D) feature vectors, N > 0"


def _check_values(array: np.ndarray, source: str) -> None:
    """Raise DataError unless the array is a non-empty numeric array of finite values."""
    if array.dtype.kind not in "biuf":
        raise DataError(f"'{source}' holds a {array.dtype} array; expected numbers ({ACCEPTED})")
    if array.ndim not in (2, 3, 4) or array.shape[0] == 0:
        raise DataError(f"'{source}' holds an array of shape {array.shape}; expected {ACCEPTED}")
    if array.dtype.kind == "f":
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise DataError(f"'{source}' contains NaN/inf values ({bad} of them); expected finite pixel values")


def _to_nchw(array: np.ndarray, source: str) -> np.ndarray:
    """View a 3- or 4-dimensional image array as (N, C, H, W)."""
    if array.ndim == 3:
        return array[:, None]
    if array.shape[1] in (1, 3):
        return array
    if array.shape[3] in (1, 3):
        return array.transpose(0, 3, 1, 2)
    raise DataError(f"'{source}' holds an array of shape {array.shape}; expected {ACCEPTED}")


def _to_uint8(array: np.ndarray, source: str) -> np.ndarray:
    """Pixel values as uint8 0..255 (see the module docstring for the rules)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * np.uint8(255)
    if array.dtype.kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise DataError(f"'{source}' has integer pixel values in {low}..{high}; expected 0..255")
        return array.astype(np.uint8)
    scale = 255.0 if float(array.max()) <= 1.0 else 1.0
    return np.clip(np.rint(array.astype(np.float64) * scale), 0, 255).astype(np.uint8)


def images_from_array(array: np.ndarray, source: str) -> np.ndarray:
    """Convert an accepted array to (N, C, H, W) uint8 images or (N, D) float32 vectors.

    ``source`` names where the array came from, for error messages.
    """
    _check_values(array, source)
    if array.ndim == 2:
        return array.astype(np.float32)
    return np.ascontiguousarray(_to_uint8(_to_nchw(array, source), source))


def labels_from_array(labels: np.ndarray, n: int, source: str) -> np.ndarray:
    """Check labels of shape (n,) holding whole numbers and return them as int64."""
    if labels.shape != (n,):
        raise DataError(f"'{source}' has labels of shape {labels.shape}; expected ({n},), one per image")
    if labels.dtype.kind in "biu":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    raise DataError(f"'{source}' has labels of dtype {labels.dtype} that are not whole numbers; expected integers")


def _load(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The images array and the labels array (or None) stored in a .npy or .npz file."""
    stored = np.load(path, allow_pickle=False)
    if isinstance(stored, np.ndarray):
        return stored, None
    with stored:
        keys = list(stored.keys())
        image_key = next((key for key in IMAGE_KEYS if key in keys), None)
        if image_key is None:
            raise DataError(f"'{path}' has arrays {keys}; expected one named {', '.join(IMAGE_KEYS)}")
        label_key = next((key for key in LABEL_KEYS if key in keys), None)
        return stored[image_key], None if label_key is None else stored[label_key]


def read_arrays(path: str | Path) -> Dataset:
    """Read a .npy file (images only) or a .npz file (``images`` and optional ``labels``)."""
    path = Path(path)
    try:
        raw_images, raw_labels = _load(path)
    except ValueError as error:
        if "Object arrays" in str(error):
            message = f"'{path}' holds an object array; expected a numeric array (objects are never unpickled)"
            raise DataError(message) from error
        raise DataError(f"'{path}' is not a readable numpy file ({error})") from error
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"'{path}' is not a readable numpy file ({error})") from error
    images = images_from_array(raw_images, str(path))
    labels = None if raw_labels is None else labels_from_array(raw_labels, len(images), str(path))
    return Dataset(images, labels, [str(i) for i in range(len(images))], name=path.stem)
