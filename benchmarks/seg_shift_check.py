"""Do a segmentation run's clusters follow the image content or the frame? (issue 12)

    python benchmarks/seg_shift_check.py RUN_DIR [--images 200] [--shift 16]

Predicts the run's evaluation images as they are and rolled by ``shift`` px along both axes (the
content moves, the frame stays), then compares the two cluster maps after undoing the roll
(content) and without undoing it (frame), on the pixels at least ``shift`` px from every border
and from the roll's seam in the maps compared (on 64 px images and a 16 px shift: 16×16 pixels each). A clustering by content agrees near 1 in the first and at
chance in the second; one by position (distance to the border, top against bottom) the other way
round. Prints one JSON object: agreement_content, agreement_frame, images, shift, pixels (content, frame).
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from infoclust.engine import Trainer, load_trainer


def cluster_maps(trainer: Trainer, images: torch.Tensor) -> np.ndarray:
    """N×H×W clusters of the reported head's selected sub-head for uint8 N×C×H×W ``images``."""
    posteriors = trainer.reported_posteriors(trainer.predict_posteriors(images), trainer.selected_sub_head)
    return posteriors.argmax(axis=1).reshape(len(images), *images.shape[-2:])


def shift_agreement(trainer: Trainer, n_images: int, shift: int) -> dict:
    """The figures above for the first ``n_images`` evaluation images."""
    images = torch.as_tensor(np.asarray(trainer.eval_dataset.images[:n_images]))
    h, w = images.shape[-2:]
    if not 0 < shift <= min(h, w) // 4:
        raise SystemExit(f"seg_shift_check.py: error: --shift {shift}: expected 1 to {min(h, w) // 4} px for {h}×{w} "
                         "images (pixels must be that far from borders and seam in both maps)")
    plain = cluster_maps(trainer, images)
    rolled = cluster_maps(trainer, torch.roll(images, shifts=(shift, shift), dims=(-2, -1)))
    back = np.roll(rolled, shift=(-shift, -shift), axis=(-2, -1))  # back[p] = rolled[p + shift]
    # a pixel counts where every map it is read from is at least ``shift`` px from that map's border
    # and, in the rolled map, from the seam at ``shift`` where the roll wraps the content
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    far_plain = (rows >= shift) & (rows < h - shift) & (cols >= shift) & (cols < w - shift)
    far_rolled = (rows >= 2 * shift) & (rows < h - shift) & (cols >= 2 * shift) & (cols < w - shift)
    content = far_plain & np.roll(far_rolled, shift=(-shift, -shift), axis=(0, 1))
    frame = far_plain & far_rolled
    return {"agreement_content": float((plain == back)[:, content].mean()),
            "agreement_frame": float((plain == rolled)[:, frame].mean()),
            "images": len(images), "shift": shift, "pixels": [int(content.sum()), int(frame.sum())]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--shift", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(shift_agreement(load_trainer(args.run), args.images, args.shift)))


if __name__ == "__main__":
    main()
