"""CIFAR-10, CIFAR-100-20 and STL-10 from tiny fake archives with the official member names and formats."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from infoclust.data import cifar, load_dataset, sources, stl10
from infoclust.errors import ConfigError, DataError

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
COARSE_NAMES = [f"superclass_{k}" for k in range(20)]
STL_NAMES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
PER_FILE = 3  # records in each fake CIFAR file
STL_COUNTS = {"train": 2, "test": 2, "unlabeled": 3}
STL_LABELS = {"train": [3, 10], "test": [1, 5]}  # as stored, 1-based


def cifar_files(name: str) -> tuple[dict[str, bytes], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Member files (relative to the archive's top folder) and the expected (images, labels) per split."""
    spec = cifar.FORMATS[name]
    files: dict[str, bytes] = {}
    expected = {}
    rng = np.random.default_rng(0)
    for split, names in spec.files.items():
        images = rng.integers(0, 256, (PER_FILE * len(names), 3, 32, 32), dtype=np.uint8)
        index = np.arange(len(images)) + (0 if split == "train" else 50)
        coarse = (7 * index + 3) % spec.n_classes
        label_bytes = [coarse] if spec.label_bytes == 1 else [coarse, (13 * index + 1) % 100]  # fine label 2nd
        records = np.concatenate([np.stack(label_bytes, 1).astype(np.uint8), images.reshape(len(images), -1)], 1)
        for k, file in enumerate(names):
            files[file] = records[k * PER_FILE : (k + 1) * PER_FILE].tobytes()
        expected[split] = images, coarse.astype(np.int64)
    names_list = CIFAR10_NAMES if name == "cifar10" else COARSE_NAMES
    files[spec.names_file] = ("\n".join(names_list) + "\n\n").encode()
    if name == "cifar100-20":
        files["fine_label_names.txt"] = "\n".join(f"fine_{k}" for k in range(100)).encode()
    return files, expected


def stl_image(part: str, n: int) -> np.ndarray:
    """Intended images (n, 3, 96, 96): value = row + 2 * column + 7 * channel + 50 * image + part base."""
    base = {"train": 0, "test": 100, "unlabeled": 200}[part]
    i, c, r, k = np.ogrid[:n, :3, :96, :96]
    return ((r + 2 * k + 7 * c + 50 * i + base) % 256).astype(np.uint8)


def stl_files() -> dict[str, bytes]:
    files = {}
    for part, n in STL_COUNTS.items():
        files[f"{part}_X.bin"] = stl_image(part, n).transpose(0, 1, 3, 2).tobytes()  # planes column-major
        if part in STL_LABELS:
            files[f"{part}_y.bin"] = bytes(STL_LABELS[part])
    files["class_names.txt"] = "\n".join(STL_NAMES).encode() + b"\n"
    files["fold_indices.txt"] = b"0 1\n"
    return files


def fake_files(name: str) -> dict[str, bytes]:
    return stl_files() if name == "stl10" else cifar_files(name)[0]


def inner(name: str) -> str:
    return stl10.INNER if name == "stl10" else cifar.FORMATS[name].inner


def archive_name(name: str) -> str:
    return stl10.ARCHIVE if name == "stl10" else cifar.FORMATS[name].archive


