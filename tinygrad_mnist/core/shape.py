"""Shape operations with PyTorch's meaning: ``transpose(dim0, dim1)``, ``permute``, ``view``, ``squeeze``, ...

Each function takes the tensor first, so it serves both as a top-level function
(``transpose(x, 0, 1)``) and as a method (``x.transpose(0, 1)``). Everything is
written in primitives of the rule table, so gradients of any order follow.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.zeros((2, 3, 4)))
    >>> x.transpose(0, 2).shape, x.permute(2, 0, 1).shape, x.flatten(1).shape
    ((4, 3, 2), (4, 2, 3), (2, 12))
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import rules
from .coerce import resolve_shape, shape_arguments

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor


class DimensionError(IndexError, ValueError):
    """A dimension out of range: an IndexError as in PyTorch, and a ValueError (a bad argument
    value), like numpy's ``AxisError``."""


def dim_index(op: str, dim: Any, ndim: int) -> int:
    """One dimension ``dim`` (negative counts from the end) of a tensor with ``ndim`` dimensions
    (a 0-d tensor accepts 0 and -1, as in PyTorch); IndexError when out of range."""
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(f"{op}: dim must be an integer, got {type(dim).__name__}") from None
    span = max(ndim, 1)
    if not -span <= d < span:
        raise DimensionError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions "
                         f"(expected {-span} to {span - 1})")
    return d % span


def permute(x: Tensor, *dims: int | Sequence[int]) -> Tensor:
    """The tensor with its dimensions reordered: dimension ``i`` of the result is ``dims[i]`` of ``x``.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor(np.zeros((2, 3, 4))).permute(1, 2, 0).shape
        (3, 4, 2)
    """
    order = tuple(dim_index("permute", d, x.ndim) for d in shape_arguments(dims))
    if len(order) != x.ndim or sorted(order) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {tuple(shape_arguments(dims))} are not a permutation of the "
                         f"{x.ndim} dimensions of shape {x.shape}")
    if x.ndim == 0:
        return x
    return rules.transpose(x, axes=order)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """The tensor with dimensions ``dim0`` and ``dim1`` swapped.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor(np.zeros((2, 3, 4))).transpose(0, 1).shape
        (3, 2, 4)
    """
    a, b = dim_index("transpose", dim0, x.ndim), dim_index("transpose", dim1, x.ndim)
    if x.ndim == 0:
        return x
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return rules.transpose(x, axes=tuple(order))


def t(x: Tensor) -> Tensor:
    """Transpose of a tensor of at most 2 dimensions (0-d and 1-d come back unchanged)."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape {x.shape}; "
                         "use transpose(dim0, dim1)")
    return x if x.ndim < 2 else transpose(x, 0, 1)


def reversed_dims(x: Tensor) -> Tensor:
    """All dimensions reversed (``x.T``)."""
    return x if x.ndim < 2 else rules.transpose(x, axes=tuple(reversed(range(x.ndim))))


def matrix_transpose(x: Tensor) -> Tensor:
    """The last two dimensions swapped (``x.mT``): a transpose of each matrix of a batch."""
    if x.ndim < 2:
        raise ValueError(f"mT: expects a tensor with at least 2 dimensions, got shape {x.shape}")
    return transpose(x, -2, -1)


def reshape(x: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """The same elements in a new shape (one size may be -1, inferred).

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor(np.arange(6.0)).reshape(2, -1).shape
        (2, 3)
    """
    target = shape_arguments(shape)
    if sum(n == -1 for n in target) > 1 or any(n < -1 for n in target):
        raise ValueError(f"reshape: invalid shape {target}: at most one -1 and no other negative sizes")
    new_shape = resolve_shape(target, x.data.size)
    if new_shape == x.data.shape:
        return x  # nothing to record
    return rules.reshape(x, shape=new_shape)


def view(x: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """``reshape`` that must not copy: like PyTorch, it refuses (RuntimeError) when the elements'
    layout in memory does not allow the new shape (after ``transpose``, say); ``reshape`` or
    ``contiguous().view(...)`` then do it.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor(np.zeros((2, 3))).view(3, 2).shape
        (3, 2)
    """
    target = resolve_shape(shape_arguments(shape), x.data.size)
    probe = x.data.view()
    try:
        probe.shape = target
    except AttributeError:
        raise RuntimeError(f"view: the layout of a tensor of shape {x.shape} (a transpose, an expand or a "
                           f"strided slice) cannot be viewed as {target}; use reshape(...) or "
                           "contiguous().view(...)") from None
    except ValueError:
        pass  # a size that does not fit: reshape words it
    return reshape(x, target)


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` viewed in the shape of ``other``."""
    return view(x, other.shape)


def is_contiguous(x: Tensor) -> bool:
    """Whether the elements lie in memory in row-major order, without gaps or repeats."""
    return bool(x.data.flags.c_contiguous)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """A new dimension of size 1 inserted at ``dim`` (in ``-(ndim + 1)`` .. ``ndim``)."""
    d = dim_index("unsqueeze", dim, x.ndim + 1)
    return reshape(x, (*x.shape[:d], 1, *x.shape[d:]))


