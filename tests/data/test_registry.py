import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infoclust.data import Dataset, dataset_help, list_datasets, load_dataset
from infoclust.data import mnist, sources
from infoclust.errors import ConfigError, DataError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
SIZES = {"train": 6, "test": 4}


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """An empty cache folder and no system folders, so nothing real is found."""
    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    monkeypatch.setitem(mnist.SYSTEM_DIRS, "fashion-mnist", ())
    return tmp_path / "cache" / "fashion-mnist"


def fake_fashion_files(folder, make_idx, compress=True):
    """Small IDX files: split s image i is filled with value 10*i (+100 for test); label i % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images_name, labels_name) in mnist.FILES.items():
        n, offset = SIZES[split], 0 if split == "train" else 100
        images = (np.arange(n, dtype=np.uint8)[:, None, None] * 10 + offset) * np.ones((1, 5, 5), np.uint8)
        suffix = ".gz" if compress else ""
        make_idx(folder / (images_name + suffix), images, compress)
        make_idx(folder / (labels_name + suffix), np.arange(n, dtype=np.uint8) % 10, compress)


@pytest.fixture
def fake_mirror(http_server, make_idx, monkeypatch):
    """The served folder holds fake fashion-mnist .gz files whose digests replace the real ones."""
    fake_fashion_files(http_server.folder, make_idx)
    digests = {p.name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in http_server.folder.iterdir()}
    monkeypatch.setitem(sources.CHECKSUMS, "fashion-mnist", digests)
    monkeypatch.setenv("INFOCLUST_MIRROR_FASHION_MNIST", http_server.url)
    return http_server


def test_digits():
    data = load_dataset("digits")
    assert isinstance(data, Dataset)
    assert data.images.shape == (1797, 1, 8, 8) and data.images.dtype == np.uint8
    assert data.images.max() == 255 and data.images.min() == 0
    assert set(np.unique(data.images)) <= {round(v * 255 / 16) for v in range(17)}
    assert data.labels.dtype == np.int64 and sorted(set(data.labels.tolist())) == list(range(10))
    assert data.n_classes == 10 and data.ids[:2] == ["0", "1"] and data.split == "all"


def test_digits_splits():
    train, test, whole = load_dataset("digits", "train"), load_dataset("Digits", "test"), load_dataset("digits")
    assert (len(train), len(test)) == (1500, 297)
    assert test.ids[0] == "1500"
    np.testing.assert_array_equal(np.concatenate([train.images, test.images]), whole.images)


@pytest.mark.parametrize("split", ["all", "train", "test"])
def test_fashion_from_fake_mirror(isolated, fake_mirror, split):
    data = load_dataset("fashion-mnist", split, progress=False)
    expected = {"all": 10, "train": 6, "test": 4}[split]
    assert len(data) == expected and data.images.shape[1:] == (1, 5, 5)
    assert data.split == split and data.name == "fashion-mnist"
    assert data.class_names[0] == "T-shirt/top" and len(data.class_names) == 10
    if split == "all":
        assert data.ids[:2] == ["train/0", "train/1"] and data.ids[6:8] == ["test/0", "test/1"]
        assert data.images[:, 0, 0, 0].tolist() == [0, 10, 20, 30, 40, 50, 100, 110, 120, 130]
        assert data.labels.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]
    cached = sorted(p.name for p in isolated.iterdir())
    assert all(name.endswith(".gz") for name in cached) and len(cached) == (4 if split == "all" else 2)


def test_fashion_cache_reused(isolated, fake_mirror):
    load_dataset("fashion-mnist", progress=False)
    requests = len(fake_mirror.requests)
    assert requests == 4
    again = load_dataset("fashion-mnist", progress=False, download=False)
    assert len(again) == 10 and len(fake_mirror.requests) == requests


def test_fashion_bad_checksum_no_file_left(isolated, fake_mirror, monkeypatch):
    digests = dict(sources.CHECKSUMS["fashion-mnist"], **{"train-images-idx3-ubyte.gz": {"sha256": "0" * 64}})
    monkeypatch.setitem(sources.CHECKSUMS, "fashion-mnist", digests)
    monkeypatch.setattr("infoclust.data.download.time.sleep", lambda seconds: None)
    with pytest.raises(DataError, match="fashion-mnist files not found in .*checksum mismatch"):
        load_dataset("fashion-mnist", "train", progress=False)
    assert not (isolated / "train-images-idx3-ubyte.gz").exists()


def test_root_searched_first(isolated, tmp_path, make_idx):
    fake_fashion_files(tmp_path / "mine" / "fashion-mnist", make_idx, compress=False)
    data = load_dataset("fashion-mnist", "test", root=str(tmp_path / "mine"), download=False)
    assert len(data) == 4 and data.ids[-1] == "test/3"


def test_not_found_without_download(isolated, tmp_path):
    with pytest.raises(DataError, match=r"fashion-mnist files not found in .*cache.*download=True.*t10k-labels"):
        load_dataset("fashion-mnist", root=str(tmp_path / "nowhere"), download=False)


def test_mirror_unreachable(isolated, monkeypatch, closed_port):
    monkeypatch.setenv("INFOCLUST_MIRROR_MNIST", f"http://127.0.0.1:{closed_port}/")
    monkeypatch.setattr("infoclust.data.download.time.sleep", lambda seconds: None)
    with pytest.raises(DataError, match=r"mnist files not found .*could not download http://127.0.0.1:\d+/train"):
        load_dataset("mnist", progress=False)


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist(isolated, monkeypatch):
    monkeypatch.setitem(mnist.SYSTEM_DIRS, "fashion-mnist", (DEBIAN_FASHION,))
    data = load_dataset("fashion-mnist", download=False)
    assert data.images.shape == (70000, 1, 28, 28) and data.images.dtype == np.uint8
    assert np.bincount(data.labels).tolist() == [7000] * 10
    assert data.ids[59999] == "train/59999" and data.ids[60000] == "test/0"


def test_folder_path(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "imgs" / name / "0.png")
    data = load_dataset(str(tmp_path / "imgs"), progress=False)
    assert data.class_names == ["a", "b"] and len(data) == 2


def test_array_path(tmp_path):
    np.save(tmp_path / "feats.npy", np.ones((3, 4)))
    assert load_dataset(str(tmp_path / "feats.npy")).is_vectors


def test_path_rejects_split(tmp_path):
    np.save(tmp_path / "feats.npy", np.ones((3, 4)))
    with pytest.raises(ConfigError, match="split 'train' is not available"):
        load_dataset(str(tmp_path / "feats.npy"), "train")


def test_unsupported_file(tmp_path):
    (tmp_path / "table.csv").write_text("1,2")
    with pytest.raises(DataError, match="neither a folder nor a .npy / .npz file"):
        load_dataset(str(tmp_path / "table.csv"))


@pytest.mark.parametrize("missing", ["nowhere/images", "features.npz"])
def test_missing_path(missing):
    with pytest.raises(DataError, match=f"'{missing}' does not exist"):
        load_dataset(missing)


def test_unknown_name():
    message = (
        "unknown dataset 'mnsit': expected one of cifar10, cifar100-20, cocostuff-15, cocostuff-3, digits, fashion-mnist, imagenet-10, mnist, potsdam, potsdam-3, stl10, svhn, "
        "or a path to an image folder / segmentation folder (images/ + labels/) / .npy / .npz file"
    )
    with pytest.raises(ConfigError) as caught:
        load_dataset("mnsit")
    assert str(caught.value) == message


def test_bad_split():
    with pytest.raises(ConfigError, match="unknown split 'validation': expected one of all, train, test"):
        load_dataset("digits", "validation")


def test_listing():
    assert list_datasets() == ["cifar10", "cifar100-20", "cocostuff-15", "cocostuff-3", "digits", "fashion-mnist",
                               "imagenet-10", "mnist", "potsdam", "potsdam-3", "stl10", "svhn"]
    text = dataset_help()
    assert all(name in text for name in list_datasets()) and ".npz" in text
    assert dataset_help("digits").startswith("digits: ")
    with pytest.raises(ConfigError, match="unknown dataset 'cifar'"):
        dataset_help("cifar")
