"""Utilities under PyTorch's names: [`tinygrad_mnist.utils.data`][tinygrad_mnist.utils.data] (datasets, samplers,
loaders) and
[`tinygrad_mnist.utils.checkpoint`][tinygrad_mnist.utils.checkpoint] (recompute a function's forward in backward instead
of keeping it).

Examples:
    >>> from tinygrad_mnist.utils.data import TensorDataset, DataLoader
    >>> import tinygrad_mnist as tm
    >>> len(DataLoader(TensorDataset(tm.arange(10)), batch_size=4))
    3
"""

from . import checkpoint, data

__all__ = ["checkpoint", "data"]
