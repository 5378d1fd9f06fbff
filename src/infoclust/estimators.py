"""The named scikit-learn style estimators (``infoclust.IIC``, ``infoclust.DCCS``, ...), made from the
registry: one ``ClusteringEstimator`` subclass per registered method that declares an estimator
name, with the method's own docstring. Adding a method with an estimator adds its class here."""
from __future__ import annotations

from .api import ClusteringEstimator
from .methods import METHODS


def estimator_classes() -> dict[str, type[ClusteringEstimator]]:
    """{class name: estimator class} of every registered method that names an estimator."""
    return {spec.estimator: type(spec.estimator, (ClusteringEstimator,),
                                 {"_method": spec.name, "__doc__": spec.estimator_doc, "__module__": "infoclust"})
            for spec in METHODS.values() if spec.estimator}
