"""Reader for images or feature vectors stored as .npy / .npz files (never unpickled).

Accepted image arrays, with N > 0:
  (N, H, W)                       grey images
  (N, C, H, W), C in {1, 3}       channels first
  (N, H, W, C), C in {1, 3}       channels last (only when dim 1 is not 1 or 3), transposed
  (N, D)                          feature vectors, kept as float32
Pixel values become uint8 0..255:
  uint8                           kept
  bool                            0 / 255
  other integers                  must lie in 0..255 (DataError otherwise), kept
  floats in [0, 1]                scaled by 255, rounded
  floats in [0, 255]              rounded
  other floats (negative or > 255) rescaled linearly, min -> 0 and max -> 255 (all 0 when constant),
                                  rounded, with a warning naming the source and its range
Integers or floats read as 0..255 whose max lies in (1, 16] (e.g. scikit-learn's 0..16 digits)
also warn, since they would look nearly black: divide them by their max for [0, 1].

Warnings from infoclust point at the user's code (``warn_user``), not at the library's lines.
"""

from __future__ import annotations

import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset

IMAGE_KEYS = ("images", "x", "X", "data")
LABEL_KEYS = ("labels", "y", "targets")
ACCEPTED = "(N, H, W), (N, C, H, W) or (N, H, W, C) images with C = 1 or 3, or (N, D) feature vectors, N > 0"
SMALL_SCALE_MAX = 16


def warn_user(message: str) -> None:
    """Emit a UserWarning attributed to the first caller outside the infoclust package."""
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_globals.get("__name__", "").split(".")[0] == "infoclust":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


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


def _warn_small_scale(high: float, source: str) -> None:
    """Warn when values read as 0..255 top out in (1, SMALL_SCALE_MAX], e.g. a 0..16 scale."""
    if 1 < high <= SMALL_SCALE_MAX:
        warn_user(
            f"'{source}' has pixel values in 0..{high:g}, read as 0..255 (nearly black); divide by {high:g} for [0, 1]"
        )


def _floats_to_uint8(array: np.ndarray, source: str) -> np.ndarray:
    """Float pixel values as uint8 0..255 (see the module docstring for the rules)."""
    values = array.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        values *= 255
    elif low >= 0 and high <= 255:
        _warn_small_scale(high, source)
    else:
        warn_user(f"'{source}' has pixel values in {low:g}..{high:g}, outside 0..255; rescaled them linearly to 0..255")
        values = (values - low) * (255 / (high - low)) if high > low else np.zeros_like(values)
    return np.rint(values).astype(np.uint8)


def _to_uint8(array: np.ndarray, source: str) -> np.ndarray:
    """Pixel values as uint8 0..255 (see the module docstring for the rules)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * np.uint8(255)
    if array.dtype.kind == "f":
        return _floats_to_uint8(array, source)
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > 255:
        raise DataError(f"'{source}' has integer pixel values in {low}..{high}; expected 0..255")
    _warn_small_scale(high, source)
    return array.astype(np.uint8)


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
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        if getattr(error, "errno", None):
            raise DataError(f"cannot read '{path}': {error.strerror}") from error
        raise DataError(f"'{path}' is not a readable numpy file ({error})") from error
    images = images_from_array(raw_images, str(path))
    labels = None if raw_labels is None else labels_from_array(raw_labels, len(images), str(path))
    return Dataset(images, labels, [str(i) for i in range(len(images))], name=path.stem)
