"""Reader for a folder of image files (Pillow).

Finding files: the folder is walked breadth first, following symbolic links to folders; a folder
reached again by another path (a symlink loop, or a second link to the same folder) is read only
once, at its shallowest path (the first in sorted order among equally deep ones). Files and folders
whose names start with "." are skipped, as are files without an image extension; a broken symbolic
link with an image extension, an unreadable folder or an unreadable image raises DataError.

Layout: when every image sits inside a direct sub-folder (none loose at the top), the sub-folder
names are the classes (sorted, numbered 0..K-1); otherwise the images are unlabelled.

Modes: the set is grey (1 channel) when every image is grey, else RGB (3 channels). Grey images are
modes "1", "L", "LA", the 16-bit "I;16*" modes, "I", "F", and palette images ("P", "PA") whose used
colours all have R == G == B. Alpha is dropped (not composited); grey images in an RGB set repeat
their grey value in R, G and B.

Grey values become uint8 0..255 as follows: 16-bit modes are scaled by 255/65535 and rounded
(65535 -> 255, 32768 -> 128); 32-bit "I" likewise when its values lie in 0..65535, else refused;
float "F" is scaled by 255 when its values lie in [0, 1], kept (rounded) when they lie in
[0, 255], else refused; other grey modes are converted to "L" ("1" gives 0 / 255).

Size: images of another size than the most common one are resized to it (bilinear) with one
warning. An image of more than ``PIL.Image.MAX_IMAGE_PIXELS`` pixels is refused (Pillow's
decompression-bomb check, whose warning is made an error here).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import DataError
from .arrays import warn_user
from .dataset import Dataset

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
PALETTE_MODES = ("P", "PA")
SIXTEEN_BIT = ((65535.0, 255 / 65535),)
DEEP_SCALES = {  # mode -> (largest value, factor to 0..255) pairs, the first that fits applies
    **{mode: SIXTEEN_BIT for mode in ("I;16", "I;16B", "I;16L", "I;16N", "I")},
    "F": ((1.0, 255.0), (255.0, 1.0)),
}
PROGRESS_MIN_FILES = 2000


def _entries(directory: Path) -> list[os.DirEntry]:
    """The non-hidden entries of ``directory``, sorted by name."""
    try:
        with os.scandir(directory) as scan:
            return sorted((entry for entry in scan if not entry.name.startswith(".")), key=lambda e: e.name)
    except OSError as error:
        raise DataError(f"cannot read folder '{directory}': {error.strerror or error}") from error


def _is_image_file(entry: os.DirEntry) -> bool:
    """True for a (linked) regular file with an image extension; a broken link to one raises DataError."""
    if Path(entry.name).suffix.lower() not in IMAGE_EXTENSIONS:
        return False
    if entry.is_symlink() and not os.path.exists(entry.path):
        target = os.readlink(entry.path)
        raise DataError(
            f"'{entry.path}' is a broken symbolic link (its target '{target}' does not exist); expected an image"
        )
    return entry.is_file()


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (see the module docstring), sorted by relative path."""
    seen, queue, found = {os.path.realpath(folder)}, deque([folder]), []
    while queue:
        for entry in _entries(queue.popleft()):
            if entry.is_dir():
                real = os.path.realpath(entry.path)
                if real not in seen:
                    seen.add(real)
                    queue.append(Path(entry.path))
            elif _is_image_file(entry):
                found.append(Path(entry.path))
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


@contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """Turn Pillow's failures inside the block into a one-line DataError naming ``path``."""
    try:
        yield
    except DataError:
        raise
    except Image.UnidentifiedImageError as error:
        raise DataError(f"cannot read image '{path}': not in an image format Pillow recognises") from error
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataError(f"cannot read image '{path}': {getattr(error, 'strerror', None) or error}") from error


def _open(path: Path) -> Image.Image:
    """The image opened lazily (pixels not decoded); Pillow's decompression-bomb warning raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def _is_grey(image: Image.Image) -> bool:
    """True for a grey mode, or a palette image whose used colours all have R == G == B."""
    if image.mode in PALETTE_MODES:
        rgb = np.asarray(image.convert("RGB"))
        return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
    return image.mode in GREY_MODES


def _header(path: Path) -> tuple[bool, tuple[int, int]]:
    """(is grey, (width, height)) of an image; only palette images get their pixels decoded."""
    with _read_errors(path), _open(path) as image:
        return _is_grey(image), image.size


def _grey_values(image: Image.Image, path: Path) -> np.ndarray:
    """A grey image as (H, W) uint8 0..255; deep modes are scaled by DEEP_SCALES (module docstring)."""
    if image.mode not in DEEP_SCALES:
        return np.asarray(image.convert("L"))
    values = np.asarray(image).astype(np.float64)
    low, high = float(values.min()), float(values.max())
    for top, factor in DEEP_SCALES[image.mode]:
        if low >= 0 and high <= top:
            return np.rint(values * factor).astype(np.uint8)
    accepted = " or ".join(f"0..{top:g}" for top, _ in DEEP_SCALES[image.mode])
    raise DataError(f"image '{path}' (mode {image.mode}) has values in {low:g}..{high:g}; expected {accepted}")


def _resized(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 pixels resized (bilinear) to ``size`` = (width, height)."""
    if pixels.shape[1::-1] == size:
        return pixels
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))


