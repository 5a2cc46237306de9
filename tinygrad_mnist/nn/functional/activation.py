"""Activation functions (``F.relu``, ``F.softmax``, ...), written in Tensor operations.

>>> from tinygrad_mnist import Tensor
>>> relu(Tensor([-1.0, 2.0]))
Tensor([0., 2.])
"""

from __future__ import annotations

from typing import Any

from ...core.composites import leaky_relu
from ...core.reductions import implicit_softmax_dim
from ...core.tensor import Tensor

__all__ = ["leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "tanh"]


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``axis`` is an alias; without either, PyTorch's
    implicit choice: 0 for 0-, 1- and 3-d inputs, else 1)."""
    if dim is None and axis is None:
        dim = implicit_softmax_dim(x.ndim)
    return x.softmax(dim, axis=axis, dtype=dtype)


def log_softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably (same ``dim`` rules as :func:`softmax`)."""
    if dim is None and axis is None:
        dim = implicit_softmax_dim(x.ndim)
    return x.log_softmax(dim, axis=axis, dtype=dtype)
