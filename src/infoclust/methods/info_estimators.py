"""The scikit-learn style estimators of the information-based methods: ``infoclust.IIC`` and
``infoclust.IMSAT`` (``ClusteringEstimator`` of ``api.py`` with the method's name)."""
from __future__ import annotations

from ..api import ClusteringEstimator


class IIC(ClusteringEstimator):
    """Invariant Information Clustering (Ji et al. 2019) of images.

    ``X``: N×H×W, N×C×H×W or N×H×W×C (C = 1 or 3), uint8 0..255 or float ([0, 1] or 0..255).
    Settings not given are chosen from the image size exactly as ``infoclust train`` chooses them
    (for 8×8 digits: the tiny-image recipe, so ``IIC(random_state=S)`` and ``infoclust train --data
    digits --seed S`` train the same model; docs/methods.md).
    """

    _method = "iic"
    _vectors_hint = "use infoclust.IMSAT for N×D vectors"


class IMSAT(ClusteringEstimator):
    """IMSAT (Hu et al. 2017): max I(X, Y) with a VAT regulariser, IMSAT's own settings by default
    (MLP D → 1200 → 1200 → K, batch 250, Adam 2e-3, 50 epochs, λ 0.1, μ 4, adaptive ε = 0.5 × the
    distance to the 10th nearest neighbour; IMSAT's MNIST code uses 0.25:
    ``config={"objective__transforms__vat_prop_eps": 0.25}``).

    ``X``: N×D feature vectors (any real numbers), or images as for ``IIC``.
    """

    _method = "imsat"
    _vectors = True
