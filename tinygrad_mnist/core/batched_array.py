"""Batched arrays for ``func.vmap``: numpy arrays that carry whole batches but show one example's shape.

A ``BatchedArray`` is a numpy array whose leading axes are batch axes, one
per active vmap *level* (the innermost level first), and whose ``shape``,
``ndim``, ``size`` and ``len`` report the logical, per-example shape. The few
forwards, composites and VJPs that read ``.data`` directly (masks such as
``a.data > 0``, ``np.max(x.data, axis=...)``, ``out.data.reshape(kept)``) get
one: its ufuncs align logical ranks, its reductions, reshapes and indexing
shift axes past the batch axes, and results stay marked. A numpy function
without such handling raises ``NotImplementedError`` naming it, never a silent
wrong answer. The batching rules of the primitives are in
``tinygrad_mnist.core.batching``.

Examples:
    >>> import numpy as np
    >>> b = mark(np.arange(6.0).reshape(2, 3), (0,))   # a batch of two 3-vectors at level 0
    >>> b.shape, (b * np.ones(3)).sum(axis=0).view(np.ndarray).tolist()
    ((3,), [3.0, 12.0])
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Levels = tuple[int, ...]


class _BatchingState:
    """The open vmap levels (innermost last) and each one's batch size; empty outside vmap."""

    def __init__(self) -> None:
        self.levels: list[int] = []
        self.sizes: dict[int, int] = {}


BATCHING = _BatchingState()


def plain(a: Any) -> Any:
    return a.view(np.ndarray) if isinstance(a, BatchedArray) else a


def mark(array: np.ndarray, levels: Levels) -> Any:
    """``array`` (its leading ``len(levels)`` axes the batch axes of ``levels``, innermost first) as a
    ``BatchedArray``; the array itself when ``levels`` is empty."""
    if not levels:
        return array
    out = np.asarray(array).view(BatchedArray)
    out.levels = levels
    return out


def physical_shape(a: np.ndarray) -> tuple[int, ...]:
    return np.ndarray.shape.__get__(a)


def batch_sizes(arrays: Sequence[Any]) -> tuple[Levels, dict[int, int]]:
    """The union of the arrays' levels (innermost first) and each level's batch size."""
    sizes: dict[int, int] = {}
    for a in arrays:
        if isinstance(a, BatchedArray):
            for level, n in zip(a.levels, physical_shape(a), strict=False):
                if sizes.setdefault(level, n) != n:
                    raise ValueError(f"vmap: batch sizes {sizes[level]} and {n} meet at level {level}; "
                                     "every batched input of one vmap needs the same batch size")
    return tuple(sorted(sizes, reverse=True)), sizes


def lift_levels(a: Any, levels: Levels, sizes: dict[int, int] | None, rank: int) -> Any:
    """``a`` as a plain array with the batch axes of ``levels`` (size 1 where it lacks one, or the full
    size with ``sizes``) followed by ``rank`` logical axes (size-1 axes in front). Unbatched: unchanged."""
    if not isinstance(a, BatchedArray):
        return a
    shape = physical_shape(a)
    own = dict(zip(a.levels, shape, strict=False))
    logical = shape[len(a.levels):]
    batch = tuple(own.get(level, 1) for level in levels)
    out = a.view(np.ndarray).reshape(batch + (1,) * (rank - len(logical)) + logical)
    if sizes is not None and batch != tuple(sizes[level] for level in levels):
        out = np.broadcast_to(out, tuple(sizes[level] for level in levels) + physical_shape(out)[len(levels):])
    return out


def _axis(axis: Any, nb: int, ndim: int, everything: bool = True) -> Any:
    """A logical ``axis`` (int, tuple or None) as the physical one: shifted past ``nb`` batch axes."""
    if axis is None:
        if not everything:
            raise NotImplementedError("vmap: axis=None (flattening) on a batched array is not supported")
        return tuple(range(nb, nb + ndim))
    if isinstance(axis, tuple):
        return tuple(_axis(a, nb, ndim) for a in axis)
    a = operator.index(axis)
    return a + nb if a >= 0 else a


