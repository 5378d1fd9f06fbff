"""A large image folder through the on-disk uint8 cache: the same pixels as the in-memory reader,
built once per fingerprint, read batch by batch, never left half-built."""
import json

import numpy as np
import pytest
from PIL import Image

from infoclust.data import load_dataset, pixel_cache
from infoclust.data.folder import read_image_folder
from infoclust.data.lazy import LazyImages
from infoclust.data.pixel_cache import DiskImages, cached_folder
from infoclust.errors import ConfigError, DataError


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache" / "pixels"


def photo_folder(root, n=24, mixed=True):
    """Class sub-folders of random photos; ``mixed``: some of another size and mode."""
    rng = np.random.default_rng(0)
    for i in range(n):
        image = Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8))
        if mixed and i % 5 == 1:
            image = image.convert("L").resize((7, 9))
        if mixed and i % 7 == 3:
            image = image.convert("P")
        (root / f"c{i % 3}").mkdir(parents=True, exist_ok=True)
        image.save(root / f"c{i % 3}" / f"{i:03d}.png")
    return root


def test_disk_images_index_like_the_array(tmp_path):
    array = np.random.default_rng(1).integers(0, 256, (11, 3, 4, 5), dtype=np.uint8)
    (tmp_path / "p.u8").write_bytes(array.tobytes())
    disk = DiskImages(tmp_path / "p.u8", array.shape, {"count": 11})
    for index in (3, -1, slice(None), slice(2, 9, 3), slice(None, None, -1), np.array([4, 4, 0, 10, 1]),
                  np.array([[1, 2], [3, 3]]), array[:, 0, 0, 0] > 128, (5, 1), (np.array([0, 2]), slice(None), 2)):
        np.testing.assert_array_equal(disk[index], array[index])
    assert isinstance(disk[np.array([1])], np.ndarray) and disk.shape == array.shape and len(disk) == 11
    np.testing.assert_array_equal(np.asarray(disk), array)
    np.testing.assert_array_equal(disk.take(np.array([7, 2]))[np.array([1, 0, 1])], array[[2, 7, 2]])
    for bad in (11, -12, np.array([0, 11])):
        with pytest.raises(IndexError):
            disk[bad]


def test_the_cache_holds_the_pixels_the_folder_reader_reads(tmp_path, cache_home):
    folder = photo_folder(tmp_path / "photos")
    expected = read_image_folder(folder, progress=False)
    for workers in (0, 2):
        for entry in cache_home.glob("*"):
            for file in entry.iterdir():
                file.unlink()
        got = cached_folder(folder, workers=workers, progress=False)
        assert isinstance(got.images, DiskImages) and got.images.shape == expected.images.shape == (24, 3, 10, 12)
        np.testing.assert_array_equal(np.asarray(got.images), expected.images)
        assert got.ids == expected.ids and got.labels.tolist() == expected.labels.tolist()
        assert got.class_names == ["c0", "c1", "c2"]
    assert len(list(cache_home.iterdir())) == 1  # one folder, one cache
    assert sorted(f.name for f in next(cache_home.iterdir()).iterdir()) == ["pixels.u8", "record.json"]


def test_built_once_per_fingerprint_and_rebuilt_when_the_folder_changes(tmp_path, cache_home, monkeypatch):
    folder = photo_folder(tmp_path / "photos", mixed=False)
    first = cached_folder(folder, progress=False)
    built = []
    real_build = pixel_cache._build
    monkeypatch.setattr(pixel_cache, "_build", lambda *a: (built.append(1), real_build(*a)))
    again = cached_folder(folder, progress=False)
    assert built == [] and again.fingerprint() == first.fingerprint()
    Image.fromarray(np.zeros((10, 12, 3), dtype=np.uint8)).save(folder / "c0" / "000.png")  # a photo replaced
    changed = cached_folder(folder, progress=False)
    assert built == [1] and changed.fingerprint() != first.fingerprint()
    assert changed.images[0].max() == 0 and len(list(cache_home.iterdir())) == 1


def test_a_stopped_build_leaves_no_cache_that_looks_finished(tmp_path, cache_home, monkeypatch):
    folder = photo_folder(tmp_path / "photos", mixed=False)
    written = []

    def write_some(images, out, bar):
        for pixels in images:
            if len(written) == 10:
                raise KeyboardInterrupt
            out.write(pixels.tobytes())
            written.append(1)

    monkeypatch.setattr(pixel_cache, "_write_all", write_some)
    with pytest.raises(KeyboardInterrupt):
        cached_folder(folder, progress=False)
    home = next(cache_home.iterdir())
    assert list(home.iterdir()) == []  # no cache, no record, no partial file left
    monkeypatch.undo()
    monkeypatch.setenv("INFOCLUST_DATA", str(cache_home.parent))
    np.testing.assert_array_equal(np.asarray(cached_folder(folder, progress=False).images),
                                  read_image_folder(folder, progress=False).images)
    record = json.loads((home / "record.json").read_text())
    assert record["fingerprint"]["count"] == 24 and record["fingerprint"]["shape"] == [3, 10, 12]


def test_a_large_folder_loads_through_the_cache(tmp_path, cache_home, monkeypatch):
    folder = photo_folder(tmp_path / "photos", mixed=False)
    assert isinstance(load_dataset(str(folder), progress=False).images, np.ndarray)  # small: in memory
    monkeypatch.setattr(pixel_cache, "IN_MEMORY_BYTES", 24 * 3 * 10 * 12 - 1)
    data = load_dataset(str(folder), progress=False)
    assert isinstance(data.images, LazyImages)
    part = data.subset([5, 1])
    assert isinstance(part.images, LazyImages) and part.fingerprint() != data.fingerprint()
    np.testing.assert_array_equal(part.images[:], read_image_folder(folder, progress=False).images[[5, 1]])


def test_the_environment_sets_what_is_held_in_memory(tmp_path, cache_home, monkeypatch):
    folder = photo_folder(tmp_path / "photos", mixed=False)
    monkeypatch.setenv("INFOCLUST_IN_MEMORY_MIB", "0")
    assert isinstance(load_dataset(str(folder), progress=False).images, LazyImages)
    monkeypatch.setenv("INFOCLUST_IN_MEMORY_MIB", "lots")
    with pytest.raises(ConfigError, match="INFOCLUST_IN_MEMORY_MIB = 'lots': expected a number of MiB, 0 or more"):
        load_dataset(str(folder), progress=False)


def test_a_corrupt_photo_stops_the_build_in_one_line_and_leaves_nothing(tmp_path, cache_home):
    folder = photo_folder(tmp_path / "photos", mixed=False)
    whole = (folder / "c1" / "013.png").read_bytes()
    (folder / "c1" / "013.png").write_bytes(whole[:len(whole) // 2])  # its header reads, its pixels do not
    for workers in (0, 2):
        with pytest.raises(DataError, match=r"cannot read image '.*c1/013.png'") as caught:
            cached_folder(folder, workers=workers, progress=False)
        assert len(str(caught.value).splitlines()) == 1
        assert all(list(home.iterdir()) == [] for home in cache_home.iterdir())
