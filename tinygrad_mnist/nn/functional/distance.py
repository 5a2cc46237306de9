"""Distances and vector normalisation: ``normalize``, ``cosine_similarity``, ``pairwise_distance``.

All three follow PyTorch's formulas, so values near zero vectors agree too:

* ``normalize``: x / max(||x||_p, eps) along ``dim`` (the clamp is part of the graph);
* ``cosine_similarity``: the inputs are broadcast together, each divided by its
  2-norm along ``dim`` raised to at least ``eps`` (the raise is a constant: the
  gradient goes through the norm itself), then multiplied and summed;
* ``pairwise_distance``: ||x1 - x2 + eps||_p over the last dimension.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> normalize(Tensor([[3.0, 4.0]]))
    Tensor([[0.6, 0.8]])
    >>> cosine_similarity(Tensor([[1.0, 0.0]]), Tensor([[1.0, 1.0]])).tolist()
    [0.7071067690849304]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.shape import dim_index
from ...core.tensor import Tensor

__all__ = ["cosine_similarity", "normalize", "pairwise_distance"]


def _floating(op: str, name: str, value: Any) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    if value.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {value.dtype}")


def _broadcast(op: str, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"{op}: x1 of shape {x1.shape} and x2 of shape {x2.shape} cannot be broadcast "
                         "together") from None
    return (x1 if x1.shape == shape else x1.broadcast_to(shape)), (x2 if x2.shape == shape else x2.broadcast_to(shape))


def normalize(input: Tensor, p: float = 2.0, dim: int | tuple[int, ...] = 1, eps: float = 1e-12,
              out: Any = None) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim`` (one dim or a tuple), the norm raised to at least ``eps``.

    Examples:
        >>> normalize(Tensor([[1.0, 1.0], [0.0, 0.0]]), p=1)
        Tensor([[0.5, 0.5],
                [0. , 0. ]])
    """
    _floating("normalize", "input", input)
    if out is not None:
        raise NotImplementedError("normalize: the out argument is not supported; use the returned tensor")
    if not isinstance(dim, (tuple, list)):
        dim_index("normalize", dim, input.ndim)
    norm = input.norm(p, dim=dim, keepdim=True)
    return input / norm.clamp(min=eps)


def _clamped_norm(x: Tensor, dim: int, eps: float) -> Tensor:
    """The 2-norm along ``dim`` (kept), its value raised to ``eps`` by a constant shift: gradients are those
    of the norm itself, as PyTorch's clamp outside the graph gives."""
    norm = x.norm(2, dim=dim, keepdim=True)
    shift = np.maximum(norm.data, np.asarray(eps, norm.dtype)) - norm.data
    return norm + norm._wrap(shift) if shift.any() else norm


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between ``x1`` and ``x2`` (broadcast together) along ``dim``.

    Examples:
        >>> cosine_similarity(Tensor([[1.0, 0.0], [0.0, 0.0]]), Tensor([[2.0, 0.0], [1.0, 1.0]]))
        Tensor([1., 0.])
    """
    _floating("cosine_similarity", "x1", x1)
    _floating("cosine_similarity", "x2", x2)
    a, b = _broadcast("cosine_similarity", x1, x2)
    dim_index("cosine_similarity", dim, a.ndim)
    return ((a / _clamped_norm(a, dim, eps)) * (b / _clamped_norm(b, dim, eps))).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The ``p``-norm of ``x1 - x2 + eps`` over the last dimension (the inputs broadcast together).

    Examples:
        >>> pairwise_distance(Tensor([[0.0, 0.0]]), Tensor([[3.0, 4.0]]), eps=0.0)
        Tensor([5.])
    """
    _floating("pairwise_distance", "x1", x1)
    _floating("pairwise_distance", "x2", x2)
    _broadcast("pairwise_distance", x1, x2)  # the error for shapes that do not fit, before the arithmetic
    last = max(x1.ndim, x2.ndim) - 1
    return (x1 - x2 + eps).norm(p, dim=last, keepdim=keepdim)
