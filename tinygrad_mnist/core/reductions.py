"""Reductions with PyTorch's meaning: ``dim=``/``keepdim=`` (``axis=``/``keepdims=`` as aliases),
``max(dim)`` returning ``(values, indices)``, ``amax``, ``argmax``, ``softmax(dim)``, ``std``, ``sort``, ...

Each function takes the tensor first, so it serves both as a top-level function
(``sum(x, dim=0)``) and as a method (``x.sum(dim=0)``).

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([[1.0, 5.0], [4.0, 2.0]])
    >>> x.max(dim=1).indices.tolist(), x.sum(dim=0).tolist()
    ([1, 0], [5.0, 7.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import composites, rules
from .shape import dim_index

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor

Dim = int | Sequence[int] | None


class ValuesIndices(NamedTuple):
    """What ``max(dim)``, ``min(dim)``, ``sort`` and ``topk`` return: a tuple ``(values, indices)``."""

    values: Tensor
    indices: Tensor


def dims(op: str, dim: Dim, axis: Dim, ndim: int) -> tuple[int, ...]:
    """``dim`` (or its alias ``axis``) as a sorted tuple of dimensions; None means all of them."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim and its alias axis")
        dim = axis
    if dim is None:
        return tuple(range(ndim))
    items = (dim,) if not isinstance(dim, (tuple, list)) else dim
    out = sorted(dim_index(op, d, ndim) for d in items)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dim {dim!r} repeats a dimension")
    return tuple(out) if ndim else ()


def one_dim(op: str, dim: Any, axis: Any, ndim: int) -> int:
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim and its alias axis")
        dim = axis
    if dim is None:
        raise TypeError(f"{op}: missing the dim argument")
    return dim_index(op, dim, ndim)


def _keep(keepdim: bool, keepdims: bool | None) -> bool:
    return bool(keepdim if keepdims is None else keepdims)


def _drop(x: Tensor, axes: tuple[int, ...], keepdim: bool) -> Tensor:
    """A result computed with kept dims, with ``axes`` removed unless ``keepdim``."""
    return x if keepdim else x.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def sum(x: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype: Any = None,
        axis: Dim = None, keepdims: bool | None = None) -> Tensor:
    """Sum over ``dim`` (all dimensions when None).

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=1, keepdim=True).tolist()
        [[3.0], [7.0]]
    """
    x = x if dtype is None else x.to(dtype)
    data = x.data
    axes = tuple(range(data.ndim)) if dim is None and axis is None else dims("sum", dim, axis, data.ndim)
    if data.dtype.kind in "biu" and data.dtype != np.int64:
        x = x._wrap(data.astype(np.int64))  # integer and bool sums are int64, as in PyTorch
    return rules.reduce_sum(x, axis=axes, keepdims=_keep(keepdim, keepdims))


def mean(x: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Dim = None, keepdims: bool | None = None) -> Tensor:
    """Mean over ``dim`` (all dimensions when None); floating-point tensors only.
    The mean of no elements is nan, as in PyTorch.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).mean(dim=0).tolist(), Tensor([]).mean().item()
        ([2.0, 3.0], nan)
    """
    x = x if dtype is None else x.to(dtype)
    if x.dtype.kind not in "fc":
        raise TypeError(f"mean: needs a floating-point tensor, got dtype {x.dtype}; convert with .float()")
    return composites.mean(x, dims("mean", dim, axis, x.ndim), _keep(keepdim, keepdims))


def _arg(x: Tensor, d: int, largest: bool) -> np.ndarray:
    """Index (kept dim ``d``) of the first maximum (minimum); a nan counts as the extreme, as in PyTorch."""
    data = x.data
    if data.dtype.kind == "f" and np.isnan(data).any():
        data = np.where(np.isnan(data), np.inf if largest else -np.inf, data)
        pick = np.argmax if largest else np.argmin
        nan_first = np.argmax(np.isnan(x.data), axis=d, keepdims=True)
        plain = pick(data, axis=d, keepdims=True)
        return np.where(np.isnan(x.data).any(axis=d, keepdims=True), nan_first, plain)
    return (np.argmax if largest else np.argmin)(data, axis=d, keepdims=True)