def write_archive(path: Path, top: str, files: dict[str, bytes]) -> Path:
    """A .tar.gz with the folder ``top`` and ``files`` in it, like the official archives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo(top)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for member, data in files.items():
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for member, data in files.items():
        (folder / member).write_bytes(data)
    return folder


@pytest.fixture(autouse=True)
def small_counts(monkeypatch, tmp_path):
    """Fake record counts, an empty cache and no mirror overrides from the environment."""
    for name, counts in cifar.COUNTS.items():
        monkeypatch.setitem(cifar.COUNTS, name, dict.fromkeys(counts, PER_FILE))
    for part, n in STL_COUNTS.items():
        monkeypatch.setitem(stl10.COUNTS, part, n)
    monkeypatch.setenv("INFOCLUST_DATA", str(tmp_path / "cache"))
    for name in sources.MIRRORS:
        monkeypatch.delenv("INFOCLUST_MIRROR_" + name.upper().replace("-", "_"), raising=False)


@pytest.fixture
def serve(http_server, monkeypatch):
    """serve(name): put a fake archive on the local server, pin its digests and point the mirror at it."""

    def publish(name: str, files: dict[str, bytes] | None = None) -> Path:
        archive = write_archive(http_server.folder / archive_name(name), inner(name), files or fake_files(name))
        data = archive.read_bytes()
        digests = {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
        monkeypatch.setitem(sources.CHECKSUMS, name, {archive.name: digests})
        monkeypatch.setenv("INFOCLUST_MIRROR_" + name.upper().replace("-", "_"), http_server.url)
        return archive

    return publish


def test_cifar10_downloaded(serve, http_server, tmp_path):
    serve("cifar10")
    data = load_dataset("cifar10", progress=False)
    _, expected = cifar_files("cifar10")
    assert data.images.shape == (18, 3, 32, 32) and data.images.dtype == np.uint8
    assert data.labels.dtype == np.int64 and data.name == "cifar10" and data.split == "all"
    assert data.class_names == CIFAR10_NAMES
    np.testing.assert_array_equal(data.images, np.concatenate([expected["train"][0], expected["test"][0]]))
    np.testing.assert_array_equal(data.labels, np.concatenate([expected["train"][1], expected["test"][1]]))
    assert data.ids[:2] == ["train/0", "train/1"] and data.ids[14:16] == ["train/14", "test/0"]
    assert data.ids[-1] == "test/2"
    # the documented layout, byte by byte: label, then R plane, G plane, B plane, each row-major
    record = fake_files("cifar10")["data_batch_1.bin"][:3073]
    image = data.images[0]
    assert (image[0, 0, 1], image[0, 1, 0], image[1, 0, 0], image[2, 31, 31]) == (
        record[2], record[1 + 32], record[1 + 1024], record[3072]
    )
    assert data.labels[0] == record[0]
    cache = tmp_path / "cache" / "cifar10"
    assert sorted(p.name for p in cache.iterdir()) == ["cifar-10-binary.tar.gz"]
    requests = len(http_server.requests)
    train = load_dataset("cifar10", "train", download=False)
    test = load_dataset("cifar10", "test", download=False)
    assert len(http_server.requests) == requests == 1
    assert (len(train), len(test)) == (15, 3) and train.ids[-1] == "train/14" and test.ids == data.ids[15:]
    np.testing.assert_array_equal(test.images, data.images[15:])


def test_cifar100_20_coarse_labels(serve):
    serve("cifar100-20")
    data = load_dataset("cifar100-20", progress=False)
    _, expected = cifar_files("cifar100-20")
    assert data.images.shape == (6, 3, 32, 32) and data.class_names == COARSE_NAMES
    assert data.labels.tolist() == [3, 10, 17, 13, 0, 7]  # coarse (7 i + 3) % 20, never the fine byte
    np.testing.assert_array_equal(data.images, np.concatenate([expected["train"][0], expected["test"][0]]))
    assert data.ids == ["train/0", "train/1", "train/2", "test/0", "test/1", "test/2"]
    test = load_dataset("cifar100-20", "test", download=False)
    assert test.labels.tolist() == [13, 0, 7] and test.split == "test"


@pytest.mark.parametrize(
    ("split", "parts"),
    [
        ("all", ["train", "test"]),
        ("train", ["train"]),
        ("test", ["test"]),
        ("unlabeled", ["unlabeled"]),
        ("train+unlabeled", ["train", "unlabeled"]),
    ],
)
def test_stl10_splits(serve, split, parts):
    serve("stl10")
    data = load_dataset("stl10", split, progress=False)
    assert data.images.shape == (sum(STL_COUNTS[p] for p in parts), 3, 96, 96) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images, np.concatenate([stl_image(p, STL_COUNTS[p]) for p in parts]))
    assert data.ids == [f"{p}/{i}" for p in parts for i in range(STL_COUNTS[p])]
    assert data.class_names == STL_NAMES and data.split == split
    if "unlabeled" in parts:
        assert data.labels is None and data.n_classes is None
    else:
        assert data.labels.tolist() == [label - 1 for p in parts for label in STL_LABELS[p]]
    first = data.images[0]  # column-major planes turned row-major: value = row + 2 * column + ...
    assert first[0, 0, 1] == first[0, 0, 0] + 2 and first[0, 1, 0] == first[0, 0, 0] + 1


def test_stl10_in_archive_order_independent(serve):
    files = stl_files()
    serve("stl10", {name: files[name] for name in reversed(list(files))})
    data = load_dataset("stl10", "all", progress=False)
    assert data.labels.tolist() == [2, 9, 0, 4]


@pytest.mark.parametrize("where", ["root", "root/name", "inner"])
def test_extracted_folder(tmp_path, where):
    files = fake_files("cifar10")
    folder = {
        "root": tmp_path / "mine" / "cifar-10-batches-bin",
        "root/name": tmp_path / "mine" / "cifar10" / "cifar-10-batches-bin",
        "inner": tmp_path / "mine" / "cifar-10-batches-bin",
    }[where]
    write_folder(folder, files)
    root = folder if where == "inner" else tmp_path / "mine"
    data = load_dataset("cifar10", "test", root=str(root), download=False)
    assert len(data) == 3 and data.ids == ["test/0", "test/1", "test/2"] and data.class_names == CIFAR10_NAMES
    assert not (tmp_path / "cache").exists()


def test_archive_in_root_and_extracted_stl(tmp_path):
    write_archive(tmp_path / "a" / "cifar-100-binary.tar.gz", "cifar-100-binary", fake_files("cifar100-20"))
    assert len(load_dataset("cifar100-20", root=str(tmp_path / "a"), download=False)) == 6
    write_folder(tmp_path / "b" / "stl10_binary", stl_files())
    data = load_dataset("stl10", "train+unlabeled", root=str(tmp_path / "b"), download=False)
    np.testing.assert_array_equal(data.images[2:], stl_image("unlabeled", 3))


@pytest.mark.parametrize("packed", [False, True])
def test_truncated_record_file(tmp_path, packed):
    files = fake_files("cifar10")
    files["data_batch_2.bin"] = files["data_batch_2.bin"][:-100]
    if packed:
        write_archive(tmp_path / "cifar-10-binary.tar.gz", "cifar-10-batches-bin", files)
        where = re.escape(f"'{tmp_path / 'cifar-10-binary.tar.gz'}' member 'cifar-10-batches-bin/data_batch_2.bin'")
    else:
        write_folder(tmp_path / "cifar-10-batches-bin", files)
        where = re.escape(f"'{tmp_path / 'cifar-10-batches-bin' / 'data_batch_2.bin'}'")
    message = f"{where} is truncated: 9,119 bytes, expected 3 records x 3,073 bytes = 9,219 bytes"
    with pytest.raises(DataError, match=message):
        load_dataset("cifar10", "train", root=str(tmp_path), download=False)


def test_stl10_wrong_image_file_size_and_label(tmp_path):
    files = stl_files()
    write_folder(tmp_path / "stl10_binary", {**files, "test_X.bin": files["test_X.bin"] + b"\0"})
    with pytest.raises(DataError, match=r"test_X.bin' is too long: 55,297 bytes, expected 2 records x 27,648"):
        load_dataset("stl10", "test", root=str(tmp_path), download=False)
    write_folder(tmp_path / "stl10_binary", {**files, "train_y.bin": bytes([4, 0])})
    with pytest.raises(DataError, match=r"train_y.bin' has label 0 at 1; expected 1..10"):
        load_dataset("stl10", "train", root=str(tmp_path), download=False)


def test_bad_checksum_leaves_nothing(serve, monkeypatch, tmp_path):
    serve("cifar10")
    digests = {"cifar-10-binary.tar.gz": {"sha256": "0" * 64}}
    monkeypatch.setitem(sources.CHECKSUMS, "cifar10", digests)
    monkeypatch.setattr("infoclust.data.download.time.sleep", lambda seconds: None)
    with pytest.raises(DataError, match="cifar10 files not found in .*checksum mismatch .*expected sha256 0000"):
        load_dataset("cifar10", progress=False)
    cache = tmp_path / "cache" / "cifar10"
    assert not cache.exists() or not any(cache.iterdir())


def test_not_found_without_download(tmp_path):
    cache = tmp_path / "cache" / "cifar100-20"
    message = (
        rf"cifar100-20 files not found in {re.escape(str(tmp_path / 'none'))}, .*{re.escape(str(cache))}; "
        rf"load with download=True, or download cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/ "
        rf"into {re.escape(str(cache))} \(or extract it there: a cifar-100-binary folder holding train.bin, "
        r"test.bin, coarse_label_names.txt is read as well\)"
    )
    with pytest.raises(DataError, match=message):
        load_dataset("cifar100-20", root=str(tmp_path / "none"), download=False)


def test_unreadable_or_incomplete_archive(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "cifar-10-binary.tar.gz").write_bytes(b"not a gzip file")
    with pytest.raises(DataError, match="cifar-10-binary.tar.gz' is not a readable .tar.gz archive"):
        load_dataset("cifar10", root=str(tmp_path / "x"), download=False)
    whole = write_archive(tmp_path / "z" / "cifar-10-binary.tar.gz", "cifar-10-batches-bin", fake_files("cifar10"))
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # cut off mid-stream
    with pytest.raises(DataError, match="cifar-10-binary.tar.gz' is not a readable .tar.gz archive"):
        load_dataset("cifar10", root=str(tmp_path / "z"), download=False)
    files = fake_files("cifar10")
    del files["test_batch.bin"]
    write_archive(tmp_path / "y" / "cifar-10-binary.tar.gz", "cifar-10-batches-bin", files)
    with pytest.raises(DataError, match="lacks cifar-10-batches-bin/test_batch.bin; expected the official"):
        load_dataset("cifar10", root=str(tmp_path / "y"), download=False)


def test_splits_per_dataset(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_dataset("cifar10", "unlabeled")
    assert str(caught.value) == (
        "split 'unlabeled' is not available for cifar10: expected one of all, train, test "
        "('unlabeled' is for stl10 only)"
    )
    with pytest.raises(ConfigError, match="unknown split 'valid': expected one of all, train, test, unlabeled, train"):
        load_dataset("stl10", "valid")
    np.save(tmp_path / "feats.npy", np.ones((3, 4)))
    with pytest.raises(ConfigError, match="split 'train\\+unlabeled' is not available for '.*feats.npy'"):
        load_dataset(str(tmp_path / "feats.npy"), "train+unlabeled")


def test_checksum_table_is_complete():
    for name in sources.MIRRORS:
        assert sources.CHECKSUMS[name], name
        for digests in sources.CHECKSUMS[name].values():
            assert set(digests) <= {"sha256", "md5"} and "sha256" in digests
            assert re.fullmatch(r"[0-9a-f]{64}", digests["sha256"])
            assert re.fullmatch(r"[0-9a-f]{32}", digests.get("md5", "0" * 32))
    assert list(sources.CHECKSUMS["stl10"]) == ["stl10_binary.tar.gz"]
