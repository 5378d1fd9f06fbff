"""A folder of N generated colour JPEGs with class sub-folders, for measuring the photo-collection
path (issue 30) at sizes no real folder on this machine has:

    python benchmarks/make_photo_folder.py --n 100000 --size 96 --out PHOTOS
    python benchmarks/make_photo_folder.py --n 1000 --first 100000 --out NEW_PHOTOS   (held back)

Photo i: a random square crop of one of scikit-learn's two sample photographs (china, flower),
resized to SIZE, with one Fashion-MNIST item (training split, item i mod 60,000) scaled to half of
SIZE and pasted at a random place (its non-zero pixels, in grey), saved as JPEG quality 90 in the
sub-folder of the item's class (``PHOTOS/<class>/<i>.jpg``). Deterministic in --seed; written by
--workers processes; an existing photo is kept, so a stopped run continues.
"""
from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path

import numpy as np
from PIL import Image

from infoclust.data import load_dataset

_STATE: dict = {}


def _setup(out: Path, size: int, seed: int) -> None:
    from sklearn.datasets import load_sample_images

    items = load_dataset("fashion-mnist", split="train", progress=False)
    _STATE.update(out=out, size=size, seed=seed, photos=list(load_sample_images().images), items=items.images[:, 0],
                  labels=items.labels, names=[name.replace("/", "-") for name in items.class_names])


def photo(i: int) -> tuple[Image.Image, str]:
    """Photo ``i`` and the name of its class (see the module docstring)."""
    s = _STATE
    rng = np.random.default_rng([s["seed"], i])
    size, item = s["size"], i % len(s["items"])
    background = s["photos"][int(rng.integers(len(s["photos"])))]
    crop = int(rng.integers(size, min(background.shape[:2]) + 1))
    y, x = (int(rng.integers(0, background.shape[axis] - crop + 1)) for axis in (0, 1))
    canvas = np.asarray(Image.fromarray(background[y:y + crop, x:x + crop]).resize((size, size), Image.BILINEAR)).copy()
    side = size // 2
    pasted = np.asarray(Image.fromarray(s["items"][item]).resize((side, side), Image.BILINEAR))
    top, left = (int(rng.integers(0, size - side + 1)) for _ in range(2))
    covered = pasted > 24
    canvas[top:top + side, left:left + side][covered] = pasted[covered, None]
    return Image.fromarray(canvas), s["names"][int(s["labels"][item])]


def write(i: int) -> None:
    image, name = photo(i)
    path = _STATE["out"] / name / f"{i:07d}.jpg"
    if not path.exists():
        partial = path.with_suffix(".jpg.partial")
        image.save(partial, format="JPEG", quality=90)
        partial.rename(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="the first photo's number (photos FIRST .. FIRST+N-1)")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    _setup(args.out, args.size, args.seed)
    for name in _STATE["names"]:
        (args.out / name).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for _ in pool.imap_unordered(write, range(args.first, args.first + args.n), chunksize=256):
            pass
    print(f"{args.n} photos of {args.size}x{args.size} in {args.out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
