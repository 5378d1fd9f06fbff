import numpy as np
import pytest
from sklearn.datasets import load_digits

import infoclust
from infoclust.errors import DataError
from tests.conftest import TINY


def tiny_config():
    import yaml

    return {key.replace(".", "__"): yaml.safe_load(value) for key, value in (item.split("=") for item in TINY)}


def test_fit_predict_on_float_digits_array():
    X = load_digits().images / 16.0  # N×H×W floats in [0, 1]
    model = infoclust.IIC(n_clusters=10, random_state=0, config=tiny_config())
    labels = model.fit_predict(X)
    assert labels.shape == (1797,) and labels.min() >= 0 and labels.max() < 10
    proba = model.predict_proba(X[:50])
    assert proba.shape == (50, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert (model.predict(X[:50]) == labels[:50]).all()
    with pytest.raises(DataError, match="fitted on"):
        model.predict(np.zeros((2, 12, 12)))


def test_predict_before_fit_and_vectors_are_clear_errors():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        infoclust.IIC().predict(np.zeros((2, 8, 8)))
    with pytest.raises(DataError, match="IMSAT"):
        infoclust.IIC().fit(np.zeros((10, 64)))


# n_clusters = 1 is an impossible setting for MI clustering (the MI of a single cluster is 0), and
# the estimator rejects it with a clear error; these scikit-learn checks force n_clusters = 1.
N_CLUSTERS_ONE = "sets n_clusters = 1, which MI clustering rejects: I(X, Y) and I(Y, Ỹ) are 0 for one cluster"
EXPECTED_FAILURES = {name: N_CLUSTERS_ONE for name in (
    "check_dont_overwrite_parameters", "check_methods_subset_invariance", "check_fit2d_1feature",
    "check_fit2d_predict1d")}


def test_imsat_passes_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    estimator = infoclust.IMSAT(n_clusters=3, epochs=30, device="cpu", config={"model__width": 64})
    results = check_estimator(estimator, expected_failed_checks=EXPECTED_FAILURES, on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed <= set(EXPECTED_FAILURES), failed
    assert sum(r["status"] == "passed" for r in results) >= 38


def test_imsat_clusters_digit_vectors_better_than_chance():
    X, y = load_digits(return_X_y=True)
    from sklearn.metrics import adjusted_rand_score

    labels = infoclust.IMSAT(n_clusters=10, random_state=0, epochs=10, config={"model__width": 256}).fit_predict(X)
    assert labels.shape == (1797,) and len(set(labels)) == 10
    assert adjusted_rand_score(y, labels) > 0.5


def test_n_clusters_one_is_a_clear_error():
    from infoclust.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 2 clusters"):
        infoclust.IMSAT(n_clusters=1).fit(np.random.rand(20, 3))
