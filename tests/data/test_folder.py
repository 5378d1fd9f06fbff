import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from infoclust.data import load_dataset
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


def test_mixed_sizes_warning_points_at_the_caller(tmp_path):
    save(tmp_path / "a.png", grey(5, (8, 8)))
    save(tmp_path / "b.png", grey(6, (8, 8)))
    save(tmp_path / "c.png", grey(7, (4, 2)))
    with pytest.warns(UserWarning, match="resized") as record:
        load_dataset(str(tmp_path), progress=False)  # two calls deep inside infoclust
    assert record[0].filename == __file__


def save_deep(path, array, mode=None):
    """Save a uint16 / int32 / float32 array as a 16-bit PNG or a TIFF (mode I;16B, I or F)."""
    array = np.asarray(array)
    image = Image.frombytes(mode, array.shape[::-1], array.astype(">u2").tobytes()) if mode else Image.fromarray(array)
    image.save(path)
    return path


@pytest.mark.parametrize(
    ("name", "array", "mode", "opened_as"),
    [
        ("a.png", np.array([[0, 256], [32768, 65535]], dtype=np.uint16), None, "I;16"),
        ("a.tif", np.array([[0, 256], [32768, 65535]], dtype=np.uint16), "I;16B", "I;16B"),
        ("a.tif", np.array([[0, 256], [32768, 65535]], dtype=np.int32), None, "I"),
        ("a.tif", np.array([[0.0, 0.004], [0.502, 1.0]], dtype=np.float32), None, "F"),
        ("a.tif", np.array([[0.0, 1.2], [128.0, 255.0]], dtype=np.float32), None, "F"),
    ],
)
def test_deep_grey_images_read_at_full_depth(tmp_path, name, array, mode, opened_as):
    path = save_deep(tmp_path / name, array, mode)
    assert Image.open(path).mode == opened_as
    data = read_image_folder(tmp_path, progress=False)
    assert data.images.shape == (1, 1, 2, 2)
    assert data.images[0, 0].tolist() == [[0, 1], [128, 255]]


def test_sixteen_bit_png_among_8_bit_rgb(tmp_path):
    save_deep(tmp_path / "deep.png", np.full((6, 5), 32768, dtype=np.uint16))
    save(tmp_path / "rgb.png", np.zeros((6, 5, 3)))
    data = read_image_folder(tmp_path, progress=False)
    assert data.images.shape == (2, 3, 6, 5) and (data.images[0] == 128).all()


@pytest.mark.parametrize(
    ("array", "shown"),
    [
        (np.array([[0, 70000]], dtype=np.int32), r"\(mode I\) has values in 0\.\.70000; expected 0\.\.65535"),
        (np.array([[-1.0, 0.5]], dtype=np.float32), r"\(mode F\) has values in -1\.\.0\.5; expected 0\.\.1 or"),
        (np.array([[0.0, 300.0]], dtype=np.float32), r"\(mode F\) has values in 0\.\.300; expected 0\.\.1 or"),
    ],
)
def test_deep_values_out_of_range_refused(tmp_path, array, shown):
    save_deep(tmp_path / "a.tif", array)
    with pytest.raises(DataError, match=rf"^image '.*a\.tif' {shown}[^\n]*$"):
        read_image_folder(tmp_path, progress=False)


def test_grey_gif_keeps_a_grey_set_grey(tmp_path):
    save(tmp_path / "a.png", grey(10))
    gif = np.array([[0, 100, 200, 255, 7]] * 6, dtype=np.uint8)
    save(tmp_path / "b.gif", gif)
    assert Image.open(tmp_path / "b.gif").mode == "P"
    data = read_image_folder(tmp_path, progress=False)
    assert data.images.shape == (2, 1, 6, 5)
    np.testing.assert_array_equal(data.images[1, 0], gif)
    assert (data.images[0] == 10).all()


def test_coloured_gif_makes_the_set_rgb(tmp_path):
    save(tmp_path / "a.png", grey(10))
    colour = np.zeros((6, 5, 3), dtype=np.uint8)
    colour[0, 0] = [255, 0, 0]
    save(tmp_path / "b.gif", colour)
    data = read_image_folder(tmp_path, progress=False)
    assert data.images.shape == (2, 3, 6, 5)
    assert data.images[1, :, 0, 0].tolist() == [255, 0, 0] and (data.images[0] == 10).all()


def test_symlinked_class_folder_followed(tmp_path):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    save(root / "cat" / "a.png", grey(1))
    save(elsewhere / "dogs" / "b.png", grey(2))
    save(elsewhere / "dogs" / "deep" / "c.png", grey(3))
    (root / "dog").symlink_to(elsewhere / "dogs", target_is_directory=True)
    data = read_image_folder(root, progress=False)
    assert data.ids == ["cat/a.png", "dog/b.png", "dog/deep/c.png"]
    assert data.class_names == ["cat", "dog"] and data.labels.tolist() == [0, 1, 1]


def test_symlink_loop_read_once(tmp_path):
    save(tmp_path / "a" / "x.png", grey(1))
    save(tmp_path / "b" / "y.png", grey(2))
    (tmp_path / "a" / "loop").symlink_to("..", target_is_directory=True)
    (tmp_path / "b" / "again").symlink_to(tmp_path / "b", target_is_directory=True)
    data = read_image_folder(tmp_path, progress=False)
    assert data.ids == ["a/x.png", "b/y.png"] and data.labels.tolist() == [0, 1]


def test_broken_symlink_to_an_image_named(tmp_path):
    save(tmp_path / "a.png", grey(1))
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(DataError, match=r"'.*gone\.png' is a broken symbolic link \(its target '.*nowhere\.png'"):
        read_image_folder(tmp_path, progress=False)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".gif", ".webp", ".tif"])
def test_truncated_image_of_each_format_named(tmp_path, suffix):
    save(tmp_path / f"good{suffix}", np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = (tmp_path / f"good{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"^cannot read image '.*cut\{suffix}': [^\n]+$"):
        read_image_folder(tmp_path, progress=False)


def png_header(width, height):
    """A PNG claiming a width x height grey image, with almost no pixel data (a few bytes)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [10_000, 30_000])  # 1e8 pixels: Pillow warns; 9e8: Pillow raises
def test_decompression_bomb_refused(tmp_path, side):
    save(tmp_path / "a.png", grey(1))
    (tmp_path / "bomb.png").write_bytes(png_header(side, side))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bomb = r"^cannot read image '.*bomb\.png': Image size \(\d+ pixels\) exceeds limit[^\n]*$"
        with pytest.raises(DataError, match=bomb):
            read_image_folder(tmp_path, progress=False)


def test_unreadable_file_named(tmp_path, lock):
    save(tmp_path / "a.png", grey(1))
    save(tmp_path / "locked.png", grey(2))
    lock(tmp_path / "locked.png")
    with pytest.raises(DataError, match=r"^cannot read image '.*locked\.png': Permission denied$"):
        read_image_folder(tmp_path, progress=False)


def test_unreadable_folder_named(tmp_path, lock):
    save(tmp_path / "a" / "x.png", grey(1))
    (tmp_path / "b").mkdir()
    lock(tmp_path / "b")
    try:
        with pytest.raises(DataError, match=r"^cannot read folder '.*b': Permission denied$"):
            read_image_folder(tmp_path, progress=False)
    finally:
        (tmp_path / "b").chmod(0o755)
