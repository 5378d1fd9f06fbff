"""Reader for a folder of image files (Pillow).

Layout: when every image sits inside a direct sub-folder (none loose at the top), the sub-folder
names are the classes (sorted, numbered 0..K-1); otherwise the images are unlabelled. Files and
folders whose names start with "." are skipped, as are files without an image extension.
All images get one mode: "L" when every file is greyscale ("1", "L", "LA", "I", "F" modes), else
"RGB" (alpha dropped, palettes expanded). Images of another size than the most common one are
resized to it (bilinear) with one warning.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import DataError
from .dataset import Dataset

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
PROGRESS_MIN_FILES = 2000


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive, hidden entries skipped), sorted by relative path."""
    found = [
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and path.is_file()
    ]
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, (width, height)) of an image, read without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.mode, image.size
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot read image '{path}': {error}") from error


def _pixels(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    """The image as an (H, W) or (H, W, 3) uint8 array in ``mode``, resized to ``size`` if needed."""
    try:
        with Image.open(path) as image:
            image = image.convert(mode)
            if image.size != size:
                image = image.resize(size, Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot read image '{path}': {error}") from error


def read_image_folder(folder: str | Path, progress: bool = True) -> Dataset:
    """Read every image under ``folder`` into (N, C, H, W) uint8, labelled by class sub-folder if any."""
    folder = Path(folder)
    files = find_images(folder)
    if not files:
        raise DataError(f"no images found in '{folder}' (looked for {', '.join(IMAGE_EXTENSIONS)})")
    ids = [path.relative_to(folder).as_posix() for path in files]
    headers = [_header(path) for path in files]
    mode = "L" if all(image_mode in GREY_MODES for image_mode, _ in headers) else "RGB"
    sizes = Counter(size for _, size in headers)
    (width, height), count = sizes.most_common(1)[0]
    if count < len(files):
        warnings.warn(
            f"{len(files) - count} of {len(files)} images in '{folder}' are not {width}x{height}; "
            f"resized them to that most common size (bilinear)",
            stacklevel=2,
        )
    channels = 1 if mode == "L" else 3
    images = np.empty((len(files), channels, height, width), dtype=np.uint8)
    show = progress and len(files) > PROGRESS_MIN_FILES
    for i, path in enumerate(tqdm(files, desc=f"reading {folder.name}", unit="img", disable=not show)):
        pixels = _pixels(path, mode, (width, height))
        images[i] = pixels[None] if mode == "L" else pixels.transpose(2, 0, 1)
    labels, class_names = None, None
    if all("/" in item for item in ids):
        class_of = [item.split("/", 1)[0] for item in ids]
        class_names = sorted(set(class_of))
        index = {name: k for k, name in enumerate(class_names)}
        labels = np.array([index[name] for name in class_of], dtype=np.int64)
    return Dataset(images, labels, ids, name=folder.resolve().name, class_names=class_names)
