import warnings

import numpy as np
import pytest

from infoclust.data.arrays import images_from_array, read_arrays
from infoclust.errors import DataError

RNG = np.random.default_rng(0)


def save_npy(tmp_path, array, name="x.npy"):
    path = tmp_path / name
    np.save(path, array)
    return path


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((4, 5, 6), (4, 1, 5, 6)),
        ((4, 1, 5, 6), (4, 1, 5, 6)),
        ((4, 3, 5, 6), (4, 3, 5, 6)),
        ((4, 5, 6, 1), (4, 1, 5, 6)),
        ((4, 5, 6, 3), (4, 3, 5, 6)),
        ((4, 3, 5, 3), (4, 3, 5, 3)),  # ambiguous: channels first wins
    ],
)
def test_accepted_image_shapes(tmp_path, shape, expected):
    array = RNG.integers(0, 256, size=shape, dtype=np.uint8)
    data = read_arrays(save_npy(tmp_path, array))
    assert data.images.shape == expected and data.images.dtype == np.uint8
    assert not data.is_vectors and data.labels is None
    assert data.ids == ["0", "1", "2", "3"] and data.name == "x"


def test_channels_last_values_transposed(tmp_path):
    array = RNG.integers(0, 256, size=(2, 5, 6, 3), dtype=np.uint8)
    data = read_arrays(save_npy(tmp_path, array))
    np.testing.assert_array_equal(data.images, array.transpose(0, 3, 1, 2))
    assert data.images.flags.c_contiguous


def test_feature_vectors(tmp_path):
    array = RNG.normal(size=(7, 12))
    data = read_arrays(save_npy(tmp_path, array))
    assert data.is_vectors and data.images.dtype == np.float32 and data.images.shape == (7, 12)
    np.testing.assert_allclose(data.images, array, rtol=1e-6)


def test_float_unit_range_scaled(tmp_path):
    array = np.array([[[0.0, 0.5], [1.0, 0.2]]], dtype=np.float32)
    data = read_arrays(save_npy(tmp_path, array))
    assert data.images[0, 0].tolist() == [[0, 128], [255, 51]]


def test_float_byte_range_rounded(tmp_path):
    array = np.array([[[0.0, 2.4], [254.6, 255.0]]])
    data = read_arrays(save_npy(tmp_path, array))
    assert data.images[0, 0].tolist() == [[0, 2], [255, 255]]


def test_unit_and_byte_ranges_do_not_warn(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_arrays(save_npy(tmp_path, np.array([[[0.0, 0.5, 1.0]]])))
        read_arrays(save_npy(tmp_path, np.array([[[0.0, 17.0, 255.0]]]), "b.npy"))
        read_arrays(save_npy(tmp_path, np.array([[[0, 1]]]), "c.npy"))


@pytest.mark.parametrize(
    ("values", "expected", "shown"),
    [
        ([-1.0, 0.0, 0.5, 1.0], [0, 128, 191, 255], r"-1\.\.1"),
        ([0.0, 150.0, 300.0], [0, 128, 255], r"0\.\.300"),
        ([-2.5, -2.5], [0, 0], r"-2\.5\.\.-2\.5"),
    ],
)
def test_floats_outside_byte_range_rescaled_with_warning(tmp_path, values, expected, shown):
    path = save_npy(tmp_path, np.array([[values]]))
    with pytest.warns(UserWarning, match=rf"x\.npy' has pixel values in {shown}, outside 0\.\.255; rescaled") as record:
        data = read_arrays(path)
    assert data.images[0, 0, 0].tolist() == expected
    assert len(record) == 1 and record[0].filename == __file__


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_zero_to_sixteen_scale_warns(dtype):
    images = np.arange(16 * 4, dtype=dtype).reshape(4, 4, 4) % 17  # 0..16, like sklearn's digits.images
    shown = r"^'X' has pixel values in 0\.\.16, read as 0\.\.255 .*divide by 16 for \[0, 1\]$"
    with pytest.warns(UserWarning, match=shown) as record:
        result = images_from_array(images, "X")
    assert result.max() == 16 and record[0].filename == __file__


def test_corrupt_npz_member(tmp_path):
    path = tmp_path / "set.npz"
    np.savez_compressed(path, images=RNG.integers(0, 256, size=(50, 8, 8), dtype=np.uint8))
    data = bytearray(path.read_bytes())
    data[100:130] = b"\xaa" * 30  # inside the deflated member: zlib fails before the CRC check
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"set\.npz' is not a readable numpy file \(Error -3 while decompressing"):
        read_arrays(path)


