"""Write the Fashion-MNIST mosaic segmentation benchmark (issue 12) as a segmentation folder:

    python benchmarks/make_mosaics.py BENCH_DIR/mosaics --train 2000 --test 500 --size 64 --seed 0
    python benchmarks/make_mosaics.py BENCH_DIR/mosaics-dense --items 12 16   # background 45 % instead of 68 %
    infoclust train --method iic-seg --data BENCH_DIR/mosaics ...

Training mosaics use Fashion-MNIST's training items and the test mosaics its test items, both on
crops of scikit-learn's two sample photographs (``infoclust.data.mosaics``); OUT gets train/ and
test/ (images/ + labels/ each, labels 0 background, 1 tops, 2 footwear, 3 other) and classes.txt.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from sklearn.datasets import load_sample_images

from infoclust.data import load_dataset
from infoclust.data.mosaics import CLASS_NAMES, make_mosaics
from infoclust.data.segmentation import write_segmentation_folder
from infoclust.errors import InfoclustError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="new folder to write")
    parser.add_argument("--train", type=int, default=2000, help="training mosaics (default 2000)")
    parser.add_argument("--test", type=int, default=500, help="test mosaics (default 500)")
    parser.add_argument("--size", type=int, default=64, help="side in px (default 64)")
    parser.add_argument("--items", type=int, nargs=2, default=(3, 6), metavar=("MIN", "MAX"),
                        help="items pasted per mosaic, drawn from MIN..MAX (default 3 6): more = less background")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    photos = list(load_sample_images().images)
    splits = {}
    for offset, split, count in ((0, "train", args.train), (1, "test", args.test)):
        items = load_dataset("fashion-mnist", split=split, progress=False)
        splits[split] = make_mosaics(items.images[:, 0], items.labels, photos, count, args.size,
                                       tuple(args.items), seed=args.seed * 2 + offset)
    try:
        write_segmentation_folder(Path(args.out), splits, CLASS_NAMES)
    except InfoclustError as error:
        raise SystemExit(f"make_mosaics.py: error: {error}") from None
    print(f"wrote {args.train} + {args.test} mosaics of {args.size}×{args.size} px to {args.out}")


if __name__ == "__main__":
    main()