def _along(index: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
    """An integer-array index picking ``index`` along dimension ``d`` and everything else in place."""
    grids = np.ogrid[tuple(slice(0, n) for n in index.shape)]
    return tuple(index if i == d else grids[i] for i in range(index.ndim))


def _select(op: str, x: Tensor, dim: Any, axis: Any, keepdim: bool, largest: bool) -> ValuesIndices:
    d = one_dim(op, dim, axis, x.ndim)
    if x.ndim == 0:
        return ValuesIndices(x.clone(), x._wrap(np.array(0, dtype=np.int64)))
    check_nonempty(op, x.shape, (d,))
    index = _arg(x, d, largest).astype(np.int64)
    values = rules.getitem(x, index=_along(index, d))  # the gradient goes to the chosen element only
    if not keepdim:
        values, index = values.reshape(values.shape[:d] + values.shape[d + 1:]), index.squeeze(d)
    return ValuesIndices(values, x._wrap(index))


def max(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: bool | None = None) -> Any:
    """Without ``dim``: the maximum of all elements (tied maxima share the gradient evenly).
    With ``dim``: ``(values, indices)`` along it; the gradient goes to the index returned.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor([[1.0, 5.0], [4.0, 2.0]]).max(1)
        ValuesIndices(values=Tensor([5., 4.]), indices=Tensor([1, 0], dtype=int64))
    """
    if dim is None and axis is None:
        check_nonempty("max", x.shape, (), whole=True)
        return amax(x)
    return _select("max", x, dim, axis, _keep(keepdim, keepdims), True)


def min(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: bool | None = None) -> Any:
    """Like [`max`][tinygrad_mnist.core.functions.max], for the minimum."""
    if dim is None and axis is None:
        check_nonempty("min", x.shape, (), whole=True)
        return amin(x)
    return _select("min", x, dim, axis, _keep(keepdim, keepdims), False)


def check_nonempty(op: str, shape: tuple[int, ...], axes: tuple[int, ...], whole: bool = False) -> None:
    """Refuse a reduction that has no identity (a maximum, a minimum, their indices) over a size-0
    dimension, with an IndexError as in PyTorch; ``whole`` means no dim was given.

    Examples:
        >>> check_nonempty("amax", (3, 0), (1,))
        Traceback (most recent call last):
        ...
        IndexError: amax: cannot reduce over a size-0 dimension (dim 1 of shape (3, 0))
    """
    if whole and 0 in shape:
        raise IndexError(f"{op}: cannot reduce an empty tensor (shape {tuple(shape)}) without a dim; "
                         "expected a dim whose size is not 0")
    for a in axes:
        if shape[a] == 0:
            raise IndexError(f"{op}: cannot reduce over a size-0 dimension (dim {a} of shape {tuple(shape)})")


def amax(x: Tensor, dim: Dim = None, keepdim: bool = False, *, axis: Dim = None,
         keepdims: bool | None = None) -> Tensor:
    """Maximum over ``dim`` (all when None or ()); tied maxima share the gradient evenly."""
    whole = (dim is None or dim == ()) and axis is None
    axes = dims("amax", None if dim == () else dim, axis, x.ndim)
    check_nonempty("amax", x.shape, axes, whole)
    return rules.reduce_max(x, axis=axes, keepdims=_keep(keepdim, keepdims))


def amin(x: Tensor, dim: Dim = None, keepdim: bool = False, *, axis: Dim = None,
         keepdims: bool | None = None) -> Tensor:
    """Minimum over ``dim`` (all when None or ()); tied minima share the gradient evenly."""
    whole = (dim is None or dim == ()) and axis is None
    axes = dims("amin", None if dim == () else dim, axis, x.ndim)
    check_nonempty("amin", x.shape, axes, whole)
    if x.dtype.kind in "biu":
        return x._wrap(x.data.min(axis=axes, keepdims=_keep(keepdim, keepdims)))
    return composites.amin(x, axes, _keep(keepdim, keepdims))


def argmax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) maximum along ``dim``; of the flattened tensor when None."""
    if dim is None:
        check_nonempty("argmax", x.shape, (), whole=True)
        return x._wrap(np.asarray(_arg(x._wrap(x.data.reshape(-1)), 0, True)[0], dtype=np.int64))
    return _select("argmax", x, dim, None, keepdim, True).indices


def argmin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) minimum along ``dim``; of the flattened tensor when None."""
    if dim is None:
        check_nonempty("argmin", x.shape, (), whole=True)
        return x._wrap(np.asarray(_arg(x._wrap(x.data.reshape(-1)), 0, False)[0], dtype=np.int64))
    return _select("argmin", x, dim, None, keepdim, False).indices


def logsumexp(x: Tensor, dim: Dim = None, keepdim: bool = False, *, axis: Dim = None,
              keepdims: bool | None = None) -> Tensor:
    """log(sum(exp(x))) over ``dim``, shifted by the (constant) maximum so it never overflows.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor(np.array([1e4, 1e4]))
        >>> round(x.logsumexp(0).item() - 1e4, 6)  # log(2)
        0.693147
    """
    if dim is None and axis is None:
        raise TypeError("logsumexp: missing the dim argument (a dimension or a tuple of them)")
    return composites.logsumexp(x, dims("logsumexp", dim, axis, x.ndim), _keep(keepdim, keepdims))


def implicit_softmax_dim(ndim: int) -> int:
    """PyTorch's choice of dim for ``F.softmax(x)`` without one: 0 for 0-, 1- and 3-d inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_dim(op: str, x: Tensor, dim: Any, axis: Any) -> int:
    if dim is None and axis is None:
        raise TypeError(f"{op}: missing the dim argument")
    return one_dim(op, dim, axis, x.ndim)


def softmax(x: Tensor, dim: Any = None, *, axis: Any = None, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor([0.0, 0.0]).softmax(dim=0).tolist()
        [0.5, 0.5]
    """
    x = x if dtype is None else x.to(dtype)
    d = _softmax_dim("softmax", x, dim, axis)
    return composites.softmax(x, d) if x.ndim else (x - x).exp()


def log_softmax(x: Tensor, dim: Any = None, *, axis: Any = None, dtype: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, stable for any magnitude (one fused primitive)."""
    x = x if dtype is None else x.to(dtype)
    return composites.log_softmax(x, _softmax_dim("log_softmax", x, dim, axis))
