"""Top-level functions of tensors: joining (``cat``, ``stack``), ``maximum``/``minimum``, and the
function forms of the methods (``transpose(x, 0, 1)`` is ``x.transpose(0, 1)``, ``sum(x, dim=0)`` is
``x.sum(dim=0)``, ...): one function serves both.

Examples:
    >>> from tinygrad_mnist import Tensor, stack
    >>> stack([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])], dim=1)
    Tensor([[1., 3.],
            [2., 4.]])
    >>> transpose(Tensor([[1.0, 2.0]]), 0, 1).shape
    (2, 1)
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from . import rules
from .conversions import numel
from .elementwise import (
    abs,
    ceil,
    cos,
    eq,
    erf,
    exp,
    expm1,
    floor,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    nan_to_num,
    ne,
    pow,
    relu,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    tanh,
)
from .reductions import amax, amin, argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, sum
from .selection import (
    all,
    any,
    argsort,
    clamp,
    cumsum,
    gather,
    index_select,
    masked_fill,
    norm,
    prod,
    scatter,
    scatter_add,
    sort,
    std,
    topk,
    var,
)
from .shape import (
    chunk,
    clone,
    dim_index,
    flatten,
    flip,
    narrow,
    permute,
    reshape,
    split,
    squeeze,
    t,
    transpose,
    unflatten,
    unsqueeze,
)
from .tensor import ArrayLike, Tensor, _lift

clip = clamp

__all__ = [
    "abs", "all", "amax", "amin", "any", "argmax", "argmin", "argsort", "cat", "ceil", "chunk", "clamp", "clip",
    "clone", "concat", "concatenate", "cos", "cumsum", "eq", "erf", "exp", "expm1", "flatten", "flip", "floor",
    "gather",
    "ge", "gt", "index_select", "isfinite", "isnan", "le", "log", "log1p", "log_softmax", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logsumexp", "lt", "masked_fill", "max", "maximum", "mean", "min",
    "minimum", "nan_to_num", "narrow", "ne", "norm", "numel", "permute", "pow", "prod", "relu", "reshape", "round",
    "rsqrt", "scatter", "scatter_add", "sigmoid", "sign", "sin", "softmax", "sort", "split", "sqrt", "squeeze",
    "stack", "std", "sum", "t", "tanh", "topk", "transpose", "unflatten", "unsqueeze", "var",
]


def stack(tensors: Sequence[ArrayLike], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new dimension ``dim``; each gets its slice of the gradient.

    Examples:
        >>> stack([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])]).shape
        (2, 2)
    """
    items = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not items:
        raise ValueError("stack: need at least one tensor")
    d = dim_index("stack", dim if axis is None else axis, items[0].ndim + 1)
    return rules.stack(*items, axis=d)


def cat(tensors: Sequence[ArrayLike], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dimension ``dim``; each gets its slice of the gradient
    (``concatenate`` and ``concat`` are aliases).

    Examples:
        >>> concatenate([Tensor([[1.0, 2.0]]), Tensor([[3.0]])], axis=1)
        Tensor([[1., 2., 3.]])
    """
    items = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not items:
        raise ValueError("cat: need at least one tensor")
    if builtins.any(t.ndim == 0 for t in items):
        raise ValueError("cat: 0-d tensors cannot be concatenated; use stack")
    return rules.concatenate(*items, axis=dim_index("cat", dim if axis is None else axis, items[0].ndim))


concatenate = cat
concat = cat


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise maximum of two tensors (ties split the gradient)."""
    a_t = a if isinstance(a, Tensor) else _lift(a, b if isinstance(b, Tensor) else Tensor(a))
    return a_t.maximum(b)


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise minimum of two tensors (ties split the gradient)."""
    a_t = a if isinstance(a, Tensor) else _lift(a, b if isinstance(b, Tensor) else Tensor(a))
    return a_t.minimum(b)
