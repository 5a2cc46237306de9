"""Re-export of ``tinygrad_mnist.core.anomaly`` under ``tinygrad_mnist.autograd``."""

from ..core.anomaly import AnomalyError, detect_anomaly

__all__ = ["AnomalyError", "detect_anomaly"]
