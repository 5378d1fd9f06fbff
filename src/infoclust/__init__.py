"""infoclust: cluster unlabelled images by maximising mutual information.

Python API: ``infoclust.IIC``, ``infoclust.IMSAT``, ``infoclust.DCCS`` and ``infoclust.IMCSwAV`` (scikit-learn style), ``infoclust.train`` (config → run folder),
``infoclust.load_run`` (run folder → trained model), ``infoclust.probe`` (a run's features with a few labels:
``infoclust.probe(RUN, infoclust.ProbeSettings("linear", labels_fraction=0.01))``), ``infoclust.losses``
(standalone losses); ``infoclust.embed`` (a folder of photos → an embedding folder, through a
pretrained encoder or a run), ``infoclust.embed_like`` (new photos → vectors, as an embedding was
made) and ``infoclust.load_dataset`` (a named dataset, a folder, an array file or an embedding).
"""
__version__ = "0.1.0"

import os  # noqa: E402

# Before torch loads OpenMP: idle worker threads sleep instead of spinning. Alone it costs no wall
# time and saves CPU; two trainings sharing the cores stop starving each other (measured in
# docs/RESULTS.md, benchmarks/shared_machine.py). A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .api import ClusteringEstimator  # noqa: E402
from .data import load_dataset  # noqa: E402
from .embedder import EmbedSettings, embed, embed_like  # noqa: E402
from .engine import load_trainer as load_run  # noqa: E402
from .engine import train  # noqa: E402
from .estimators import estimator_classes  # noqa: E402
from .probes import ProbeSettings, probe  # noqa: E402

_ESTIMATORS = estimator_classes()  # one per registered method that names one: IIC, IMSAT, DCCS, IMCSwAV
globals().update(_ESTIMATORS)

__all__ = ["ClusteringEstimator", *sorted(_ESTIMATORS), "EmbedSettings", "ProbeSettings", "embed", "embed_like",
           "load_dataset", "load_run", "probe", "train", "__version__"]
