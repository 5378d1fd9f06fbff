"""Write a dataset as N×D float32 feature vectors (a .npz with ``images`` and ``labels``) for the
benchmarks of the vector methods (IMSAT on vectors, issue 3):

    python benchmarks/make_vectors.py digits bench/digits-vectors.npz          # 1797 × 64, values 0..16
    python benchmarks/make_vectors.py fashion-mnist bench/fmnist-vectors.npz   # 70000 × 784, pixels / 255
    python benchmarks/quality.py --method imsat --data bench/digits-vectors.npz --seeds 0 1 2 --out bench/imsat

``digits`` is scikit-learn's ``load_digits(return_X_y=True)`` unchanged (the README's example); any
other name is loaded by infoclust (train and test merged) and flattened, pixels scaled to [0, 1].
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from infoclust.data import load_dataset
from infoclust.runs import atomic_write_bytes


def vectors(name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(N×D float32 vectors, labels or None) of dataset ``name``."""
    if name == "digits":
        x, y = load_digits(return_X_y=True)
        return x.astype(np.float32), y
    data = load_dataset(name, split="all")
    return data.images.reshape(len(data.images), -1).astype(np.float32) / 255, data.labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="dataset name, e.g. digits or fashion-mnist")
    parser.add_argument("out", help="the .npz to write")
    args = parser.parse_args()
    x, y = vectors(args.name)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"images": x} if y is None else {"images": x, "labels": y}

    buffer = io.BytesIO()  # a buffer: given a path without .npz, savez would add the suffix
    np.savez(buffer, **arrays)
    atomic_write_bytes(out, buffer.getvalue())
    print(f"{out}: {x.shape[0]} × {x.shape[1]} vectors{'' if y is None else ', with labels'}")


if __name__ == "__main__":
    main()
