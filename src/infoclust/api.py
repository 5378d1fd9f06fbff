"""scikit-learn style estimators: ``fit`` / ``predict`` / ``predict_proba`` / ``fit_predict``."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .config import load_config
from .data import Dataset
from .data.arrays import images_from_array
from .engine import EVAL_CHUNK, Trainer, sample_tensor
from .errors import DataError


class IIC:
    """Invariant Information Clustering of an image array.

    ``X``: N×H×W or N×C×H×W (C = 1 or 3, also N×H×W×C), uint8 0..255 or float ([0, 1] or 0..255).
    Extra keyword arguments are config values by dotted key with ``__`` for the dot, e.g.
    ``IIC(n_clusters=10, train__epochs=20, views__input_size=16)``; see ``infoclust.config``.
    After ``fit``: ``labels_`` (N,) cluster of each training image, ``figures_`` (dict; label-free
    unless ``fit(X, y)`` got labels, which are used for scoring only), ``selected_sub_head_``.
    """

    def __init__(self, n_clusters: int = 10, random_state: int = 0, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, device: str = "auto",
                 verbose: bool = False, **config: Any):
        self.n_clusters, self.random_state, self.epochs = n_clusters, random_state, epochs
        self.batch_size, self.lr, self.device, self.verbose = batch_size, lr, device, verbose
        self.config = config

    def _dataset(self, X: np.ndarray, y: np.ndarray | None = None) -> Dataset:
        images = images_from_array(np.asarray(X), "X")
        if images.ndim != 4:
            raise DataError(f"X has shape {np.shape(X)}; expected images N×H×W or N×C×H×W (use infoclust.IMSAT for N×D vectors)")
        labels = None if y is None else np.asarray(y, dtype=np.int64)
        return Dataset(images, labels, [str(i) for i in range(len(images))], name="array")

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> "IIC":
        values = {"model__n_clusters": self.n_clusters, "train__epochs": self.epochs, "train__batch_size": self.batch_size,
                  "train__lr": self.lr, "train__device": self.device, **self.config}  # config keys win
        cfg = load_config(None, [], method="iic", seed=self.random_state, **values)
        self.trainer_ = Trainer(cfg, self._dataset(X, y), run=None, progress=self.verbose)
        self.figures_ = self.trainer_.fit()
        self.selected_sub_head_ = self.figures_["selected_sub_head"]
        self.labels_ = self.trainer_.posteriors["B"][self.selected_sub_head_].argmax(1)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """N×K posteriors of the selected sub-head of the main head."""
        if not hasattr(self, "trainer_"):
            raise DataError("this IIC estimator is not fitted yet: call fit(X) first")
        images = sample_tensor(self._dataset(X))
        expected = tuple(self.trainer_.images.shape[1:])
        if tuple(images.shape[1:]) != expected:
            raise DataError(f"X has images of shape {tuple(images.shape[1:])} (C, H, W); the model was fitted on {expected}")
        device = self.trainer_.device
        parts = [self.trainer_.method.predict(images[i:i + EVAL_CHUNK].to(device))["B"][self.selected_sub_head_]
                 for i in range(0, len(images), EVAL_CHUNK)]
        return torch.cat(parts).float().cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N,) cluster index of each image."""
        return self.predict_proba(X).argmax(1)

    def fit_predict(self, X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        return self.fit(X, y).labels_