def squeeze(x: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Dimensions of size 1 removed: all of them, or those among ``dim`` (others are left alone)."""
    if dim is None:
        dims = set(range(x.ndim))
    else:
        dims = {dim_index("squeeze", d, x.ndim) for d in ((dim,) if not isinstance(dim, (tuple, list)) else dim)}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dimensions ``start_dim`` to ``end_dim`` (inclusive) merged into one; a 0-d tensor becomes 1-d.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> Tensor(np.zeros((2, 3, 4))).flatten(0, 1).shape
        (6, 4)
    """
    if x.ndim == 0:
        dim_index("flatten", start_dim, 0), dim_index("flatten", end_dim, 0)
        return reshape(x, 1)
    start, end = dim_index("flatten", start_dim, x.ndim), dim_index("flatten", end_dim, x.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, (*x.shape[:start], int(np.prod(x.shape[start:end + 1])), *x.shape[end + 1:]))


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Dimension ``dim`` split into ``sizes`` (whose product must be its size; one may be -1)."""
    d = dim_index("unflatten", dim, x.ndim)
    sizes = resolve_shape(shape_arguments((sizes,)), x.shape[d])
    if int(np.prod(sizes)) != x.shape[d] or any(n < 0 for n in sizes):
        raise ValueError(f"unflatten: sizes {tuple(sizes)} do not multiply to the size {x.shape[d]} of dim {dim}")
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def expand(x: Tensor, *sizes: int | Sequence[int]) -> Tensor:
    """The tensor broadcast to ``sizes`` (-1 keeps a dimension's size; new dimensions go in front)."""
    target = shape_arguments(sizes)
    lead = len(target) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes {len(target)} is less than the {x.ndim} dimensions of {x.shape}")
    shape = []
    for i, n in enumerate(target):
        if n == -1:
            if i < lead:
                raise ValueError(f"expand: -1 is not allowed for a new leading dimension, got {target}")
            n = x.shape[i - lead]
        shape.append(n)
    if tuple(shape) == x.shape:
        return x
    return rules.broadcast_to(x, shape=tuple(shape))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` broadcast to the shape of ``other``."""
    return expand(x, other.shape)


def repeat(x: Tensor, *repeats: int | Sequence[int]) -> Tensor:
    """The tensor tiled ``repeats[i]`` times along dimension ``i`` (extra repeats add leading dimensions)."""
    reps = shape_arguments(repeats)
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: the number of repeats {len(reps)} is less than the {x.ndim} dimensions of {x.shape}")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    # interleave a repeat axis before each dimension, broadcast, then merge the pairs
    y = reshape(x, tuple(v for n in shape for v in (1, n)))
    y = rules.broadcast_to(y, shape=tuple(v for r, n in zip(reps, shape, strict=True) for v in (r, n)))
    return reshape(y, tuple(r * n for r, n in zip(reps, shape, strict=True)))


def clone(x: Tensor) -> Tensor:
    """A copy with its own data; the gradient flows through to ``x``."""
    return rules.cast(x, dtype=x.dtype) if x.dtype.kind in "fc" else x._wrap(x.data.copy())  # cast always copies


def contiguous(x: Tensor) -> Tensor:
    """The tensor itself when its elements lie in row-major order, else a row-major copy
    (differentiable, like [`clone`][tinygrad_mnist.core.functions.clone])."""
    if x.data.flags.c_contiguous:
        return x
    out = clone(x)
    out.data = np.ascontiguousarray(out.data)  # the same values, laid out in row-major order
    return out


def flip(x: Tensor, dims: int | Sequence[int]) -> Tensor:
    """The order of elements reversed along ``dims``."""
    items = (dims,) if not isinstance(dims, (tuple, list)) else dims
    chosen = {dim_index("flip", d, x.ndim) for d in items}
    if not chosen or x.ndim == 0:
        return clone(x)
    return x[tuple(slice(None, None, -1) if i in chosen else slice(None) for i in range(x.ndim))]


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements along ``dim`` from ``start`` on."""
    d = dim_index("narrow", dim, x.ndim)
    size = x.shape[d]
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {size}")
    start = start + size if start < 0 else start
    if length < 0 or start + length > size:
        raise ValueError(f"narrow: start {start} + length {length} exceeds the size {size} of dim {dim}")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the given sizes."""
    d = dim_index("split", dim, x.ndim)
    size = x.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = list(split_size_or_sections)
        if sum(sizes) != size or any(n < 0 for n in sizes):
            raise ValueError(f"split: sizes {sizes} must add up to the size {size} of dim {dim}")
    else:
        step = operator.index(split_size_or_sections)  # type: ignore[arg-type]
        if step <= 0 and not (step == 0 and size == 0):
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, size - s) for s in range(0, size, step)] if size else [0]
    starts = np.cumsum([0, *sizes[:-1]])
    return tuple(x[(slice(None),) * d + (slice(int(s), int(s) + n),)] for s, n in zip(starts, sizes, strict=True))


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces along ``dim``, each of ceil(size / chunks) (the last may be smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    size = x.shape[dim_index("chunk", dim, x.ndim)]
    return split(x, max(-(-size // chunks), 1), dim)
