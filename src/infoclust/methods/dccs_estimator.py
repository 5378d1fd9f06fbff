"""The scikit-learn style estimator of DCCS: ``infoclust.DCCS``."""
from __future__ import annotations

import numpy as np

from ..api import ClusteringEstimator


class DCCS(ClusteringEstimator):
    """DCCS (Zhao et al. 2020) of images: ``fit`` / ``predict`` (argmax of Zc) / ``predict_proba``
    (Zc) / ``transform`` (Z = [Zs, Zc], N×(50 + K)). ``X`` as for ``infoclust.IIC``; settings not
    given are chosen from the image size as ``infoclust train --method dccs`` chooses them."""

    _method = "dccs"
    _vectors_hint = "use infoclust.IMSAT for N×D vectors"

    def transform(self, X) -> np.ndarray:
        """N×(Ds + K) codes Z = [Zs, Zc] of each image."""
        return self._embed(X)
