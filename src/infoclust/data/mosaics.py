"""A segmentation benchmark made of real images (issue 12): Fashion-MNIST items pasted onto crops of
scikit-learn's two sample photographs, with a 4-class label per pixel, an analogue of COCO-Stuff-3.

Each mosaic is a random square crop of one photograph (a side of 1 to 2 × ``size``, resized to
``size``), onto which 3 to 6 random items (28×28) are pasted at random positions, later ones over
earlier ones. An item covers exactly its own non-zero pixels (its grey value in every channel)
and labels them with its group; every other pixel is background.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError

CLASS_NAMES = ["background", "tops", "footwear", "other"]
# Fashion-MNIST class → group: tops (T-shirt/top, pullover, dress, coat, shirt), footwear (sandal,
# sneaker, ankle boot), other (trouser, bag)
FASHION_GROUPS = np.array([1, 3, 1, 1, 1, 2, 1, 2, 3, 2])


def make_mosaics(items: np.ndarray, item_classes: np.ndarray, photos: list[np.ndarray], count: int,
                 size: int = 64, per_image: tuple[int, int] = (3, 6), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 count×3×size×size, label maps int64 count×size×size with 0 background, 1 tops,
    2 footwear, 3 other) from Fashion-MNIST ``items`` (M×28×28 uint8) of classes ``item_classes``
    (M,) and ``photos`` (H×W×3 uint8, each at least ``size`` px a side), drawn with ``seed``."""
    side = items.shape[-1]
    if size < side:
        raise ValueError(f"mosaic size {size} px is smaller than an item ({side} px); expected at least {side}")
    rng = np.random.default_rng(seed)
    images = np.empty((count, 3, size, size), dtype=np.uint8)
    labels = np.zeros((count, size, size), dtype=np.int64)
    for n in range(count):
        photo = photos[rng.integers(len(photos))]
        crop = int(rng.integers(size, min(2 * size, *photo.shape[:2]) + 1))
        y, x = (int(rng.integers(0, photo.shape[i] - crop + 1)) for i in (0, 1))
        canvas = np.asarray(Image.fromarray(photo[y:y + crop, x:x + crop]).resize((size, size), Image.BILINEAR)).copy()
        for _ in range(int(rng.integers(per_image[0], per_image[1] + 1))):
            i = int(rng.integers(len(items)))
            top, left = (int(rng.integers(0, size - side + 1)) for _ in range(2))
            covered = items[i] > 0
            canvas[top:top + side, left:left + side][covered] = items[i][covered, None]
            labels[n, top:top + side, left:left + side][covered] = FASHION_GROUPS[item_classes[i]]
        images[n] = canvas.transpose(2, 0, 1)
    return images, labels


def write_mosaics(out: str | Path, train: int = 2000, test: int = 500, size: int = 64,
                  per_image: tuple[int, int] = (3, 6), seed: int = 0) -> None:
    """Write the mosaic benchmark as a new segmentation folder ``out`` (train/ and test/, each
    images/ + labels/, and classes.txt): ``train`` mosaics of Fashion-MNIST's training items and
    ``test`` of its test items, on crops of scikit-learn's two sample photographs."""
    from sklearn.datasets import load_sample_images

    from .registry import load_dataset
    from .segmentation import write_segmentation_folder

    if train < 1 or test < 1 or not 1 <= per_image[0] <= per_image[1]:
        raise DataError(f"mosaics: {train} train, {test} test, {per_image[0]} to {per_image[1]} items each: expected "
                        "at least one mosaic per split and 1 ≤ MIN ≤ MAX items")
    photos = list(load_sample_images().images)
    splits = {}
    for offset, split, count in ((0, "train", train), (1, "test", test)):
        items = load_dataset("fashion-mnist", split=split, progress=False)
        try:
            splits[split] = make_mosaics(items.images[:, 0], items.labels, photos, count, size, per_image,
                                         seed=seed * 2 + offset)
        except ValueError as error:
            raise DataError(f"mosaics: {error}") from None
    write_segmentation_folder(Path(out), splits, CLASS_NAMES)
