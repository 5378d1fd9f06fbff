"""scikit-learn style estimators: ``fit`` / ``predict`` / ``predict_proba`` / ``fit_predict``.

``ClusteringEstimator`` fits any registered method; ``estimators.py`` makes the named estimators
(``infoclust.IIC``, ``infoclust.DCCS``, ...) from the registry, one per method that declares one.
They follow scikit-learn's estimator conventions (``check_estimator`` passes for IMSAT, see
tests/test_api.py). Labels are never used: ``fit(X, y)`` ignores ``y``.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import prediction
from .data import Dataset
from .data.arrays import images_from_array
from .engine import Trainer
from .errors import DataError
from .methods import METHODS, load_config


class ClusteringEstimator(ClusterMixin, TransformerMixin, BaseEstimator):
    """fit/predict of the method named by ``_method``. ``config``: further config values by
    dotted key with ``__`` for the dot, e.g. ``{"views__input_size": 16, "model__sub_heads": 10}``.

    ``n_clusters="auto"``: K chosen after training, at most ``max_clusters`` (default 50), for the
    methods that choose K (``model.max_clusters`` in their config; docs/methods.md).

    After ``fit``: ``labels_`` (N,), ``n_clusters_`` (K: ``n_clusters``, or the chosen one),
    ``figures_`` (label-free figures: cluster sizes, sub-head losses; ``k_choice`` when K was
    chosen), ``selected_sub_head_``, ``config_`` (the resolved ``RunConfig``).
    """

    _method = ""  # the registered method this estimator fits

    def __init__(self, n_clusters: int | str = 10, random_state: int = 0, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, device: str = "auto",
                 verbose: bool = False, config: dict | None = None, max_clusters: int | None = None):
        self.n_clusters = n_clusters
        self.max_clusters = max_clusters
        self.random_state = random_state
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.verbose = verbose
        self.config = config

    def _samples(self, X, reset: bool) -> np.ndarray:
        """uint8 N×C×H×W images or float32 N×D vectors; sets (fit) or checks (predict) the input shape."""
        ndim = X.ndim if isinstance(X, np.ndarray) else np.asarray(X).ndim  # array-likes without np.ndim too
        if ndim in (3, 4):
            return _images(X, self, reset)
        if not METHODS[self._method].vectors:
            takers = [f"infoclust.{s.estimator}" for s in METHODS.values() if s.vectors and s.estimator]
            raise DataError(f"X has shape {np.shape(X)}: {type(self).__name__} clusters images N×H×W or N×C×H×W; "
                            f"expected images, or N×D vectors with {' or '.join(takers) or 'a method of vectors'}")
        return validate_data(self, X, reset=reset, dtype=np.float32, ensure_min_samples=2).astype(np.float32, copy=False)

    def fit(self, X, y=None) -> "ClusteringEstimator":
        samples = self._samples(X, reset=True)
        values = {"model__n_clusters": self.n_clusters, "model__max_clusters": self.max_clusters, "train__epochs": self.epochs, "train__batch_size": self.batch_size,
                  "train__lr": self.lr, "train__device": self.device, **(self.config or {})}
        cfg = load_config(None, [], method=self._method, seed=self.random_state, **values)
        trainer = Trainer(cfg, Dataset(samples, None, [str(i) for i in range(len(samples))], name="X"),
                          run=None, progress=self.verbose)
        self.figures_ = trainer.fit()
        self.config_, self.method_ = trainer.cfg, trainer.method
        self.selected_sub_head_ = self.figures_["selected_sub_head"]
        self.n_clusters_ = self.figures_["n_clusters"]
        self.labels_ = prediction.reported(self.method_, trainer.eval_images, self.selected_sub_head_).argmax(1)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """N×K posteriors of the selected sub-head of the main head."""
        check_is_fitted(self, "method_")
        samples = torch.from_numpy(self._samples(X, reset=False))
        return prediction.reported(self.method_, samples, self.selected_sub_head_)

    def predict(self, X) -> np.ndarray:
        """(N,) cluster index of each sample."""
        return self.predict_proba(X).argmax(1)

    def transform(self, X) -> np.ndarray:
        """N×D embedding of each sample (the method's ``features``: IIC's trunk output, DCCS's
        codes Z = [Zs, Zc], IMC-SwAV's encoder output)."""
        check_is_fitted(self, "method_")
        return prediction.features(self.method_, torch.from_numpy(self._samples(X, reset=False)))

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_


def _images(X, estimator: "ClusteringEstimator", reset: bool) -> np.ndarray:
    images = images_from_array(np.asarray(X), "X")
    if reset:
        estimator.image_shape_ = images.shape[1:]
    elif images.shape[1:] != estimator.image_shape_:
        raise DataError(f"X has images of shape {images.shape[1:]} (C, H, W); the model was fitted on {estimator.image_shape_}")
    return images
