"""Turning what users pass in (data, axes, shapes) into what numpy needs, with clear errors.

>>> as_array([1, 2]).dtype, as_array(np.arange(3)).dtype
(dtype('float32'), dtype('int64'))
>>> normalize_axes(-1, 3), resolve_shape((2, -1), 6)
((2,), (2, 3))
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_FLOAT = np.float32
Axis = int | Sequence[int] | None


def as_array(data: Any) -> np.ndarray:
    """The constructor's dtype rules: numpy keeps its dtype, Python numbers become float32."""
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, np.generic):
        array = np.asarray(data)
    elif isinstance(data, (bool, numbers.Number, list, tuple)):
        try:
            array = np.asarray(data)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"Tensor: cannot build an array from {data!r}: {exc}") from None
        if array.dtype.kind in "iuf":  # Python bools stay bool, like numpy and PyTorch
            array = array.astype(DEFAULT_FLOAT, copy=False)
    else:
        raise TypeError(
            f"Tensor: data must be a numpy array, a number or a (nested) list of numbers, "
            f"got {type(data).__name__}"
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: data must be numeric (bool, integer or float), got dtype {array.dtype} "
            f"from {type(data).__name__}"
        )
    return array


def normalize_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """Normalise an ``axis`` argument to a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and 0 <= axis < ndim:  # the common case, without the general checks
        return (axis,)
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in items:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a!r} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def shape_arguments(args: Sequence[Any]) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` alike: the integers of a shape given as varargs or as one sequence."""
    items = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    return tuple(operator.index(n) for n in items)


def permutation(axes: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """``axes`` as a permutation of range(len(shape)) with negatives resolved; all reversed when empty."""
    ndim = len(shape)
    if not axes:
        return tuple(reversed(range(ndim)))
    normalised = tuple(a % ndim if -ndim <= a < ndim else a for a in axes)
    if sorted(normalised) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {ndim} axes of shape {shape}")
    return normalised


def resolve_shape(target: Sequence[int], size: int) -> tuple[int, ...]:
    """Fill in one ``-1`` in a reshape target; errors are left to the primitive."""
    shape = tuple(int(n) for n in target)
    if shape.count(-1) == 1:
        known = int(np.prod([n for n in shape if n != -1]))
        if known > 0 and size % known == 0:
            return tuple(size // known if n == -1 else n for n in shape)
    return shape


def index_arrays(index: Any) -> Any:
    """An index with array-likes (lists, Tensors) turned into numpy arrays; the rest unchanged."""
    if isinstance(index, tuple):
        return tuple(index_arrays(i) for i in index)
    if isinstance(index, list) or (hasattr(index, "__array__") and not isinstance(index, (np.ndarray, np.generic))):
        array = np.asarray(index)
        return array.astype(np.intp) if array.size == 0 else array  # [] would be float64
    return index
