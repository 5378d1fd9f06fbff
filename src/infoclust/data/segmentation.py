"""Segmentation data as a plain folder: images with one label PNG each.

Layout (``SPLIT`` = the folder itself, or its ``train/`` and ``test/`` sub-folders)::

    SPLIT/images/NAME.png|jpg|...   the images (all one size; grey or RGB)
    SPLIT/labels/NAME.png           per-pixel class index 0..K-1 (8-bit grey or palette), 255 = unlabelled
    classes.txt                     optional, at the top: one class name per line

Labels become int64 (N, H, W) maps with −1 for unlabelled pixels; the ids are the names (stems).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ConfigError, DataError
from .dataset import Dataset
from .folder import IMAGE_EXTENSIONS

UNLABELLED = 255  # the label PNGs' value for a pixel without a class


def is_segmentation_folder(path: Path) -> bool:
    """Whether ``path`` has the layout above (``images/`` and ``labels/``, at the top or per split)."""
    return all((path / part).is_dir() for part in ("images", "labels")) or all(
        (path / split / part).is_dir() for split in ("train", "test") for part in ("images", "labels"))


def _pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    """(name, image path, label path) of every image in ``folder/images``, sorted by name."""
    labels = {p.stem: p for p in (folder / "labels").iterdir() if p.suffix.lower() == ".png" and not p.name.startswith(".")}
    images = sorted(p for p in (folder / "images").iterdir()
                    if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
    if not images:
        raise DataError(f"'{folder / 'images'}' holds no images; expected image files with a label PNG each in "
                        f"'{folder / 'labels'}'")
    missing = [p.name for p in images if p.stem not in labels]
    if missing:
        raise DataError(f"'{folder / 'labels'}' has no label PNG for {len(missing)} image(s), e.g. '{missing[0]}'; "
                        "expected one NAME.png per image NAME")
    return [(p.stem, p, labels[p.stem]) for p in images]


def _read(path: Path, label: bool) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if label:
                if im.mode not in ("L", "P"):
                    raise DataError(f"label '{path}' has mode {im.mode}; expected an 8-bit grey or palette PNG of "
                                    "class indices")
                return np.asarray(im)
            return np.asarray(im.convert("RGB" if im.mode not in ("L", "1", "I;16", "I", "F") else "L"))
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"'{path}' cannot be read as an image ({error}); expected a valid image file") from None


def _read_split(folder: Path, name: str, split: str, class_names: list[str] | None) -> Dataset:
    pairs = _pairs(folder)
    images, maps = [], []
    for stem, image_path, label_path in pairs:
        image, label = _read(image_path, False), _read(label_path, True)
        if image.shape[:2] != label.shape:
            raise DataError(f"'{label_path}' is {label.shape[1]}×{label.shape[0]} px but its image is "
                            f"{image.shape[1]}×{image.shape[0]}; expected the same size")
        images.append(image if image.ndim == 3 else image[..., None])
        maps.append(label)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataError(f"the images of '{folder / 'images'}' have {len(shapes)} sizes; expected one size")
    stack = np.stack(images).transpose(0, 3, 1, 2)
    if stack.shape[1] == 3 and all((im[..., 0] == im[..., 1]).all() and (im[..., 1] == im[..., 2]).all() for im in images):
        stack = stack[:, :1]
    labels = np.stack(maps).astype(np.int64)
    labels[labels == UNLABELLED] = -1
    if class_names is not None and labels.max() >= len(class_names):
        raise DataError(f"'{folder / 'labels'}' holds class {labels.max()} but classes.txt names {len(class_names)}; "
                        "expected indices 0..K-1 (255 = unlabelled)")
    return Dataset(np.ascontiguousarray(stack), labels, [stem for stem, _, _ in pairs], name, split, class_names)


def read_segmentation_folder(path: Path, split: str = "all") -> Dataset:
    """The images and label maps of ``path`` (the layout above); ``split`` "train" / "test" reads
    that sub-folder, "all" both (train first) or the top level."""
    names_file = path / "classes.txt"
    class_names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()] if names_file.is_file() else None
    has_splits = (path / "train").is_dir() and (path / "test").is_dir()
    if split not in ("all", "train", "test") or (split != "all" and not has_splits):
        raise ConfigError(f"split '{split}' is not available for '{path}': expected 'all'"
                          + (", 'train' or 'test'" if has_splits else " (it has no train/ and test/ sub-folders)"))
    if not has_splits:
        return _read_split(path, str(path), "all", class_names)
    parts = [_read_split(path / s, str(path), s, class_names) for s in (("train", "test") if split == "all" else (split,))]
    if len(parts) == 1:
        return parts[0]
    if parts[0].images.shape[1:] != parts[1].images.shape[1:]:
        raise DataError(f"'{path}': train and test images differ in size; expected one size")
    return Dataset(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]),
                   [f"{p.split}/{i}" for p in parts for i in p.ids], str(path), "all", class_names)


def write_segmentation_folder(out: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]],
                              class_names: list[str]) -> None:
    """Write ``{split: (uint8 N×C×H×W images, int N×H×W label maps with −1 = unlabelled)}`` in the
    layout above into the new folder ``out``, all at once: it is assembled beside ``out`` and
    renamed into place, so a failure leaves nothing half-written."""
    out = Path(out)
    if out.exists():
        raise DataError(f"'{out}' exists; expected a new folder to write the dataset into")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (work / "classes.txt").write_text("".join(f"{name}\n" for name in class_names))
        for split, (images, labels) in splits.items():
            folder = work / split if split else work
            for part in ("images", "labels"):
                (folder / part).mkdir(parents=True)
            width = len(str(max(len(images) - 1, 0)))
            for i, (image, label) in enumerate(zip(images, labels)):
                pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
                Image.fromarray(np.ascontiguousarray(pixels)).save(folder / "images" / f"{i:0{width}d}.png")
                Image.fromarray(np.where(label < 0, UNLABELLED, label).astype(np.uint8)).save(
                    folder / "labels" / f"{i:0{width}d}.png")
        os.rename(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
