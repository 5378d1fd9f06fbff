"""Readers of the IIC authors' prepared Potsdam and COCO-Stuff folders, on small synthetic folders
laid out as theirs, corrupt variants included."""
import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from infoclust.data import load_dataset
from infoclust.data.iic_segmentation import FINE_TO_COARSE
from infoclust.errors import ConfigError, DataError


def potsdam_folder(root, side=8):
    """3 tiles: unlabelled 0, labelled-train 5, labelled-test 7 (ids are plain integers, as theirs)."""
    rng = np.random.default_rng(0)
    for name in ("imgs", "gt"):
        (root / name).mkdir(parents=True)
    tiles = {}
    for tile, part in ((0, "unlabelled_train"), (5, "labelled_train"), (7, "labelled_test")):
        img = rng.integers(0, 256, (side, side, 4), dtype=np.uint8)
        savemat(root / "imgs" / f"{tile}.mat", {"img": img})
        gt = rng.integers(0, 6, (side, side)).astype(np.int32)
        if part != "unlabelled_train":
            savemat(root / "gt" / f"{tile}.mat", {"gt": gt})
        (root / f"{part}.txt").write_text(f"{tile}\n")
        tiles[part] = (img, gt)
    return tiles


def test_potsdam_splits_keep_rgb_and_merge_to_three_classes(tmp_path):
    tiles = potsdam_folder(tmp_path / "potsdam")
    six = load_dataset("potsdam", split="labelled", root=str(tmp_path), progress=False)
    assert six.ids == ["labelled_train/5", "labelled_test/7"] and six.images.shape == (2, 3, 8, 8)
    assert np.array_equal(six.images[0], tiles["labelled_train"][0][..., :3].transpose(2, 0, 1))  # IR dropped
    assert np.array_equal(six.labels[1], tiles["labelled_test"][1])
    three = load_dataset("potsdam-3", split="all", root=str(tmp_path / "potsdam"), progress=False)
    assert three.ids[0] == "unlabelled_train/0" and (three.labels[0] == -1).all()  # no ground truth: unlabelled
    merged = np.array([0, 1, 2, 2, 0, 1])[tiles["labelled_test"][1]]  # road+car, building+clutter, vegetation+tree
    assert np.array_equal(three.labels[2], merged) and three.class_names[0] == "roads and cars"
    assert load_dataset("potsdam-3", split="test", root=str(tmp_path), progress=False).ids == ["labelled_test/7"]


@pytest.mark.parametrize("damage, message", [
    (lambda r: (r / "gt" / "7.mat").unlink(), "cannot be read as a .mat file"),
    (lambda r: savemat(r / "imgs" / "5.mat", {"image": np.zeros((8, 8, 4), np.uint8)}), "has no variable 'img'"),
    (lambda r: savemat(r / "gt" / "5.mat", {"gt": np.full((8, 8), 9, np.int32)}), "expected (8, 8) with classes 0..5"),
    (lambda r: (r / "imgs" / "7.mat").write_bytes(b"MATLAB 5.0 broken"), "cannot be read as a .mat file"),
])
def test_damaged_potsdam_folders_fail_with_one_clear_line(tmp_path, damage, message):
    potsdam_folder(tmp_path / "potsdam")
    damage(tmp_path / "potsdam")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset("potsdam", split="labelled", root=str(tmp_path), progress=False)


def test_a_missing_prepared_folder_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="no prepared folder found in .*looked for labelled_test.txt"):
        load_dataset("potsdam", root=str(tmp_path), progress=False)
    with pytest.raises(ConfigError, match="split 'unlabeled'"):
        load_dataset("cocostuff-3", split="unlabeled", root=str(tmp_path))


def coco_folder(root, width=400, height=300):
    """One train2017 image, its fine label map (sky / plant / ground / a thing / unlabelled bands)."""
    for part in ("images", "annotations"):
        (root / part / "train2017").mkdir(parents=True)
    for name in ("Coco164kFew_Stuff_6.txt", "Coco164kFull_Stuff_Coarse_7.txt"):
        (root / "curated" / "train2017").mkdir(parents=True, exist_ok=True)
        (root / "curated" / "train2017" / name).write_text("000000000139\n")
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
        root / "images" / "train2017" / "000000000139.jpg")
    fine = np.zeros((height, width), np.uint8)  # person (a thing)
    bands = [105, 93, 110, 255]  # sky-stuff, plant-stuff, ground-stuff, unlabelled
    for i, value in enumerate(bands):
        fine[:, 100 * i:100 * (i + 1)] = value
    Image.fromarray(fine).save(root / "annotations" / "train2017" / "000000000139.png")


def test_cocostuff_is_scaled_cropped_and_mapped_as_the_iic_code(tmp_path):
    coco_folder(tmp_path / "coco")
    three = load_dataset("cocostuff-3", split="train", root=str(tmp_path / "coco"), progress=False)
    assert three.images.shape == (1, 3, 128, 128) and three.class_names == ["sky", "plant", "ground"]
    # 400×300 × 0.33 = 132×99: the centre 128 columns, 99 rows padded to 128 (padding unlabelled)
    row = three.labels[0, 64]
    assert row[0] == 0 and row[40] == 1 and row[80] == 2 and row[120] == -1  # sky, plant, ground, unlabelled (not sky)
    assert (three.labels[0, :10] == -1).all() and (three.images[0, :, :10] == 0).all()
    fifteen = load_dataset("cocostuff-15", split="train", root=str(tmp_path / "coco"), progress=False)
    assert fifteen.labels[0, 64, 0] == 11 and fifteen.labels[0, 64, 40] == 10 and fifteen.labels[0, 64, 80] == 9
    assert FINE_TO_COARSE[0] == 9 and FINE_TO_COARSE[255] == -1 and (FINE_TO_COARSE[:182] >= 0).all()


def test_a_cocostuff_label_of_another_size_is_named(tmp_path):
    coco_folder(tmp_path / "coco")
    Image.new("L", (10, 10)).save(tmp_path / "coco" / "annotations" / "train2017" / "000000000139.png")
    with pytest.raises(DataError, match="expected one size"):
        load_dataset("cocostuff-3", split="train", root=str(tmp_path / "coco"), progress=False)
