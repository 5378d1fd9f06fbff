"""The photos behind an embedding, shown as thumbnails read when indexed."""
import numpy as np
from PIL import Image

from infoclust.data.thumbnails import THUMBNAIL_PX, PhotoThumbnails


def test_a_thumbnail_keeps_the_photos_aspect_on_white(tmp_path):
    wide = np.zeros((10, 40, 3), dtype=np.uint8)  # black, four times wider than high
    Image.fromarray(wide).save(tmp_path / "wide.png")
    Image.fromarray(np.full((30, 30), 77, dtype=np.uint8)).save(tmp_path / "grey.png")
    thumbs = PhotoThumbnails(tmp_path, ["wide.png", "grey.png"])
    got = thumbs[np.array([1, 0])]
    assert got.shape == (2, 3, THUMBNAIL_PX, THUMBNAIL_PX) and got.dtype == np.uint8
    assert (got[0] == 77).all()  # grey fills the square, in R, G and B
    rows_black = (got[1] == 0).all(axis=(0, 2))
    assert rows_black.sum() == THUMBNAIL_PX // 4 and got[1, :, 0].min() == 255  # a black band, white above it
