"""Named datasets and path dispatch: the one entry point ``load_dataset``, and the splits each name has."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, DataError
from .arrays import read_arrays
from .cifar import load_cifar
from .dataset import Dataset
from .digits import load_digits
from .embedding import is_embedding_folder, read_embedding
from .imagenet10 import load_imagenet10
from .pixel_cache import image_folder
from .iic_segmentation import COCO_SPLITS, POTSDAM_SPLITS, load_cocostuff, load_potsdam
from .segmentation import is_segmentation_folder, read_segmentation_folder
from .mnist import load_mnist_format
from .stl10 import SPLITS as STL10_SPLITS
from .stl10 import load_stl10
from .svhn import load_svhn

SPLITS = ("all", "train", "test")  # most named datasets have these; some more or fewer (see _Named.splits)
ARRAY_SUFFIXES = (".npy", ".npz")
PATH_FORMS = "a path to an image folder / segmentation folder (images/ + labels/) / .npy / .npz file"


@dataclass(frozen=True)
class _Named:
    summary: str
    load: Callable[[str, str | None, bool, bool], Dataset]  # (split, root, download, progress)
    splits: tuple[str, ...] = SPLITS
    # per-channel (mean, std) of the pixels in [0, 1] as the papers' code normalises them, None = unknown
    channel_stats: tuple[tuple[float, ...], tuple[float, ...]] | None = None


DATASETS = {
    "cifar10": _Named(
        "Krizhevsky's 32x32 colour images, 10 classes; 50,000 train + 10,000 test; the binary version "
        "(cifar-10-binary.tar.gz, a 170 MB download) read from root or the cache, or downloaded",
        partial(load_cifar, "cifar10"),
        channel_stats=((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    ),
    "cifar100-20": _Named(
        "CIFAR-100's 32x32 colour images labelled by their 20 coarse super-classes (IIC's CIFAR100-20); "
        "50,000 train + 10,000 test; cifar-100-binary.tar.gz (a 169 MB download) read from root or the cache, "
        "or downloaded",
        partial(load_cifar, "cifar100-20"),
        channel_stats=((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    ),
    "cocostuff-15": _Named(
        "COCO-Stuff's 15 stuff classes per pixel (IIC's COCO-Stuff), 128x128 centre crops of the images scaled "
        "by 0.33; the IIC authors' prepared folder (images/, annotations/, curated/) read from root or the cache, "
        "no download; splits train (train2017), test (val2017), all",
        partial(load_cocostuff, "cocostuff-15"),
        tuple(COCO_SPLITS),
    ),
    "cocostuff-3": _Named(
        "COCO-Stuff-3: sky, plant, ground per pixel (other pixels unlabelled), prepared as cocostuff-15",
        partial(load_cocostuff, "cocostuff-3"),
        tuple(COCO_SPLITS),
    ),
    "digits": _Named(
        "scikit-learn's 1,797 8x8 grey handwritten digits, 10 classes; bundled, no download; "
        "no official split: train = first 1,500, test = last 297",
        lambda split, root, download, progress: load_digits(split),
    ),
    "fashion-mnist": _Named(
        "Zalando's 28x28 grey clothing images, 10 classes; 60,000 train + 10,000 test; "
        "read from root, the cache, /usr/share/datasets/fashion-mnist or downloaded",
        partial(load_mnist_format, "fashion-mnist"),
    ),
    "imagenet-10": _Named(
        "DAC's 10 ImageNet classes (13,000 ILSVRC2012 training images) resized to 96x96 colour; no download "
        "(ImageNet needs an account): read from data.root, your ILSVRC2012 train/ folder; split all only",
        lambda split, root, download, progress: load_imagenet10(split, root, download, progress),
        ("all",),
    ),
    "mnist": _Named(
        "LeCun's 28x28 grey handwritten digits, 10 classes; 60,000 train + 10,000 test; "
        "read from root or the cache, or downloaded",
        partial(load_mnist_format, "mnist"),
    ),
    "potsdam": _Named(
        "ISPRS Potsdam's 6 classes per pixel on 200x200 RGB tiles (IR dropped); the IIC authors' prepared folder "
        "(imgs/, gt/, split lists) read from root or the cache, no download; splits train, test, labelled, all",
        partial(load_potsdam, "potsdam"),
        tuple(POTSDAM_SPLITS),
    ),
    "potsdam-3": _Named(
        "Potsdam-3: roads and cars, buildings and clutter, vegetation and trees; prepared as potsdam",
        partial(load_potsdam, "potsdam-3"),
        tuple(POTSDAM_SPLITS),
    ),
    "svhn": _Named(
        "Street View House Numbers, 32x32 colour digits, 10 classes; 73,257 train + 26,032 test; "
        "train_32x32.mat and test_32x32.mat (246 MB) read from root or the cache, or downloaded",
        load_svhn,
    ),
    "stl10": _Named(
        "Coates et al.'s 96x96 colour images, 10 classes; 5,000 train + 8,000 test, plus 100,000 unlabelled "
        "images in the extra splits 'unlabeled' and 'train+unlabeled' (which have no labels); "
        "stl10_binary.tar.gz (a 2.6 GB download) read from root or the cache, or downloaded",
        load_stl10,
        STL10_SPLITS,
        channel_stats=((0.43, 0.42, 0.39), (0.27, 0.26, 0.27)),
    ),
}
KNOWN_SPLITS = tuple(dict.fromkeys(split for named in DATASETS.values() for split in named.splits))


def list_datasets() -> list[str]:
    """Names accepted by ``load_dataset`` (besides paths), sorted."""
    return sorted(DATASETS)


def dataset_help(name: str | None = None) -> str:
    """One line about dataset ``name``, or one line per named dataset plus the accepted path forms."""
    if name is not None:
        if name not in DATASETS:
            raise ConfigError(f"unknown dataset '{name}': expected one of {', '.join(list_datasets())}")
        return f"{name}: {DATASETS[name].summary}"
    lines = [dataset_help(key) for key in list_datasets()]
    lines.append("<folder>: images under a folder (class sub-folders give labels); split 'all' only")
    lines.append("<folder> with images/ and labels/: segmentation images with a label PNG each (255 = "
                 "unlabelled); splits train and test when it has train/ and test/ sub-folders")
    lines.append("<file>.npy / .npz: an array of images or feature vectors (+ 'labels' in .npz); split 'all' only")
    return "\n".join(lines)


def load_dataset(
    name_or_path: str,
    split: str = "all",
    root: str | None = None,
    download: bool = True,
    progress: bool = True,
) -> Dataset:
    """Load a named dataset (see ``list_datasets``) or an image folder / .npy / .npz / embedding folder
    (``infoclust embed``'s output: N×D feature vectors) path.

    ``split``: "all" (train then test, the papers' protocol), "train" or "test"; stl10 also has
    "unlabeled" and "train+unlabeled" (loaded without labels); paths allow "all" only, except a
    segmentation folder with train/ and test/ sub-folders (``data.segmentation``).
    Names take precedence over same-named paths (write ``./digits`` for the folder).
    ``root`` is searched first for downloadable datasets; ``download`` allows fetching them.
    """
    key = name_or_path.lower()
    named = DATASETS.get(key)
    if named is not None:
        if split not in named.splits:
            raise ConfigError(_split_problem(split, key, named.splits))
        return named.load(split, root, download, progress)
    if split not in KNOWN_SPLITS:
        raise ConfigError(f"unknown split '{split}': expected one of {', '.join(SPLITS)}")
    path = Path(name_or_path).expanduser()
    if path.is_dir() and is_segmentation_folder(path):
        return read_segmentation_folder(path, split)
    if path.exists():
        if split != "all":
            raise ConfigError(f"split '{split}' is not available for '{path}': files and folders have split 'all' only")
        if path.is_dir() and is_embedding_folder(path):
            return read_embedding(path)
        if path.is_dir():
            return image_folder(path, progress=progress)
        if path.suffix.lower() in ARRAY_SUFFIXES:
            return read_arrays(path)
        raise DataError(f"'{path}' is neither a folder nor a .npy / .npz file; expected {PATH_FORMS}")
    if "/" in name_or_path or "\\" in name_or_path or path.suffix.lower() in ARRAY_SUFFIXES:
        raise DataError(f"'{path}' does not exist; expected a named dataset or {PATH_FORMS}")
    raise ConfigError(
        f"unknown dataset '{name_or_path}': expected one of {', '.join(list_datasets())}, or {PATH_FORMS}"
    )


def channel_stats(name_or_path: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Per-channel (mean, std) of a named dataset's pixels in [0, 1], as the papers' code
    normalises them; None for other datasets and paths."""
    named = DATASETS.get(name_or_path.lower())
    return None if named is None else named.channel_stats


def dataset_path(name_or_path: str) -> str | None:
    """The absolute path ``load_dataset(name_or_path)`` reads, or None for a named dataset."""
    if name_or_path.lower() in DATASETS:
        return None
    path = Path(name_or_path).expanduser()
    return str(path.resolve()) if path.exists() else None


def _split_problem(split: str, name: str, allowed: tuple[str, ...]) -> str:
    """Why dataset ``name`` cannot load ``split``, naming the splits it has."""
    if split in KNOWN_SPLITS:
        owners = ", ".join(key for key, named in sorted(DATASETS.items()) if split in named.splits)
        return (
            f"split '{split}' is not available for {name}: expected one of {', '.join(allowed)} "
            f"('{split}' is for {owners} only)"
        )
    return f"unknown split '{split}': expected one of {', '.join(allowed)}"
