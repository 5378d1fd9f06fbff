import gzip
import math
import struct
import time
import tracemalloc

import numpy as np
import pytest

from infoclust.data.idx import read_idx, read_idx_pair
from infoclust.errors import DataError


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)


@pytest.mark.parametrize("compress", [False, True])
def test_images_round_trip(tmp_path, make_idx, images, compress):
    path = make_idx(tmp_path / "images.idx", images, compress)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if compress else b"\x00\x00")
    result = read_idx(path)
    assert result.dtype == np.uint8
    assert result.shape == (5, 1, 4, 3)
    np.testing.assert_array_equal(result[:, 0], images)


def test_gzip_detected_by_content_not_extension(tmp_path, make_idx, images):
    plain_named_gz = make_idx(tmp_path / "plain.gz", images, compress=False)
    gzipped_named_plain = make_idx(tmp_path / "gzipped-idx3-ubyte", images, compress=True)
    np.testing.assert_array_equal(read_idx(plain_named_gz), read_idx(gzipped_named_plain))


def test_labels_are_int64(tmp_path, make_idx):
    labels = np.array([3, 0, 9, 255], dtype=np.uint8)
    result = read_idx(make_idx(tmp_path / "labels", labels, compress=True))
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result, [3, 0, 9, 255])


def test_truncated_payload(tmp_path, make_idx, images):
    path = make_idx(tmp_path / "images", images)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match=r"is truncated: expected 60 bytes of data, found 53"):
        read_idx(path)


def test_trailing_bytes(tmp_path, make_idx, images):
    path = make_idx(tmp_path / "images", images)
    path.write_bytes(path.read_bytes() + b"xx")
    with pytest.raises(DataError, match="has unexpected bytes after its 60 bytes of data; expected it to end there$"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 10))
    with pytest.raises(DataError, match="truncated: its header needs 16 bytes"):
        read_idx(path)


def test_wrong_magic(tmp_path):
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    with pytest.raises(DataError, match=r"picture.png' is not an IDX file \(bad magic 0x89504e47"):
        read_idx(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


def test_unsupported_type(tmp_path):
    path = tmp_path / "floats"
    path.write_bytes(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 2) + struct.pack(">2f", 1.0, 2.0))
    with pytest.raises(DataError, match=r"unsupported IDX type 0x0d \(float32\)"):
        read_idx(path)


def test_unsupported_rank(tmp_path, make_idx):
    path = make_idx(tmp_path / "matrix", np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="has 2 dimensions; expected 1 .* or 3"):
        read_idx(path)


def test_corrupt_gzip(tmp_path, make_idx, images):
    path = make_idx(tmp_path / "images.gz", images, compress=True)
    data = bytearray(path.read_bytes())
    data[12:20] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt gzip"):
        read_idx(path)


def test_cut_gzip(tmp_path, make_idx, images):
    path = make_idx(tmp_path / "images.gz", images, compress=True)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(DataError, match="corrupt gzip"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read .*nothing-here"):
        read_idx(tmp_path / "nothing-here")


def test_pair(tmp_path, make_idx, images):
    labels = np.arange(5, dtype=np.uint8)
    got_images, got_labels = read_idx_pair(
        make_idx(tmp_path / "i", images), make_idx(tmp_path / "l", labels, compress=True)
    )
    assert got_images.shape == (5, 1, 4, 3) and got_labels.tolist() == [0, 1, 2, 3, 4]


def test_pair_count_mismatch(tmp_path, make_idx, images):
    with pytest.raises(DataError, match="has 5 images but .* has 4 labels"):
        read_idx_pair(make_idx(tmp_path / "i", images), make_idx(tmp_path / "l", np.zeros(4, np.uint8)))


def test_pair_swapped(tmp_path, make_idx, images):
    with pytest.raises(DataError, match="holds labels, not images"):
        read_idx_pair(make_idx(tmp_path / "l", np.zeros(5, np.uint8)), make_idx(tmp_path / "i", images))


def test_gzip_of_non_idx(tmp_path):
    path = tmp_path / "text.gz"
    path.write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


def idx_header(*dims):
    return struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def test_gzip_bomb_after_the_data_refused_without_inflating_it(tmp_path):
    zeros = gzip.compress(bytes(2**20), compresslevel=1)  # 1 MiB of zeros in about 1 KiB
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(idx_header(2, 2, 2) + bytes(8)) + zeros * 200)  # 200 MiB once inflated
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataError, match=r"bomb\.gz' has unexpected bytes after its 8 bytes of data"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2 and peak < 50 * 2**20


@pytest.mark.parametrize("dims", [(2**20, 2**10, 2**10), (2**32 - 1,) * 3])
def test_header_claiming_too_much_refused(tmp_path, dims):
    path = tmp_path / "huge.gz"
    path.write_bytes(gzip.compress(idx_header(*dims) + bytes(100)))
    with pytest.raises(DataError, match=rf"huge\.gz' claims {math.prod(dims)} bytes of data .*at most 4294967296$"):
        read_idx(path)


def test_claimed_size_beyond_the_file_is_truncated_without_allocating_it(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(idx_header(60_000, 256, 256) + bytes(10))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"truncated: expected 3932160000 bytes of data, found 10$"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


@pytest.mark.parametrize(("dims", "message"), [((0, 28, 28), "holds 0 images"), ((0,), "holds 0 labels")])
def test_zero_items_refused(tmp_path, dims, message):
    path = tmp_path / "empty-idx"
    path.write_bytes(idx_header(*dims))
    with pytest.raises(DataError, match=rf"empty-idx' {message}; expected at least one$"):
        read_idx(path)


def test_zero_sized_images_refused(tmp_path):
    path = tmp_path / "flat"
    path.write_bytes(idx_header(3, 0, 28))
    with pytest.raises(DataError, match=r"flat' has images of 0x28 pixels; expected at least 1x1$"):
        read_idx(path)


def test_gzip_cut_inside_the_header(tmp_path, make_idx, images):
    path = make_idx(tmp_path / "images.gz", images, compress=True)
    path.write_bytes(path.read_bytes()[:14])
    with pytest.raises(DataError, match=r"images\.gz' is a corrupt gzip file \([^\n]+\)$"):
        read_idx(path)


def test_unreadable_file(tmp_path, make_idx, images, lock):
    path = make_idx(tmp_path / "locked", images)
    lock(path)
    with pytest.raises(DataError, match=r"^cannot read '.*locked': Permission denied$"):
        read_idx(path)
