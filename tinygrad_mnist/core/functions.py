"""Functions of tensors that are not methods: joining tensors, elementwise maximum.

>>> from tinygrad_mnist import Tensor, stack
>>> stack([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])], axis=1)
Tensor([[1., 3.],
        [2., 4.]])
"""

from __future__ import annotations

from collections.abc import Sequence

from . import rules
from .coerce import normalize_axes
from .tensor import ArrayLike, Tensor, _lift

__all__ = ["concatenate", "maximum", "stack"]


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (``np.stack``); each gets its slice of the gradient.

    >>> stack([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])]).shape
    (2, 2)
    """
    items = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not items:
        raise ValueError("stack: need at least one tensor")
    (axis,) = normalize_axes(axis, items[0].ndim + 1)
    return rules.stack(*items, axis=axis)


def concatenate(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``np.concatenate``); each gets its slice of the gradient.

    >>> concatenate([Tensor([[1.0, 2.0]]), Tensor([[3.0]])], axis=1)
    Tensor([[1., 2., 3.]])
    """
    items = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not items:
        raise ValueError("concatenate: need at least one tensor")
    (axis,) = normalize_axes(axis, max(items[0].ndim, 1))
    return rules.concatenate(*items, axis=axis)


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise maximum of two tensors (ties split the gradient)."""
    a_t = a if isinstance(a, Tensor) else _lift(a, b if isinstance(b, Tensor) else Tensor(a))
    return a_t.maximum(b)


