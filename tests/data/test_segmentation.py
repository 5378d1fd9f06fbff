"""Segmentation folders (images + label PNGs) and the Fashion-MNIST mosaics."""
import numpy as np
import pytest
from PIL import Image

from infoclust.data import load_dataset
from infoclust.data.dataset import Dataset
from infoclust.data.mosaics import CLASS_NAMES, FASHION_GROUPS, make_mosaics
from infoclust.data.segmentation import write_segmentation_folder
from infoclust.errors import ConfigError, DataError


def random_split(n, seed, channels=3, side=6):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, channels, side, side), dtype=np.uint8)
    labels = rng.integers(-1, 3, (n, side, side)).astype(np.int64)
    return images, labels


def test_a_written_folder_reads_back_with_its_splits_unlabelled_pixels_and_names(tmp_path):
    train, test = random_split(3, 0), random_split(2, 1)
    write_segmentation_folder(tmp_path / "seg", {"train": train, "test": test}, ["a", "b", "c"])
    both = load_dataset(str(tmp_path / "seg"))
    assert both.is_dense and both.class_names == ["a", "b", "c"] and both.n_classes == 3
    assert np.array_equal(both.images, np.concatenate([train[0], test[0]]))
    assert np.array_equal(both.labels, np.concatenate([train[1], test[1]]))  # −1 kept as unlabelled
    assert both.ids == ["train/0", "train/1", "train/2", "test/0", "test/1"]
    only_test = load_dataset(str(tmp_path / "seg"), split="test")
    assert np.array_equal(only_test.labels, test[1]) and only_test.split == "test"
    assert [p.name for p in tmp_path.iterdir()] == ["seg"]  # no temporary folder left


def test_a_folder_without_splits_and_grey_images(tmp_path):
    images, labels = random_split(2, 3, channels=1)
    write_segmentation_folder(tmp_path / "g", {"": (images, labels)}, ["x", "y", "z"])
    data = load_dataset(str(tmp_path / "g"))
    assert data.images.shape == (2, 1, 6, 6) and np.array_equal(data.images, images)
    with pytest.raises(ConfigError, match="no train/ and test/"):
        load_dataset(str(tmp_path / "g"), split="train")


def test_writing_over_an_existing_folder_is_refused_and_keeps_it(tmp_path):
    (tmp_path / "seg").mkdir()
    (tmp_path / "seg" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="exists"):
        write_segmentation_folder(tmp_path / "seg", {"": random_split(1, 0)}, ["a", "b", "c"])
    assert (tmp_path / "seg" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "labels" / "1.png").unlink(), "no label PNG for 1 image"),
    (lambda f: Image.new("L", (5, 6)).save(f / "labels" / "0.png"), "expected the same size"),
    (lambda f: Image.new("RGB", (6, 6)).save(f / "labels" / "0.png"), "expected an 8-bit grey or palette PNG"),
    (lambda f: (f / "images" / "0.png").write_bytes(b"\x89PNG broken"), "cannot be read as an image"),
    (lambda f: Image.new("L", (6, 6), 7).save(f / "labels" / "0.png"), "holds class 7 but classes.txt names 3"),
    (lambda f: [p.unlink() for p in (f / "images").iterdir()], "holds no images"),
])
def test_damaged_folders_fail_with_one_clear_line(tmp_path, damage, message):
    write_segmentation_folder(tmp_path / "seg", {"": random_split(2, 0)}, ["a", "b", "c"])
    damage(tmp_path / "seg")
    with pytest.raises(DataError, match=message):
        load_dataset(str(tmp_path / "seg"))


def test_label_maps_must_match_the_images():
    images = np.zeros((2, 1, 4, 5), np.uint8)
    Dataset(images, np.zeros((2, 4, 5), np.int64), ["a", "b"], "ok")
    with pytest.raises(DataError, match=r"or label maps \(2, 4, 5\)"):
        Dataset(images, np.zeros((2, 5, 4), np.int64), ["a", "b"], "bad")


def test_mosaics_label_exactly_the_pasted_items_pixels():
    rng = np.random.default_rng(0)
    items = np.zeros((10, 28, 28), np.uint8)
    for c in range(10):
        items[c, 4:24, 4:24] = rng.integers(1, 256, (20, 20))  # non-zero square, zero border
    photos = [np.full((100, 120, 3), (200, 10, 10), np.uint8)]  # pure red, never grey
    images, labels = make_mosaics(items, np.arange(10), photos, 30, size=48, seed=1)
    assert images.shape == (30, 3, 48, 48) and labels.shape == (30, 48, 48)
    grey = (images[:, 0] == images[:, 1]) & (images[:, 1] == images[:, 2])
    assert np.array_equal(labels > 0, grey)  # an item's pixels are grey, the photograph's red
    assert set(np.unique(labels)) == {0, 1, 2, 3} and len(CLASS_NAMES) == 4
    again, same = make_mosaics(items, np.arange(10), photos, 30, size=48, seed=1)
    assert np.array_equal(images, again) and np.array_equal(labels, same)
    assert FASHION_GROUPS.tolist() == [1, 3, 1, 1, 1, 2, 1, 2, 3, 2]  # the groups by Fashion-MNIST class
