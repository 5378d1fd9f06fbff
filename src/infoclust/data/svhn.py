"""SVHN (Netzer et al., 2011), the cropped 32x32 digits, from the official MATLAB files
``train_32x32.mat`` (73,257 digits) and ``test_32x32.mat`` (26,032): ``X`` is 32×32×3×N uint8
(height, width, channel, image), ``y`` N×1 with the labels 1..10, 10 standing for the digit 0 (read
here as 0, so label = digit). The files are looked up and downloaded as ``sources`` describes
(INFOCLUST_MIRROR_SVHN overrides the mirror) and checked against their pinned digests. The
531,131 "extra" digits are not read (no seed paper uses them)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset
from .sources import locate

FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
COUNTS = {"train": 73_257, "test": 26_032}
CLASS_NAMES = [str(digit) for digit in range(10)]


def _read_mat(path: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(images N×3×32×32 uint8, labels N int64 0..9) of one official file, checked."""
    from scipy.io import loadmat  # (scipy comes with scikit-learn)

    try:
        mat = loadmat(path)
    except Exception as error:  # scipy raises many kinds (ValueError, IndexError, …) on a damaged file
        raise DataError(f"cannot read '{path}': {str(error).splitlines()[0] if str(error) else type(error).__name__}; "
                        "expected SVHN's MATLAB file (download it again)") from None
    x, y = mat.get("X"), mat.get("y")
    if x is None or y is None or x.shape != (32, 32, 3, count) or x.dtype != np.uint8 or y.size != count:
        found = "no X or y" if x is None or y is None else f"X {x.dtype}{x.shape}, y of {y.size} labels"
        raise DataError(f"'{path}' holds {found}; expected X uint8 (32, 32, 3, {count}) and {count} labels in y")
    labels = y.reshape(-1).astype(np.int64)
    if labels.min() < 1 or labels.max() > 10:
        raise DataError(f"'{path}' has labels {labels.min()}..{labels.max()}; expected 1..10 (10 = the digit 0)")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels % 10


def load_svhn(split: str = "all", root: str | Path | None = None, download: bool = True, progress: bool = True,
              mirror: str | None = None) -> Dataset:
    """SVHN's ``split`` ("train", "test", or "all" = train then test) as N×3×32×32 uint8 images with
    labels 0..9; ids "train/<i>" / "test/<i>" (position in the official file)."""
    parts = ["train", "test"] if split == "all" else [split]
    files = [FILES[part] for part in parts]
    folder = locate("svhn", lambda f: f if all((f / name).is_file() for name in files) else None, files, root,
                    download, progress, mirror)
    read = [_read_mat(folder / FILES[part], COUNTS[part]) for part in parts]
    ids = [f"{part}/{i}" for part in parts for i in range(COUNTS[part])]
    return Dataset(np.concatenate([images for images, _ in read]), np.concatenate([labels for _, labels in read]),
                   ids, name="svhn", split=split, class_names=CLASS_NAMES)
