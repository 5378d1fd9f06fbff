"""Small pictures of the photos behind feature vectors (an embedding of a folder), decoded only
when shown: the report's cluster and neighbour grids of a run trained on features."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import ImageOps

from .folder import decoded
from .lazy import LazyImages

THUMBNAIL_PX = 48  # the side of a thumbnail (the report's tile size)


class PhotoThumbnails(LazyImages):
    """(N, 3, ``THUMBNAIL_PX``, ``THUMBNAIL_PX``) uint8: photo ``folder/ids[i]`` scaled to fit the
    square (aspect kept, white around it), read from disk each time it is indexed."""

    def __init__(self, folder: str | Path, ids: list[str]):
        super().__init__((len(ids), 3, THUMBNAIL_PX, THUMBNAIL_PX))
        self.folder, self.ids = Path(folder), ids

    def rows(self, positions: np.ndarray) -> np.ndarray:
        side = (THUMBNAIL_PX, THUMBNAIL_PX)
        tiles = [np.asarray(ImageOps.pad(decoded(self.folder / self.ids[i]).convert("RGB"), side, color="white"))
                 for i in positions]
        return np.stack(tiles).transpose(0, 3, 1, 2) if tiles else np.empty((0, 3, *side), dtype=np.uint8)
