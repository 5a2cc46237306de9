"""Re-export of :mod:`tinygrad_mnist.anomaly` under ``tinygrad_mnist.autograd``."""

from ..anomaly import AnomalyError, detect_anomaly

__all__ = ["AnomalyError", "detect_anomaly"]
