"""Readers for the IIC authors' prepared segmentation folders (their layouts, described in
docs/reference/iic-segmentation-data.md): Potsdam / Potsdam-3 and COCO-Stuff-15 / COCO-Stuff-3.
Neither can be downloaded by infoclust (the prepared archives come from the IIC repository's
instructions); a folder is looked for in ``root``, ``root/potsdam`` (``root/cocostuff``) and the
cache folder of that name.

Potsdam (``imgs/<id>.mat`` key ``img`` 200×200×4 uint8 R, G, B, IR; ``gt/<id>.mat`` key ``gt``
int32 0..5; ``unlabelled_train.txt``, ``labelled_train.txt``, ``labelled_test.txt``): splits
"train" (unlabelled + labelled train), "test" (labelled test), "labelled" (labelled train + test,
the IIC paper's evaluation set) and "all" (the three, its training set). Unlabelled tiles get
label maps of −1. Only R, G, B are kept (the IR channel is dropped: docs/methods.md).

COCO-Stuff (``images/{train2017,val2017}/<id>.jpg``, ``annotations/<same>/<id>.png`` with fine ids
0..181 and 255 = unlabelled, ``curated/<same>/<list>.txt``): splits "train" (train2017), "test"
(val2017), "all" (both). As the IIC code: each image is scaled by 0.33 (bilinear; labels nearest)
and its centre 128×128 kept (zero padding, padded pixels unlabelled). Fine ids map to the 27 coarse
classes; COCO-Stuff-15 keeps the 15 stuff classes (things and unlabelled → −1), COCO-Stuff-3 sky,
plant, ground (everything else → −1; unlabelled pixels stay unlabelled, unlike the code, which
makes them sky). Images are read as RGB (the code reads BGR and never converts).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import DataError
from .dataset import Dataset
from .sources import search_dirs

POTSDAM_NAMES = ["roads and cars", "buildings and clutter", "vegetation and trees"]
POTSDAM6_NAMES = ["road", "building", "low vegetation", "tree", "car", "clutter"]
POTSDAM3_OF_6 = np.array([0, 1, 2, 2, 0, 1])  # road+car, building+clutter, low vegetation+tree
POTSDAM_SPLITS = {"train": ("unlabelled_train", "labelled_train"), "test": ("labelled_test",),
                  "labelled": ("labelled_train", "labelled_test"),
                  "all": ("unlabelled_train", "labelled_train", "labelled_test")}

# fine COCO-Stuff id (0..181) → coarse id (0..26; 0–11 things, 12–26 stuff), by coarse class
_COARSE_MEMBERS = {
    0: range(71, 77), 1: range(77, 83), 2: range(51, 61), 3: range(61, 71), 4: range(83, 91), 5: range(43, 51),
    6: range(25, 33), 7: range(15, 25), 8: range(9, 15), 9: [0], 10: range(33, 43), 11: range(1, 9),
    12: [101, 102], 13: [100, 113, 114, 115, 116, 117], 14: [120, 121, 152, 169],
    15: [97, 106, 107, 109, 111, 122, 129, 132, 155, 160, 164], 16: [99, 131, 138, 142],
    17: [91, 92, 103, 104, 108, 130, 136, 140, 151, 166, 167], 18: range(170, 177), 19: [179, 180],
    20: [94, 95, 127, 150, 157, 165], 21: [110, 124, 125, 135, 139, 143, 144, 146, 148, 153, 158],
    22: [93, 96, 118, 123, 128, 133, 141, 162, 168], 23: [105, 156], 24: [126, 134, 149, 159, 161, 181],
    25: [98, 112, 137, 145, 163], 26: [119, 147, 154, 177, 178],
}
FINE_TO_COARSE = np.full(256, -1, dtype=np.int64)  # 255 (unlabelled) and unused ids → −1
for _coarse, _fine in _COARSE_MEMBERS.items():
    FINE_TO_COARSE[list(_fine)] = _coarse
COCO15_NAMES = ["ceiling", "floor", "food", "furniture", "rawmaterial", "textile", "wall", "window", "building",
                "ground", "plant", "sky", "solid", "structural", "water"]
COCO3_NAMES = ["sky", "plant", "ground"]
COCO = {  # name → (curated list, coarse → class, class names)
    "cocostuff-15": ("Coco164kFull_Stuff_Coarse_7.txt", np.array([-1] * 12 + list(range(15))), COCO15_NAMES),
    "cocostuff-3": ("Coco164kFew_Stuff_6.txt", np.array([-1] * 21 + [2, 1, 0, -1, -1, -1]), COCO3_NAMES),
}
COCO_SPLITS = {"train": ("train2017",), "test": ("val2017",), "all": ("train2017", "val2017")}
COCO_SCALE, COCO_SIDE = 0.33, 128


def _folder(name: str, root: str | None, marker: str) -> Path:
    """The first searched folder (``root``, ``root/<family>``, the cache's ``<family>``; family:
    potsdam or cocostuff, shared by a set's variants) that holds ``marker``."""
    folders = search_dirs(name.split("-")[0], root)
    for folder in folders:
        if (folder / marker).exists():
            return folder
    raise DataError(f"{name}: no prepared folder found in {', '.join(map(str, folders))} (looked for {marker}); "
                    "download the IIC authors' prepared archive and pass its folder as data.root")


def _ids(path: Path) -> list[str]:
    try:
        return [line.rstrip() for line in path.read_text().splitlines() if line.strip()]
    except OSError as error:
        raise DataError(f"'{path}' cannot be read ({error.strerror}); expected the list of image ids") from None


def _mat(path: Path, key: str) -> np.ndarray:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        content = loadmat(path)
    except (OSError, ValueError, TypeError, MatReadError) as error:
        raise DataError(f"'{path}' cannot be read as a .mat file ({error}); expected the IIC prepared tile") from None
    if key not in content:
        raise DataError(f"'{path}' has no variable '{key}'; expected the IIC prepared tile")
    return content[key]


def load_potsdam(name: str, split: str, root: str | None, download: bool = False, progress: bool = True) -> Dataset:
    """Potsdam (6 classes) or Potsdam-3 (``name`` "potsdam-3"). ``download`` is there for the
    registry's loader signature only: there is nothing infoclust could download."""
    folder = _folder(name, root, "labelled_test.txt")
    images, labels, ids = [], [], []
    parts = [(part, tile) for part in POTSDAM_SPLITS[split] for tile in _ids(folder / f"{part}.txt")]
    for part, tile in tqdm(parts, desc=f"reading {name}", disable=not progress or len(parts) < 2000):
        image = _mat(folder / "imgs" / f"{tile}.mat", "img")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] < 3:
            raise DataError(f"'{folder / 'imgs' / tile}.mat': 'img' is {image.dtype} {image.shape}; expected uint8 H×W×4")
        images.append(image[..., :3].transpose(2, 0, 1))
        if part == "unlabelled_train":
            labels.append(np.full(image.shape[:2], -1, dtype=np.int64))
        else:
            gt = _mat(folder / "gt" / f"{tile}.mat", "gt").astype(np.int64)
            if gt.shape != image.shape[:2] or gt.min() < 0 or gt.max() > 5:
                raise DataError(f"'{folder / 'gt' / tile}.mat': 'gt' has shape {gt.shape} and values {gt.min()}..{gt.max()}; "
                                f"expected {image.shape[:2]} with classes 0..5")
            labels.append(POTSDAM3_OF_6[gt] if name == "potsdam-3" else gt)
        ids.append(f"{part}/{tile}")
    names = POTSDAM_NAMES if name == "potsdam-3" else POTSDAM6_NAMES
    return Dataset(np.stack(images), np.stack(labels), ids, name, split, names)


