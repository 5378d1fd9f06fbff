"""infoclust: cluster unlabelled images by maximising mutual information.

Python API: ``infoclust.IIC`` and ``infoclust.IMSAT`` (scikit-learn style), ``infoclust.train`` (config → run folder),
``infoclust.load_run`` (run folder → trained model), ``infoclust.losses`` (standalone losses).
"""
__version__ = "0.1.0"

from .api import ClusteringEstimator  # noqa: E402
from .methods.info_estimators import IIC, IMSAT  # noqa: E402
from .engine import load_trainer as load_run  # noqa: E402
from .engine import train  # noqa: E402

__all__ = ["ClusteringEstimator", "IIC", "IMSAT", "load_run", "train", "__version__"]
