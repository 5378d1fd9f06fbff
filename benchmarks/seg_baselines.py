"""Baselines for a segmentation folder (issue 12), scored as iic-seg runs are (pixel accuracy after
the Hungarian matching over all labelled pixels, per-class IoU):

    python benchmarks/seg_baselines.py BENCH_DIR/mosaics --seeds 0 1 2

- majority: every pixel gets the most frequent class of the scored pixels (the trivial reference);
- k-means: K clusters (K = the classes) of per-pixel features [R, G, B, y/H, x/W], colour in [0, 1]
  and position weighted by ``--position-weight``, fitted on ``--fit-pixels`` random pixels of the
  training split and applied to every pixel of the evaluation split (scikit-learn, 10 starts).

Prints a markdown row per baseline and seed, then the mean, then the class shares of the scored
pixels by distance to the nearest image border (bands of ``--band`` px): where a dataset's classes
lie in the frame, which a segmentation network sees only within its receptive field of the border.
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.cluster import KMeans

from infoclust.data import load_dataset
from infoclust.evaluation import class_iou, cluster_acc


def pixel_features(images: np.ndarray, position_weight: float) -> np.ndarray:
    """(N·H·W)×5 features of uint8 N×C×H×W images: colour in [0, 1] (grey repeated), then y/H and
    x/W times ``position_weight``; image by image, row-major, as label maps flatten."""
    n, c, h, w = images.shape
    colour = np.repeat(images, 3 // c, axis=1) / 255.0
    ys, xs = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    position = np.broadcast_to(np.stack([ys, xs]) * position_weight, (n, 2, h, w))
    return np.concatenate([colour, position], axis=1).transpose(0, 2, 3, 1).reshape(-1, 5).astype(np.float32)


def scores(pred: np.ndarray, labels: np.ndarray, k: int) -> tuple[float, float]:
    """(pixel ACC, mean IoU) of per-pixel clusters against labels (−1 = not scored)."""
    scored = labels >= 0
    return cluster_acc(pred[scored], labels[scored], k), float(np.nanmean(class_iou(pred[scored], labels[scored], k)))


def shares_by_border_distance(labels: np.ndarray, k: int, band: int) -> list[tuple[int, int, np.ndarray]]:
    """(first px, last px, K class shares of the scored pixels) per band of ``band`` px of distance to
    the nearest border, for N×H×W label maps (−1 = not scored); a pixel on the border is at 0 px."""
    h, w = labels.shape[1:]
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    distance = np.minimum(np.minimum(rows, h - 1 - rows), np.minimum(cols, w - 1 - cols))  # H×W
    last = int(distance.max())  # the centre's distance
    bands = []
    for first in range(0, last + 1, band):
        inside = labels[:, (distance >= first) & (distance < first + band)]
        counts = np.bincount(inside[inside >= 0], minlength=k)
        bands.append((first, min(first + band - 1, last), counts / max(counts.sum(), 1)))
    return bands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="segmentation folder with train/ and test/")
    parser.add_argument("--eval-split", default="test")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--position-weight", type=float, default=1.0)
    parser.add_argument("--fit-pixels", type=int, default=200_000)
    parser.add_argument("--band", type=int, default=8, help="px per band of distance to the border")
    args = parser.parse_args()
    fit, evaluate = (load_dataset(args.data, split=s, progress=False) for s in ("train", args.eval_split))
    labels = evaluate.labels.reshape(-1)
    k = evaluate.n_classes
    majority = np.full_like(labels, np.bincount(labels[labels >= 0]).argmax())
    rows = [("majority class", None, *scores(majority, labels, k))]
    fit_features = pixel_features(fit.images, args.position_weight)
    eval_features = pixel_features(evaluate.images, args.position_weight)
    for seed in args.seeds:
        sample = np.random.default_rng(seed).choice(len(fit_features), min(args.fit_pixels, len(fit_features)), replace=False)
        model = KMeans(k, n_init=10, random_state=seed).fit(fit_features[sample])
        rows.append(("k-means on colour + position", seed, *scores(model.predict(eval_features), labels, k)))
    print(f"{evaluate.name}, evaluated on '{args.eval_split}' ({len(evaluate)} images, {int((labels >= 0).sum())} "
          f"labelled pixels, {k} classes), position weight {args.position_weight}\n")
    print("| baseline | seed | pixel ACC | mIoU |")
    print("|---|---|---|---|")
    for name, seed, acc, miou in rows:
        print(f"| {name} | {'—' if seed is None else seed} | {acc:.4f} | {miou:.4f} |")
    kmeans = np.array([r[2] for r in rows[1:]])
    print(f"\nk-means mean pixel ACC over seeds {args.seeds}: {kmeans.mean():.4f} ± {kmeans.std():.4f}")
    print("\n| px from the border | " + " | ".join(evaluate.class_names) + " |")
    print("|---|" + "---|" * k)
    for first, last, shares in shares_by_border_distance(evaluate.labels, k, args.band):
        print(f"| {first}-{last} | " + " | ".join(f"{share:.3f}" for share in shares) + " |")


if __name__ == "__main__":
    main()