def _pixels(path: Path, grey: bool, channels: int, size: tuple[int, int]) -> np.ndarray:
    """The image as (channels, H, W) uint8 at ``size`` = (width, height); grey repeats in R, G, B."""
    with _read_errors(path), _open(path) as image:
        if not grey:
            return _resized(np.asarray(image.convert("RGB")), size).transpose(2, 0, 1)
        values = _resized(_grey_values(image, path), size)
    return np.broadcast_to(values, (channels, *values.shape))


def folder_listing(folder: Path, classes: list[str] | None = None
                   ) -> tuple[list[Path], list[str], np.ndarray | None, list[str] | None]:
    """(files, ids: their paths relative to ``folder`` with "/", labels, class names) of the images
    under ``folder``, without decoding any: labels and names from the class sub-folders when every
    image sits in one (module docstring), else None. ``classes``: only these sub-folders, labelled
    0..len−1 in that order (each must exist and hold images)."""
    if classes is None:
        files = find_images(folder)
    else:
        missing = [name for name in classes if not (folder / name).is_dir()]
        if missing:
            raise DataError(f"'{folder}' has no sub-folder {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}; "
                            f"expected one per class: {', '.join(classes)}")
        files = [path for name in classes for path in find_images(folder / name)]
    if not files:
        raise DataError(f"no images found in '{folder}' (looked for {', '.join(IMAGE_EXTENSIONS)})")
    ids = [path.relative_to(folder).as_posix() for path in files]
    labels, class_names = None, classes
    if classes is not None or all("/" in item for item in ids):
        class_of = [item.split("/", 1)[0] for item in ids]
        class_names = classes if classes is not None else sorted(set(class_of))
        index = {name: k for k, name in enumerate(class_names)}
        labels = np.array([index[name] for name in class_of], dtype=np.int64)
    return files, ids, labels, class_names


def decoded(path: Path) -> Image.Image:
    """One image file decoded: grey modes as "L" (deep modes scaled as the module docstring says),
    everything else as "RGB"; a file Pillow cannot read is one DataError line naming it."""
    with _read_errors(path), _open(path) as image:
        if _is_grey(image):
            return Image.fromarray(_grey_values(image, path))
        return image.convert("RGB")


@dataclass
class FolderLayout:
    """What reading a folder's images needs, found from their headers: ``files``, ``ids``,
    ``labels`` and ``class_names`` (as ``folder_listing``), ``grey`` per file, the set's
    ``channels`` (1 or 3) and ``size`` (width, height: the most common one)."""

    files: list[Path]
    ids: list[str]
    labels: np.ndarray | None
    class_names: list[str] | None
    grey: list[bool]
    channels: int
    size: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return len(self.files), self.channels, self.size[1], self.size[0]

    def pixels(self, i: int) -> np.ndarray:
        """Image ``i`` as (C, H, W) uint8 at the set's size and channels."""
        return _pixels(self.files[i], self.grey[i], self.channels, self.size)


def folder_layout(folder: Path, classes: list[str] | None = None, size: tuple[int, int] | None = None,
                  colour: bool = False) -> FolderLayout:
    """The layout of the images under ``folder`` (module docstring; ``classes`` as ``folder_listing``);
    ``size`` (width, height) resizes every image to it, else the most common size is kept and a
    warning says how many were resized; ``colour`` makes the set RGB even when every image is grey."""
    files, ids, labels, class_names = folder_listing(folder, classes)
    headers = [_header(path) for path in files]
    channels = 1 if all(grey for grey, _ in headers) and not colour else 3
    if size is None:
        sizes = Counter(shape for _, shape in headers)
        size, count = sizes.most_common(1)[0]
        if count < len(files):
            warn_user(
                f"{len(files) - count} of {len(files)} images in '{folder}' are not {size[0]}x{size[1]}; "
                f"resized them to that most common size (bilinear)"
            )
    return FolderLayout(files, ids, labels, class_names, [grey for grey, _ in headers], channels, size)


def folder_fingerprint(files: list[Path], ids: list[str]) -> dict:
    """The folder's identity without decoding it: its images' relative names, sizes and
    modification times."""
    digest = hashlib.sha256()
    for path, item in zip(files, ids):
        stat = os.stat(path)
        digest.update(f"{item}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return {"count": len(ids), "files_sha256": digest.hexdigest()}


def read_image_folder(folder: str | Path, progress: bool = True, layout: FolderLayout | None = None) -> Dataset:
    """Read every image under ``folder`` (found as ``layout`` says, when given) into (N, C, H, W)
    uint8, labelled by class sub-folder if any."""
    folder = Path(folder)
    layout = layout if layout is not None else folder_layout(folder)
    images = np.empty(layout.shape, dtype=np.uint8)
    show = progress and len(layout.files) > PROGRESS_MIN_FILES
    for i in tqdm(range(len(images)), desc=f"reading {folder.name}", unit="img", disable=not show):
        images[i] = layout.pixels(i)
    return Dataset(images, layout.labels, layout.ids, name=folder.resolve().name, class_names=layout.class_names)
