import numpy as np
import pytest

from infoclust.data import Dataset
from infoclust.errors import DataError


def make(n=4, **overrides):
    fields = {
        "images": np.arange(n * 4, dtype=np.uint8).reshape(n, 1, 2, 2),
        "labels": np.arange(n, dtype=np.int64) % 2,
        "ids": [str(i) for i in range(n)],
        "name": "toy",
    }
    return Dataset(**{**fields, **overrides})


def test_basics():
    data = make()
    assert len(data) == 4 and data.n_classes == 2 and not data.is_vectors and data.split == "all"
    assert "toy" in repr(data) and "uint8(4, 1, 2, 2)" in repr(data)
    assert make(labels=None).n_classes is None


def test_subset_by_index_and_mask():
    data = make()
    part = data.subset([3, 1])
    assert part.ids == ["3", "1"] and part.labels.tolist() == [1, 1] and part.name == "toy"
    np.testing.assert_array_equal(part.images, data.images[[3, 1]])
    masked = data.subset(np.array([True, False, False, True]))
    assert masked.ids == ["0", "3"]
    with pytest.raises(DataError, match="mask of shape"):
        data.subset(np.array([True, False]))


def test_vectors():
    data = Dataset(np.zeros((3, 5), np.float32), None, ["0", "1", "2"], name="v")
    assert data.is_vectors and data.subset([0]).images.shape == (1, 5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"images": np.zeros((4, 2, 2, 2), np.uint8)}, "expected uint8 .N, C, H, W. with C = 1 or 3"),
        ({"images": np.zeros((4, 1, 2, 2), np.float32)}, "dtype float32"),
        ({"images": np.zeros((4, 5), np.float64)}, "expected float32 .N, D."),
        ({"images": np.zeros(4, np.uint8)}, "shape .4,."),
        ({"labels": np.zeros(3, np.int64)}, r"expected int64 \(4,\)"),
        ({"labels": np.zeros(4, np.int32)}, "dtype int32"),
        ({"ids": ["0"]}, "1 ids for 4 items"),
        ({"class_names": ["only-one"]}, "labels span 0..1 but there are 1 class names"),
    ],
)
def test_validation(overrides, message):
    with pytest.raises(DataError, match=message):
        make(**overrides)
