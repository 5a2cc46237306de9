"""More reductions and selection with PyTorch's meaning: ``prod``, ``var``/``std``, ``norm``, ``cumsum``,
``any``/``all``, ``sort``, ``topk``, ``gather``, ``scatter``, ``index_select``, ``masked_fill``, ``clamp``.

All are written in primitives of the rule table (gathers are integer-array
``getitem``, whose gradient adds up repeated indices), so gradients of any order follow.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([[1.0, 5.0, 3.0]])
    >>> x.topk(2).indices.tolist(), x.gather(1, Tensor(np.array([[2, 0]]))).tolist()
    ([[1, 2]], [[3.0, 1.0]])
"""

from __future__ import annotations

import builtins
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from . import composites, rules
from .reductions import Dim, ValuesIndices, _along, check_nonempty, dims
from .shape import dim_index

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor


def _index_array(op: str, index: Any) -> np.ndarray:
    array = np.asanyarray(index.data if hasattr(index, "_ctx") else index)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {array.dtype}")
    return array.astype(np.int64)


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product over ``dim`` (all elements when None): pairwise products, so zeros get their gradient."""
    x = x if dtype is None else x.to(dtype)
    if x.dtype.kind in "biu":
        data = x.data.prod(axis=None if dim is None else dim_index("prod", dim, x.ndim), keepdims=keepdim)
        return x._wrap(np.asarray(data, dtype=np.int64))
    if dim is None:
        flat, d = x.reshape(-1), 0
    else:
        flat, d = x, dim_index("prod", dim, x.ndim)
    if flat.ndim == 0:
        return flat.clone()
    y = flat
    while y.shape[d] > 1:
        n, head = y.shape[d], (slice(None),) * d
        half = n // 2
        first, second, rest = (*head, slice(0, half)), (*head, slice(half, 2 * half)), (*head, slice(2 * half, n))
        pairs = y[first] * y[second]
        y = pairs if n % 2 == 0 else rules.concatenate(pairs, y[rest], axis=d)
    if y.shape[d] == 0:  # the empty product is 1: the empty sum plus 1 keeps it in the graph (an empty gradient)
        y = rules.reduce_sum(y, axis=(d,), keepdims=True) + 1.0
    if dim is None:
        return y.reshape((1,) * x.ndim) if keepdim else y.reshape(())
    return y if keepdim else y.squeeze(d)


def _variance(op: str, x: Tensor, dim: Dim, unbiased: bool | None, keepdim: bool,
              correction: float | None) -> Tensor:
    if x.dtype.kind not in "fc":
        raise TypeError(f"{op}: needs a floating-point tensor, got dtype {x.dtype}")
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: give either unbiased or correction, not both")
    c = float(correction) if correction is not None else 0.0 if unbiased is False else 1.0
    axes = dims(op, dim, None, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes]))
    centred = x - composites.mean(x, axes, True)
    total = rules.reduce_sum(centred * centred, axis=axes, keepdims=keepdim)
    if count - c > 0:
        return total * (1.0 / (count - c))
    warnings.warn(f"{op}: degrees of freedom N - correction = {count} - {c:g} <= 0; the result is nan where "
                  "the values are all equal (or there are none) and inf elsewhere", UserWarning, stacklevel=3)
    # PyTorch's total / max(N - correction, 0): 0 / 0 is nan, and nan (not 0 * inf) keeps numpy quiet
    return total * x._wrap(np.where(total.data == 0, np.nan, np.inf).astype(x.dtype))


def var(x: Tensor, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Variance over ``dim``, dividing by N - ``correction`` (1 by default; ``unbiased=False`` means 0).
    With N - correction <= 0 (an empty tensor, say) the result is nan (inf where the values differ),
    with a warning, as in PyTorch.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor([1.0, 2.0, 3.0]).var().item()
        1.0
    """
    return _variance("var", x, dim, unbiased, keepdim, correction)