class BatchedArray(np.ndarray):
    """A numpy array whose leading axes are vmap batch axes (``levels``, innermost first).

    ``shape``, ``ndim``, ``size`` and ``len`` are the logical (per-example)
    ones; ufuncs, reductions, reshapes and basic or integer-array indexing work
    per example and return batched arrays; other numpy functions raise.
    """

    levels: Levels = ()

    def __array_finalize__(self, obj: Any) -> None:
        self.levels = getattr(obj, "levels", ())

    @property
    def shape(self) -> tuple[int, ...]:
        return physical_shape(self)[len(self.levels):]

    @shape.setter
    def shape(self, value: Any) -> None:
        np.ndarray.shape.__set__(self, physical_shape(self)[:len(self.levels)] + tuple(value))  # type: ignore[attr-defined]

    @property
    def ndim(self) -> int:
        return len(physical_shape(self)) - len(self.levels)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d batched array")
        return self.shape[0]

    def __iter__(self) -> Any:
        raise NotImplementedError("vmap: iterating over a batched array is not supported; index it instead")

    def __bool__(self) -> bool:
        values = self.view(np.ndarray)
        if values.all():
            return True
        if not values.any():
            return False
        raise ValueError("vmap: data-dependent control flow: the truth value differs between the examples of "
                         "the batch")

    def item(self, *args: Any) -> Any:
        raise NotImplementedError("vmap: item() of a batched value (one value per example) is not supported")

    def tolist(self) -> Any:
        raise NotImplementedError("vmap: tolist() of a batched value (one value per example) is not supported")

    def __repr__(self) -> str:
        return f"BatchedArray(levels={self.levels}, physical={self.view(np.ndarray)!r})"

    # -- numpy protocol -------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and ufunc is not np.matmul:
            levels, _ = batch_sizes(inputs + tuple(kwargs.get("out", ())))
            rank = max(np.ndim(a) for a in inputs)  # logical ranks: BatchedArray.ndim is logical
            plains = [lift_levels(a, levels, None, rank) for a in inputs]
            out = kwargs.get("out")
            if out is not None:
                if not all(isinstance(o, BatchedArray) and o.levels == levels for o in out):
                    raise NotImplementedError(f"vmap: {ufunc.__name__}(out=...) must write into a batched array")
                kwargs["out"] = tuple(o.view(np.ndarray) for o in out)
            result = ufunc(*plains, **kwargs)
            if out is not None:
                return out[0] if len(out) == 1 else out
            return tuple(mark(r, levels) for r in result) if isinstance(result, tuple) else mark(result, levels)
        if method in ("reduce", "accumulate") and len(inputs) == 1 and "out" not in kwargs:
            (a,) = inputs
            axis = kwargs.pop("axis", 0)
            if axis is None and ufunc in (np.logical_or, np.logical_and) and method == "reduce":
                return ufunc.reduce(a.view(np.ndarray), axis=None, **kwargs)  # any()/all(): the whole batch
            physical = _axis(axis, len(a.levels), a.ndim, method == "reduce")
            return mark(getattr(ufunc, method)(a.view(np.ndarray), axis=physical, **kwargs), a.levels)
        raise NotImplementedError(f"vmap: numpy's {ufunc.__name__}.{method} on a batched array is not supported")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        handler = _FUNCTIONS.get(func)
        if handler is None:
            raise NotImplementedError(f"vmap: numpy.{func.__name__} on the data of a batched tensor is not "
                                      "supported inside vmap")
        return handler(func, *args, **kwargs)

    # -- methods with axis semantics --------------------------------------------------
    def _reduce(self, name: str, axis: Any = None, **kwargs: Any) -> Any:
        if axis is None and name in ("any", "all"):
            return getattr(self.view(np.ndarray), name)(**kwargs)  # the whole batch: choosing a formula
        physical = _axis(axis, len(self.levels), self.ndim, name not in ("argmax", "argmin", "cumsum"))
        return mark(getattr(self.view(np.ndarray), name)(axis=physical, **kwargs), self.levels)

    def sum(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("sum", axis, **kwargs)

    def max(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("max", axis, **kwargs)

    def min(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("min", axis, **kwargs)

    def mean(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("mean", axis, **kwargs)

    def prod(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("prod", axis, **kwargs)

    def any(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("any", axis, **kwargs)

    def all(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("all", axis, **kwargs)

    def argmax(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("argmax", axis, **kwargs)

    def argmin(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("argmin", axis, **kwargs)

    def cumsum(self, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._reduce("cumsum", axis, **kwargs)

    def reshape(self, *shape: Any, **kwargs: Any) -> Any:
        target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        batch = physical_shape(self)[:len(self.levels)]
        return mark(self.view(np.ndarray).reshape(batch + tuple(target), **kwargs), self.levels)

    def ravel(self, *args: Any) -> Any:
        return self.reshape(-1)

    flatten = ravel  # type: ignore[assignment]

    def transpose(self, *axes: Any) -> Any:
        order = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        nb = len(self.levels)
        order = order or tuple(reversed(range(self.ndim)))
        return mark(self.view(np.ndarray).transpose(tuple(range(nb)) + tuple(int(a) % self.ndim + nb for a in order)),
                    self.levels)

    @property
    def T(self) -> Any:
        return self.transpose()

    def squeeze(self, axis: Any = None) -> Any:
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        return mark(self.view(np.ndarray).squeeze(axis=_axis(axis, len(self.levels), self.ndim)), self.levels)

    def __getitem__(self, index: Any) -> Any:
        items = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, BatchedArray) and i.levels != self.levels for i in items):
            raise NotImplementedError("vmap: an index batched at other levels than the array it indexes")
        return mark(batched_index(self.view(np.ndarray), len(self.levels), index), self.levels)

    def __setitem__(self, index: Any, value: Any) -> None:
        raise NotImplementedError("vmap: writing into a batched array by index is not supported")


def _levels_of(a: Any) -> Levels:
    return a.levels if isinstance(a, BatchedArray) else ()


def _elementwise_function(func: Any, *args: Any, **kwargs: Any) -> Any:
    arrays = [a for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray)]
    levels, _ = batch_sizes(arrays)
    rank = max(np.ndim(a) for a in arrays)
    lift = [lift_levels(a, levels, None, rank) for a in args]
    return mark(np.asarray(func(*lift, **{k: lift_levels(v, levels, None, rank) for k, v in kwargs.items()})), levels)


def _like_function(func: Any, a: Any, *args: Any, **kwargs: Any) -> Any:
    if "shape" in kwargs:
        raise NotImplementedError(f"vmap: numpy.{func.__name__}(shape=...) of a batched array is not supported")
    return mark(func(plain(a), *args, **kwargs), _levels_of(a))


def _axis_function(func: Any, a: Any, *args: Any, **kwargs: Any) -> Any:
    if args:
        kwargs["axis"], args = args[0], args[1:]
    if func in (np.any, np.all) and kwargs.get("axis") is None:
        return func(plain(a), *args, **kwargs)
    everything = func not in (np.sort, np.argsort, np.cumsum)
    kwargs["axis"] = _axis(kwargs.get("axis"), len(a.levels), a.ndim, everything)
    return mark(func(a.view(np.ndarray), *args, **kwargs), a.levels)


def _join_function(func: Any, arrays: Sequence[Any], axis: int = 0, **kwargs: Any) -> Any:
    levels, sizes = batch_sizes(arrays)
    rank = max(np.ndim(a) for a in arrays)
    full = [lift_levels(a, levels, sizes, rank) if isinstance(a, BatchedArray) else
            np.broadcast_to(a, tuple(sizes[v] for v in levels) + np.shape(a)) for a in arrays]
    return mark(func(full, axis=axis + len(levels) if axis >= 0 else axis, **kwargs), levels)


def _reshape_function(func: Any, a: Any, shape: Any, **kwargs: Any) -> Any:
    return a.reshape(shape) if isinstance(a, BatchedArray) else func(a, shape, **kwargs)


def _broadcast_function(func: Any, a: Any, shape: Any, **kwargs: Any) -> Any:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    lifted = lift_levels(a, a.levels, None, len(shape))
    return mark(np.broadcast_to(lifted, physical_shape(lifted)[:len(a.levels)] + shape), a.levels)


def _transpose_function(func: Any, a: Any, axes: Any = None) -> Any:
    return a.transpose(axes) if axes is not None else a.transpose()


def _plain_function(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*[plain(a) for a in args], **{k: plain(v) for k, v in kwargs.items()})


def _shape_function(func: Any, a: Any) -> Any:
    return {np.shape: a.shape, np.ndim: a.ndim, np.size: a.size}[func]


_FUNCTIONS: dict[Any, Callable[..., Any]] = {
    **dict.fromkeys((np.where, np.clip, np.nan_to_num, np.isclose, np.round, np.around), _elementwise_function),
    **dict.fromkeys((np.zeros_like, np.ones_like, np.full_like, np.empty_like, np.copy), _like_function),
    **dict.fromkeys((np.sum, np.max, np.amax, np.min, np.amin, np.mean, np.prod, np.any, np.all, np.argmax,
                     np.argmin, np.count_nonzero, np.cumsum, np.sort, np.argsort, np.expand_dims, np.flip),
                    _axis_function),
    **dict.fromkeys((np.stack, np.concatenate), _join_function),
    np.reshape: _reshape_function, np.broadcast_to: _broadcast_function, np.transpose: _transpose_function,
    **dict.fromkeys((np.array2string, np.array_repr, np.array_str, np.result_type, np.can_cast, np.shares_memory,
                     np.may_share_memory), _plain_function),
    **dict.fromkeys((np.shape, np.ndim, np.size), _shape_function),
}


# ---- indexing with batch axes in front -----------------------------------------------------
def _expand_index(index: Any, ndim: int) -> list[Any]:
    """A logical index as a list of components, Ellipsis expanded; bool masks are not supported batched."""
    items = list(index) if isinstance(index, tuple) else [index]
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    for k, i in enumerate(items):
        if i is Ellipsis:
            return items[:k] + [slice(None)] * (ndim - used) + items[k + 1:]
    return items


def is_index_array(i: Any) -> bool:
    return (isinstance(i, np.ndarray) and i.dtype.kind in "iub") or isinstance(i, list)


def physical_index(ndim: int, size: int, index: Any) -> tuple[tuple[Any, ...], Any]:
    """A logical ``index`` of a tensor with ``ndim`` logical axes as the index of its physical array (one
    batch axis of ``size`` in front), and the axis move (``(from, to)`` or None) that brings numpy's result
    into the batched layout. Basic indexing and adjacent unbatched integer arrays just prepend a full
    slice; batched integer arrays (``BatchedArray``, batch axis in front) or separated arrays index the
    batch axis too, with ``arange(size)``."""
    items = _expand_index(index, ndim)
    if any(isinstance(i, BatchedArray) and i.dtype == bool for i in items):
        raise NotImplementedError("vmap: indexing with a batched boolean mask is not supported")
    places = [k for k, i in enumerate(items) if is_index_array(i) or isinstance(i, (int, np.integer))]
    batched = any(isinstance(items[k], BatchedArray) for k in places)
    adjacent = not places or places == list(range(places[0], places[-1] + 1))
    if not any(is_index_array(items[k]) for k in places) or (adjacent and not batched):
        return (slice(None), *items), None
    pieces = [(np.asarray(plain(items[k])), isinstance(items[k], BatchedArray)) for k in places]
    rank = max(i.ndim - has_batch for i, has_batch in pieces)
    for k, (i, has_batch) in zip(places, pieces, strict=True):
        logical = i.shape[1:] if has_batch else i.shape
        items[k] = i.reshape((i.shape[0] if has_batch else 1,) + (1,) * (rank - len(logical)) + logical)
    move = None
    if adjacent and places[0] > 0:  # numpy puts the indexed axes first: move them back after the leading slices
        lead = places[0]
        move = (tuple(range(1, 1 + rank)), tuple(range(1 + lead, 1 + lead + rank)))
    return (np.arange(size).reshape((size,) + (1,) * rank), *items), move


def batched_index(a: np.ndarray, nb: int, index: Any) -> np.ndarray:
    """``a`` (a plain array, ``nb`` batch axes in front) indexed per example by a logical ``index``."""
    if nb != 1:
        items = _expand_index(index, a.ndim - nb)
        if any(is_index_array(i) for i in items):
            raise NotImplementedError("vmap: integer-array indexing of a value batched at several levels at once")
        return a[(slice(None),) * nb + tuple(items)]
    physical, move = physical_index(a.ndim - 1, a.shape[0], index)
    out = a[physical]
    return out if move is None else np.moveaxis(out, *move)
