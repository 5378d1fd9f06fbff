"""The scikit-learn style estimator of IMC-SwAV: ``infoclust.IMCSwAV``."""
from __future__ import annotations

from ..api import ClusteringEstimator


class IMCSwAV(ClusteringEstimator):
    """IMC-SwAV (Ntelemis et al. 2021) of images: ``fit`` / ``predict`` (the classifier's argmax on
    the whole image) / ``predict_proba``. ``X`` as for ``infoclust.IIC``; settings not given are
    chosen from the image size as ``infoclust train --method imc-swav`` chooses them."""

    _method = "imc-swav"
    _vectors_hint = "use infoclust.IMSAT for N×D vectors"
