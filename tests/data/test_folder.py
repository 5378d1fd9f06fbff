import warnings

import numpy as np
import pytest
from PIL import Image

from infoclust.data.folder import read_image_folder
from infoclust.errors import DataError


def save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)
    return array


def grey(value, size=(6, 5)):
    return np.full(size, value, dtype=np.uint8)


def test_class_subfolders(tmp_path):
    cat = save(tmp_path / "cat" / "b.png", grey(10))
    save(tmp_path / "cat" / "a.PNG", grey(20))
    save(tmp_path / "dog" / "x.bmp", grey(30))
    save(tmp_path / "ant" / "deep" / "y.png", grey(40))
    (tmp_path / "README.txt").write_text("not an image")
    (tmp_path / "dog" / "notes.md").write_text("ignored too")
    (tmp_path / "empty-class").mkdir()

    data = read_image_folder(tmp_path, progress=False)

    assert data.ids == ["ant/deep/y.png", "cat/a.PNG", "cat/b.png", "dog/x.bmp"]
    assert data.class_names == ["ant", "cat", "dog"]
    assert data.labels.tolist() == [0, 1, 1, 2]
    assert data.labels.dtype == np.int64
    assert data.images.shape == (4, 1, 6, 5) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images[2, 0], cat)
    assert data.images[:, 0, 0, 0].tolist() == [40, 20, 10, 30]
    assert data.n_classes == 3
    assert data.name == tmp_path.name


def test_flat_folder_has_no_labels(tmp_path):
    save(tmp_path / "1.png", grey(1))
    save(tmp_path / "2.jpg", grey(2))
    save(tmp_path / "sub" / "3.png", grey(3))
    data = read_image_folder(tmp_path, progress=False)
    assert data.labels is None and data.class_names is None and data.n_classes is None
    assert data.ids == ["1.png", "2.jpg", "sub/3.png"]
    assert data.images.shape == (3, 1, 6, 5)


def test_hidden_entries_skipped(tmp_path):
    save(tmp_path / "a.png", grey(1))
    save(tmp_path / ".thumbs" / "a.png", grey(2))
    save(tmp_path / ".hidden.png", grey(3))
    assert read_image_folder(tmp_path, progress=False).ids == ["a.png"]


def test_mixed_grey_and_rgb_becomes_rgb(tmp_path):
    save(tmp_path / "a.png", grey(77))
    colour = np.zeros((6, 5, 3), dtype=np.uint8)
    colour[..., 0], colour[..., 2] = 200, 50
    save(tmp_path / "b.png", colour)
    data = read_image_folder(tmp_path, progress=False)
    assert data.images.shape == (2, 3, 6, 5)
    assert (data.images[0] == 77).all()
    assert data.images[1, :, 0, 0].tolist() == [200, 0, 50]


def test_rgba_drops_alpha(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 1], rgba[..., 3] = 99, 128
    save(tmp_path / "a.png", rgba)
    data = read_image_folder(tmp_path, progress=False)
    assert data.images.shape == (1, 3, 4, 4)
    assert data.images[0, :, 0, 0].tolist() == [0, 99, 0]


def test_sizes_differ_resized_to_most_common_with_warning(tmp_path):
    save(tmp_path / "a.png", grey(5, (8, 8)))
    save(tmp_path / "b.png", grey(6, (8, 8)))
    save(tmp_path / "c.png", grey(7, (4, 2)))
    with pytest.warns(UserWarning, match=r"1 of 3 images .* not 8x8; resized") as record:
        data = read_image_folder(tmp_path, progress=False)
    assert len(record) == 1
    assert data.images.shape == (3, 1, 8, 8)
    assert (data.images[2] == 7).all()


def test_same_sizes_do_not_warn(tmp_path):
    save(tmp_path / "a.png", grey(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image_folder(tmp_path, progress=False)


def test_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no pictures here")
    with pytest.raises(DataError, match=r"no images found in '.*' \(looked for .png, .jpg"):
        read_image_folder(tmp_path, progress=False)


def test_corrupt_png_named(tmp_path):
    save(tmp_path / "good.png", grey(1))
    (tmp_path / "bad.png").write_bytes(b"definitely not a png")
    with pytest.raises(DataError, match=r"cannot read image '.*bad\.png'"):
        read_image_folder(tmp_path, progress=False)


def test_truncated_png_named(tmp_path):
    save(tmp_path / "good.png", np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cannot read image '.*cut\.png'"):
        read_image_folder(tmp_path, progress=False)
