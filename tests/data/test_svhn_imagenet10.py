"""SVHN from small .mat files the tests write (served on 127.0.0.1, digests checked) and
ImageNet-10 from a small fake ILSVRC2012 training folder."""
import hashlib

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from infoclust.data import load_dataset, sources, svhn
from infoclust.data.imagenet10 import CLASSES
from infoclust.errors import ConfigError, DataError

COUNTS = {"train": 4, "test": 3}


def svhn_file(path, part):
    """An official-format file: X (32, 32, 3, n) uint8, y (n, 1) 1..10; returns (images n×3×32×32, labels)."""
    n = COUNTS[part]
    rng = np.random.default_rng(len(part))
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) * 3 + (9 if part == "train" else 8)) % 10 + 1  # train starts with 10 (= the digit 0)
    savemat(path, {"X": x, "y": y.reshape(-1, 1).astype(np.uint8)})
    return x.transpose(3, 2, 0, 1), y % 10


@pytest.fixture
def small_svhn(monkeypatch, tmp_path):
    monkeypatch.setattr(svhn, "COUNTS", COUNTS)
    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("INFOCLUST_MIRROR_SVHN", raising=False)


def test_svhn_downloaded_checked_and_read(small_svhn, http_server, monkeypatch):
    expected = {part: svhn_file(http_server.folder / name, part) for part, name in svhn.FILES.items()}
    digests = {name: {"sha256": hashlib.sha256((http_server.folder / name).read_bytes()).hexdigest(),
                      "md5": hashlib.md5((http_server.folder / name).read_bytes()).hexdigest()}
               for name in svhn.FILES.values()}
    monkeypatch.setitem(sources.CHECKSUMS, "svhn", digests)
    monkeypatch.setenv("INFOCLUST_MIRROR_SVHN", http_server.url)
    data = load_dataset("svhn", progress=False)
    assert data.images.shape == (7, 3, 32, 32) and data.images.dtype == np.uint8 and data.name == "svhn"
    np.testing.assert_array_equal(data.images, np.concatenate([expected["train"][0], expected["test"][0]]))
    assert data.labels.tolist() == [*expected["train"][1], *expected["test"][1]] and 0 in data.labels.tolist()
    assert data.ids[3:5] == ["train/3", "test/0"] and data.class_names == [str(d) for d in range(10)]
    assert load_dataset("svhn", split="test", progress=False).labels.tolist() == expected["test"][1].tolist()
    # a file whose digest is not the published one is refused, and not kept
    (http_server.folder / "test_32x32.mat").write_bytes(b"not the file")
    for file in (sources.cache_dir("svhn")).iterdir():
        file.unlink()
    with pytest.raises(DataError, match="test_32x32.mat"):
        load_dataset("svhn", split="test", progress=False)
    assert not (sources.cache_dir("svhn") / "test_32x32.mat").exists()


def test_svhn_files_in_root_that_are_damaged_are_one_line(small_svhn, tmp_path):
    svhn_file(tmp_path / "train_32x32.mat", "train")
    (tmp_path / "test_32x32.mat").write_bytes(b"MATLAB 5.0 MAT-file, but cut short")
    with pytest.raises(DataError, match=r"cannot read '.*test_32x32.mat'.*expected SVHN's MATLAB file"):
        load_dataset("svhn", root=str(tmp_path), progress=False)
    savemat(tmp_path / "test_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((2, 1))})
    with pytest.raises(DataError, match=r"expected X uint8 \(32, 32, 3, 3\) and 3 labels"):
        load_dataset("svhn", root=str(tmp_path), split="test", progress=False)
    assert len(load_dataset("svhn", root=str(tmp_path), split="train", progress=False)) == 4


def test_imagenet10_reads_the_ten_classes_of_an_ilsvrc_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    train = tmp_path / "ILSVRC2012" / "train"
    rng = np.random.default_rng(0)
    for k, (wnid, _) in enumerate(CLASSES + [("n01440764", "tench")]):  # one class too many
        (train / wnid).mkdir(parents=True)
        for i in range(2):
            size = (120 + 10 * i, 90)  # not square: resized to 96x96 without keeping the aspect
            photo = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
            (photo.convert("L") if k == 3 and i == 1 else photo).save(train / wnid / f"{wnid}_{i}.JPEG")
    data = load_dataset("imagenet-10", root=str(train), progress=False)
    assert data.images.shape == (20, 3, 96, 96) and data.name == "imagenet-10"
    assert data.labels.tolist() == [k for k in range(10) for _ in range(2)]
    assert data.class_names[0] == "king penguin" and data.ids[0] == "n02056570/n02056570_0.JPEG"
    grey = data.images[7]
    assert (grey[0] == grey[1]).all() and (grey[1] == grey[2]).all()  # a grey photo repeats in R, G, B
    with Image.open(train / "n02056570" / "n02056570_1.JPEG") as photo:
        resized = np.asarray(photo.convert("RGB").resize((96, 96), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(data.images[1], resized.transpose(2, 0, 1))
    with pytest.raises(ConfigError, match="split 'train' is not available"):
        load_dataset("imagenet-10", root=str(train), split="train", progress=False)
    (train / "n07747607").rename(train / "elsewhere")
    with pytest.raises(DataError, match="ImageNet cannot be downloaded without an account: set data.root"):
        load_dataset("imagenet-10", root=str(train), progress=False)
