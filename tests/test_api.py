import numpy as np
import pytest
from sklearn.datasets import load_digits

import infoclust
from infoclust.errors import DataError
from tests.conftest import TINY


def tiny_kwargs():
    kwargs = {}
    for item in TINY:
        key, value = item.split("=")
        kwargs[key.replace(".", "__")] = eval(value) if value[0] in "[0123456789" else value
    return kwargs


def test_fit_predict_on_float_digits_array():
    X = load_digits().images / 16.0  # N×H×W floats in [0, 1]
    model = infoclust.IIC(n_clusters=10, random_state=0, **tiny_kwargs())
    labels = model.fit_predict(X)
    assert labels.shape == (1797,) and labels.min() >= 0 and labels.max() < 10
    proba = model.predict_proba(X[:50])
    assert proba.shape == (50, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert (model.predict(X[:50]) == labels[:50]).all()
    with pytest.raises(DataError, match="fitted on"):
        model.predict(np.zeros((2, 12, 12)))


def test_predict_before_fit_and_vectors_are_clear_errors():
    with pytest.raises(DataError, match="not fitted"):
        infoclust.IIC().predict(np.zeros((2, 8, 8)))
    with pytest.raises(DataError, match="IMSAT"):
        infoclust.IIC().fit(np.zeros((10, 64)))
