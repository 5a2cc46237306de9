"""Layers as functions: linear, convolution, pooling, dropout, padding, embedding, normalisation.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).shape
    (1, 1, 2, 2)
"""

from __future__ import annotations

from ...core.composites import dropout, linear
from ...core.convolution import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, conv2d, max_pool2d, pad

__all__ = ["adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "conv2d", "dropout", "linear",
           "max_pool2d", "pad"]
