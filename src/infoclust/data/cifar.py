"""CIFAR-10 and CIFAR-100-20 from the official *binary* archives (the pickled python version is never read).

Records: label byte(s), then 3,072 pixel bytes: 1,024 red, 1,024 green, 1,024 blue, each a 32x32
plane in row-major order. CIFAR-10 has one label byte (0..9); CIFAR-100 has two, the coarse
super-class (0..19) then the fine class (0..99). "cifar100-20" is CIFAR-100 labelled by its 20
coarse super-classes, as in IIC. Files are looked up as described in ``sources``: an extracted
folder (e.g. ``root/cifar-10-batches-bin``) or the archive, in ``root``, ``root/<name>`` or the
cache folder, else the archive is downloaded there (INFOCLUST_MIRROR_CIFAR10 /
INFOCLUST_MIRROR_CIFAR100_20 override the mirror).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError
from .archive import locate_bundle, read_lines, read_records
from .dataset import Dataset

SHAPE = (3, 32, 32)
PIXEL_BYTES = 3 * 32 * 32


@dataclass(frozen=True)
class CifarFormat:
    archive: str  # file name on the mirror
    inner: str  # top folder inside the archive
    files: dict[str, tuple[str, ...]]  # split -> record files, in order
    label_bytes: int  # label bytes before each image
    label_byte: int  # which of them is the label used
    n_classes: int  # labels lie in 0 .. n_classes - 1
    names_file: str  # class names, one a line


FORMATS = {
    "cifar10": CifarFormat(
        "cifar-10-binary.tar.gz",
        "cifar-10-batches-bin",
        {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)},
        label_bytes=1,
        label_byte=0,
        n_classes=10,
        names_file="batches.meta.txt",
    ),
    "cifar100-20": CifarFormat(
        "cifar-100-binary.tar.gz",
        "cifar-100-binary",
        {"train": ("train.bin",), "test": ("test.bin",)},
        label_bytes=2,
        label_byte=0,  # coarse; byte 1 is the fine label
        n_classes=20,
        names_file="coarse_label_names.txt",
    ),
}

# Records in each official file: every file must hold exactly this many.
COUNTS = {
    "cifar10": {**{f"data_batch_{i}.bin": 10_000 for i in range(1, 6)}, "test_batch.bin": 10_000},
    "cifar100-20": {"train.bin": 50_000, "test.bin": 10_000},
}


def _read_file(
    handle: BinaryIO, size: int, source: str, *, images: np.ndarray, labels: np.ndarray, spec: CifarFormat
) -> None:
    """Read one record file into ``images`` (n, 3, 32, 32) and ``labels`` (n,), views of the result."""

    def store(start: int, records: np.ndarray) -> None:
        found = records[:, spec.label_byte]
        if int(found.max()) >= spec.n_classes:
            bad = start + int(np.argmax(found >= spec.n_classes))
            raise DataError(f"{source} has label {found.max()} in record {bad}; expected 0..{spec.n_classes - 1}")
        images[start : start + len(records)] = records[:, spec.label_bytes :].reshape(-1, *SHAPE)
        labels[start : start + len(records)] = found

    read_records(handle, size, source, len(labels), spec.label_bytes + PIXEL_BYTES, store)


def load_cifar(
    name: str,
    split: str = "all",
    root: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
    mirror: str | None = None,
) -> Dataset:
    """Load ``name`` ("cifar10" or "cifar100-20") as (N, 3, 32, 32) uint8 images with int64 labels.

    ``split`` "all" is the train set followed by the test set; ids are "train/<i>" / "test/<i>",
    ``i`` counting through the split's files in order (CIFAR-10's five train batches give 0..49,999).
    """
    spec, counts = FORMATS[name], COUNTS[name]
    parts = ["train", "test"] if split == "all" else [split]
    files = [file for part in parts for file in spec.files[part]]
    bundle = locate_bundle(name, spec.archive, spec.inner, [*files, spec.names_file], root, download, progress, mirror)
    total = sum(counts[file] for file in files)
    images = np.empty((total, *SHAPE), dtype=np.uint8)
    labels = np.empty(total, dtype=np.int64)
    readers = {
        file: partial(
            _read_file,
            images=images[start : start + counts[file]],
            labels=labels[start : start + counts[file]],
            spec=spec,
        )
        for file, start in zip(files, accumulate((counts[file] for file in files), initial=0))
    }
    readers[spec.names_file] = read_lines
    class_names = bundle.read(readers)[spec.names_file]
    if len(class_names) != spec.n_classes:
        raise DataError(
            f"{bundle.describe(spec.names_file)} lists {len(class_names)} class names; expected {spec.n_classes}"
        )
    ids = [f"{part}/{i}" for part in parts for i in range(sum(counts[file] for file in spec.files[part]))]
    return Dataset(images, labels, ids, name=name, split=split, class_names=class_names)
