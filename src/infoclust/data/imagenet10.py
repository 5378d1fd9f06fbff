"""ImageNet-10 (Chang et al., DAC, 2017; DCCS's Table 1): the 13,000 ILSVRC2012 training images of
10 classes, resized to 96×96 RGB (bilinear, aspect not kept, as the papers' "resized to 96 × 96").
ImageNet cannot be downloaded without an account: the reader takes the ILSVRC2012 training folder
(one sub-folder per WordNet id, as distributed) from ``root`` (or ``root/imagenet-10``, or the
cache folder holding just these 10 sub-folders) and reads only the 10 classes. More than
256 MiB of pixels: read through the on-disk pixel cache."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..errors import DataError
from .dataset import Dataset
from .folder import folder_layout
from .pixel_cache import image_folder
from .sources import search_dirs

# the class list of DAC's ImageNet-10, as DCCS and later clustering papers use it (WordNet id, name)
CLASSES = [("n02056570", "king penguin"), ("n02085936", "Maltese dog"), ("n02128757", "snow leopard"),
           ("n02690373", "airliner"), ("n02692877", "airship"), ("n03095699", "container ship"),
           ("n04254680", "soccer ball"), ("n04285008", "sports car"), ("n04467665", "trailer truck"),
           ("n07747607", "orange")]
SIZE = (96, 96)


def load_imagenet10(split: str = "all", root: str | Path | None = None, download: bool = True,
                    progress: bool = True) -> Dataset:
    """ImageNet-10's 13,000 images as N×3×96×96 uint8 with labels 0..9 in ``CLASSES`` order; ids
    "<wnid>/<file name>". ``download`` is accepted and ignored: nothing can be downloaded."""
    wnids = [wnid for wnid, _ in CLASSES]
    folders = search_dirs("imagenet-10", root)
    found = next((folder for folder in folders if all((folder / wnid).is_dir() for wnid in wnids)), None)
    if found is None:
        raise DataError(f"imagenet-10: no folder with the sub-folders {', '.join(wnids)} in "
                        f"{', '.join(map(str, folders))}; ImageNet cannot be downloaded without an account: set "
                        "data.root to your ILSVRC2012 training folder (one sub-folder per class)")
    layout = folder_layout(found, classes=wnids, size=SIZE, colour=True)
    data = image_folder(found, progress, layout)
    return replace(data, name="imagenet-10", split=split, class_names=[name for _, name in CLASSES])