def std(x: Tensor, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation: the square root of [`var`][tinygrad_mnist.core.functions.var] (same arguments)."""
    return composites.sqrt(_variance("std", x, dim, unbiased, keepdim, correction))


def norm(x: Tensor, p: Any = 2, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """The vector p-norm over ``dim`` (all elements when None): p = 2 (default), 1, inf, -inf, 0 or any number.
    The 2-norm of a zero vector has gradient 0, as in PyTorch."""
    if x.dtype.kind not in "fc":
        raise TypeError(f"norm: needs a floating-point tensor, got dtype {x.dtype}")
    if p == "fro":
        p = 2
    axes = dims("norm", dim, None, x.ndim)
    magnitude = composites.absolute(x)
    if p in (np.inf, float("inf"), -np.inf, float("-inf")):  # a maximum (minimum) has no value over nothing
        check_nonempty("norm", x.shape, axes, whole=dim is None)
    if p in (np.inf, float("inf")):
        return rules.reduce_max(magnitude, axis=axes, keepdims=keepdim)
    if p in (-np.inf, float("-inf")):
        return composites.amin(magnitude, axes, keepdim)
    if p == 0:
        return x._wrap((x.data != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype))
    if p == 1:
        return rules.reduce_sum(magnitude, axis=axes, keepdims=keepdim)
    total = rules.reduce_sum(magnitude ** p if p != 2 else x * x, axis=axes, keepdims=keepdim)
    zero = total.data == 0  # d total^(1/p) is infinite at 0: PyTorch's gradient there is 0
    if zero.any():
        safe = rules.where(total, x._wrap(np.ones_like(total.data)), cond=~zero)
        return rules.where(safe ** (1.0 / p), x._wrap(np.zeros_like(total.data)), cond=~zero)
    return total ** (1.0 / p)


def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along ``dim`` (a matrix product with a triangle of ones, so it is differentiable)."""
    x = x if dtype is None else x.to(dtype)
    d = dim_index("cumsum", dim, x.ndim)
    if x.dtype.kind in "biu":
        return x._wrap(np.cumsum(x.data, axis=d, dtype=np.int64))
    if x.ndim == 0:
        return x.clone()
    n = x.shape[d]
    moved = x.transpose(d, -1)
    out = moved @ x._wrap(np.triu(np.ones((n, n), dtype=x.dtype)))
    return out.transpose(d, -1)


def any(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Whether any element is true (nonzero), over ``dim`` (all dimensions by default): a bool tensor.

    Examples:
        >>> from tinygrad_mnist import tensor
        >>> tensor([[0, 1], [0, 0]]).any(dim=1)
        Tensor([ True, False], dtype=bool)
    """
    axes = dims("any", dim, None, x.ndim)
    return x._wrap(np.asanyarray(np.any(x.data, axis=axes, keepdims=keepdim)))


def all(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Whether every element is true (nonzero), over ``dim`` (all dimensions by default): a bool tensor."""
    axes = dims("all", dim, None, x.ndim)
    return x._wrap(np.asanyarray(np.all(x.data, axis=axes, keepdims=keepdim)))


def _order(x: Tensor, d: int, descending: bool) -> np.ndarray:
    key = -x.data if descending and x.dtype.kind != "b" else x.data
    if descending and x.dtype.kind == "b":
        key = ~x.data
    if x.dtype.kind == "f" and np.isnan(x.data).any():  # nan sorts as the largest value, as in PyTorch
        key = np.where(np.isnan(x.data), -np.inf if descending else np.inf, key)
    return np.argsort(key, axis=d, kind="stable").astype(np.int64)


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """``(values, indices)`` sorted along ``dim`` (stable: equal values keep their order)."""
    d = dim_index("sort", dim, x.ndim)
    if x.ndim == 0:
        return ValuesIndices(x.clone(), x._wrap(np.array(0, dtype=np.int64)))
    index = _order(x, d, descending)
    return ValuesIndices(rules.getitem(x, index=_along(index, d)), x._wrap(index))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (ascending unless ``descending``), as ``sort(...).indices``.

    Examples:
        >>> from tinygrad_mnist import tensor
        >>> tensor([3.0, 1.0, 2.0]).argsort().tolist()
        [1, 2, 0]
    """
    return sort(x, dim, descending, stable).indices


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices, in order."""
    d = dim_index("topk", dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    if not 0 <= k <= size:
        raise IndexError(f"topk: k {k} is out of range for dim {dim} of size {size}")
    if x.ndim == 0:
        return sort(x)
    index = _order(x, d, largest)[(slice(None),) * d + (slice(0, k),)]
    return ValuesIndices(rules.getitem(x, index=_along(index, d)), x._wrap(index))


def _check_index(op: str, x: Tensor, d: int, index: np.ndarray, same_rank: bool = True) -> None:
    if same_rank and index.ndim != builtins.max(x.ndim, 1):
        raise ValueError(f"{op}: index must have as many dimensions as the input ({x.ndim}), got {index.ndim}")
    size = x.shape[d] if x.ndim else 1
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(f"{op}: index values must be in [0, {size - 1}] for dim {d}, got "
                         f"min {index.min()} and max {index.max()}")


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """``out[i][j] = x[index[i][j]][j]`` for dim 0 (and likewise for any ``dim``); shaped like ``index``."""
    d = dim_index("gather", dim, x.ndim)
    idx = _index_array("gather", index)
    _check_index("gather", x, d, idx)
    for i, (n, m) in enumerate(zip(idx.shape, x.shape, strict=False)):
        if i != d and n > m:
            raise ValueError(f"gather: index shape {idx.shape} exceeds the input shape {x.shape} in dim {i}")
    return rules.getitem(x, index=_along(idx, d))


def _scatter_positions(op: str, x: Tensor, dim: int, index: Any, src: Any) -> tuple[tuple[np.ndarray, ...], Tensor]:
    d = dim_index(op, dim, x.ndim)
    idx = _index_array(op, index)
    _check_index(op, x, d, idx)
    source = src if hasattr(src, "_ctx") else x._wrap(np.full(idx.shape, src, dtype=x.dtype))
    if source.ndim != idx.ndim or builtins.any(n > m for n, m in zip(idx.shape, source.shape, strict=True)):
        raise ValueError(f"{op}: src shape {source.shape} must be at least index shape {idx.shape} in every dim")
    taken = source if source.shape == idx.shape else source[tuple(slice(0, n) for n in idx.shape)]
    return _along(idx, d), taken


def scatter_add(x: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """A copy of ``x`` with ``src`` added at ``index`` along ``dim`` (repeated indices add up)."""
    positions, taken = _scatter_positions("scatter_add", x, dim, index, src)
    return x + rules.scatter(taken, index=positions, shape=x.shape)


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """A copy of ``x`` with ``src`` (or the number ``value``) written at ``index`` along ``dim``.
    Each position should be written once (with repeats, PyTorch leaves which write wins undefined)."""
    positions, taken = _scatter_positions("scatter", x, dim, index, value if src is None else src)
    written = np.zeros(x.shape, dtype=bool)
    written[positions] = True
    return rules.where(rules.scatter(taken, index=positions, shape=x.shape), x, cond=written)


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The entries ``index`` (a 1-d integer tensor) along ``dim``."""
    d = dim_index("index_select", dim, x.ndim)
    idx = _index_array("index_select", index)
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-d, got shape {idx.shape}")
    _check_index("index_select", x, d, idx, same_rank=False)
    if x.ndim == 0:
        return x.reshape(idx.shape) if idx.size else x
    return rules.getitem(x, index=(slice(None),) * d + (idx.reshape(-1),))


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask`` is true, ``x`` elsewhere; the gradient passes where ``x`` was kept."""
    cond = np.asanyarray(mask.data if hasattr(mask, "_ctx") else mask)
    if cond.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {cond.dtype}")
    fill = value if hasattr(value, "_ctx") else x._wrap(np.asarray(value, dtype=x.dtype))
    out = rules.where(fill, x, cond=cond)
    if out.shape != x.shape:
        raise ValueError(f"masked_fill: mask shape {cond.shape} does not broadcast to the input shape {x.shape}")
    return out


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Values limited to [min, max] (numbers or tensors); the gradient passes to ``x`` where it was
    inside (bounds included) and to a bound where it was taken. With min > max, the result is max."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if not hasattr(min, "_ctx") and not hasattr(max, "_ctx"):
        return composites.clip(x, min, max)
    out = x
    if min is not None:
        low = min if hasattr(min, "_ctx") else x._wrap(np.asarray(min, dtype=x.dtype))
        out = rules.where(low, out, cond=out.data < low.data)
    if max is not None:
        high = max if hasattr(max, "_ctx") else x._wrap(np.asarray(max, dtype=x.dtype))
        out = rules.where(high, out, cond=out.data > high.data)
    return out