def test_int_and_bool(tmp_path):
    ints = read_arrays(save_npy(tmp_path, np.array([[[0, 17], [255, 3]]], dtype=np.int64)))
    assert ints.images.dtype == np.uint8 and ints.images[0, 0].tolist() == [[0, 17], [255, 3]]
    bools = read_arrays(save_npy(tmp_path, np.array([[[True, False]]]), "b.npy"))
    assert bools.images[0, 0].tolist() == [[255, 0]]


def test_int_out_of_range(tmp_path):
    with pytest.raises(DataError, match=r"integer pixel values in -1\.\.300; expected 0\.\.255"):
        read_arrays(save_npy(tmp_path, np.array([[[-1, 300]]])))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf(tmp_path, bad):
    array = np.zeros((3, 4, 4))
    array[0, 0, :2] = bad
    with pytest.raises(DataError, match=r"contains NaN/inf values \(2 of them\); expected finite pixel values"):
        read_arrays(save_npy(tmp_path, array))


@pytest.mark.parametrize("shape", [(10,), (2, 3, 4, 5, 6), (0, 5, 5), (2, 5, 6, 7)])
def test_rejected_shapes(tmp_path, shape):
    with pytest.raises(DataError, match=rf"shape \({shape[0]},.*expected \(N, H, W\)"):
        read_arrays(save_npy(tmp_path, np.zeros(shape, dtype=np.uint8)))


def test_npz_with_labels(tmp_path):
    path = tmp_path / "set.npz"
    images = RNG.integers(0, 256, size=(3, 2, 2), dtype=np.uint8)
    np.savez(path, x=images, y=np.array([2, 0, 2], dtype=np.int32))
    data = read_arrays(path)
    np.testing.assert_array_equal(data.images[:, 0], images)
    assert data.labels.dtype == np.int64 and data.labels.tolist() == [2, 0, 2]
    assert data.n_classes == 2 and data.name == "set"


def test_npz_images_key_preferred(tmp_path):
    path = tmp_path / "set.npz"
    np.savez_compressed(path, data=np.zeros((2, 2, 2), np.uint8), images=np.ones((3, 2, 2), np.uint8))
    data = read_arrays(path)
    assert len(data) == 3 and data.labels is None


def test_npz_without_images(tmp_path):
    path = tmp_path / "set.npz"
    np.savez(path, pictures=np.zeros((2, 2, 2)))
    with pytest.raises(DataError, match=r"has arrays \['pictures'\]; expected one named images, x, X, data"):
        read_arrays(path)


def test_labels_length_mismatch(tmp_path):
    path = tmp_path / "set.npz"
    np.savez(path, images=np.zeros((3, 2, 2), np.uint8), labels=np.zeros(4, np.int64))
    with pytest.raises(DataError, match=r"labels of shape \(4,\); expected \(3,\)"):
        read_arrays(path)


def test_fractional_labels(tmp_path):
    path = tmp_path / "set.npz"
    np.savez(path, images=np.zeros((2, 2, 2), np.uint8), labels=np.array([0.5, 1.0]))
    with pytest.raises(DataError, match="not whole numbers"):
        read_arrays(path)


def test_object_array_never_unpickled(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="object array"):
        read_arrays(path)


def test_object_array_inside_npz(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, images=np.array([[1], "two"], dtype=object))
    with pytest.raises(DataError, match="object array"):
        read_arrays(path)


def test_plain_pickle_rejected(tmp_path):
    import pickle

    path = tmp_path / "evil.npy"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(DataError, match="not a readable numpy file"):
        read_arrays(path)


@pytest.mark.parametrize("name", ["broken.npy", "broken.npz"])
def test_corrupt_file(tmp_path, name):
    good = tmp_path / ("good" + name[-4:])
    (np.save if name.endswith(".npy") else np.savez)(good, np.zeros((50, 8, 8), np.uint8))
    (tmp_path / name).write_bytes(good.read_bytes()[:200])
    with pytest.raises(DataError, match=r"broken\.np[yz]' is not a readable numpy file"):
        read_arrays(tmp_path / name)


def test_string_array(tmp_path):
    with pytest.raises(DataError, match="<U1 array; expected numbers"):
        read_arrays(save_npy(tmp_path, np.array([["a", "b"]])))


def test_unreadable_file(tmp_path, lock):
    path = save_npy(tmp_path, np.zeros((2, 3, 3), np.uint8))
    lock(path)
    with pytest.raises(DataError, match=r"^cannot read '.*x\.npy': Permission denied$"):
        read_arrays(path)