def _centre(array: np.ndarray, side: int, fill: int) -> np.ndarray:
    """The centre side×side of an H×W(×C) array, padded with ``fill`` where it is smaller."""
    h, w = array.shape[:2]
    out = np.full((side, side, *array.shape[2:]), fill, dtype=array.dtype)
    top, left = (h - side) // 2, (w - side) // 2
    src_y, src_x = max(top, 0), max(left, 0)
    dst_y, dst_x = max(-top, 0), max(-left, 0)
    rows, cols = min(h, side), min(w, side)
    out[dst_y:dst_y + rows, dst_x:dst_x + cols] = array[src_y:src_y + rows, src_x:src_x + cols]
    return out


def load_cocostuff(name: str, split: str, root: str | None, download: bool = False, progress: bool = True) -> Dataset:
    """COCO-Stuff-15 or COCO-Stuff-3 (``name``), scaled and centre-cropped as the IIC code; as
    ``load_potsdam``, nothing to download."""
    listing, coarse_to_class, names = COCO[name]
    folder = _folder(name, root, "curated")
    images, labels, ids = [], [], []
    parts = [(part, image_id) for part in COCO_SPLITS[split] for image_id in _ids(folder / "curated" / part / listing)]
    for part, image_id in tqdm(parts, desc=f"reading {name}", disable=not progress or len(parts) < 2000):
        try:
            with Image.open(folder / "images" / part / f"{image_id}.jpg") as im:
                image = im.convert("RGB")
            with Image.open(folder / "annotations" / part / f"{image_id}.png") as im:
                fine = im.convert("L") if im.mode != "L" else im.copy()
        except (OSError, SyntaxError) as error:
            raise DataError(f"{name} image {part}/{image_id} cannot be read ({error}); expected the COCO-Stuff "
                            "image and its label PNG") from None
        if fine.size != image.size:
            raise DataError(f"{name} {part}/{image_id}: label is {fine.size} but image {image.size}; expected one size")
        size = (max(1, round(image.width * COCO_SCALE)), max(1, round(image.height * COCO_SCALE)))
        pixels = _centre(np.asarray(image.resize(size, Image.BILINEAR)), COCO_SIDE, 0)
        fine_ids = _centre(np.asarray(fine.resize(size, Image.NEAREST)), COCO_SIDE, 255)
        coarse = FINE_TO_COARSE[fine_ids]
        labels.append(np.where(coarse >= 0, coarse_to_class[coarse], -1))
        images.append(pixels.transpose(2, 0, 1))
        ids.append(f"{part}/{image_id}")
    return Dataset(np.stack(images), np.stack(labels).astype(np.int64), ids, name, split, names)
