"""Parameter initialisers, drawing from the framework's seedable generator.

Each fills a tensor's array in place and returns the tensor, like PyTorch's
trailing-underscore functions. Seed with ``tinygrad_mnist.manual_seed``.

>>> import numpy as np
>>> from tinygrad_mnist import Tensor, manual_seed
>>> w = Tensor(np.empty((256, 100), dtype=np.float32))
>>> _ = manual_seed(0); _ = kaiming_uniform_(w, nonlinearity="relu")
>>> bool(np.abs(w.data).max() <= np.sqrt(6 / 100))
True
"""

from __future__ import annotations

import math

import numpy as np

from .. import random
from ..core.tensor import Tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity``."""
    if nonlinearity in ("linear", "sigmoid", "identity"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    tensor.data[...] = random.generator().uniform(a, b, size=tensor.shape)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    tensor.data[...] = random.generator().normal(mean, std, size=tensor.shape)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    tensor.data[...] = 0
    return tensor


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan_in) (He et al., 2015)."""
    fan_in, _ = _fans(tensor)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan_in)
    return uniform_(tensor, -bound, bound)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)
