"""Turning what users pass in (data, axes, shapes) into what numpy needs, with clear errors.

Examples:
    >>> as_array([1, 2]).dtype, as_array(np.arange(3)).dtype
    (dtype('float32'), dtype('int64'))
    >>> normalize_axes(-1, 3), resolve_shape((2, -1), 6)
    ((2,), (2, 3))
    >>> to_dtype(float, "zeros"), get_default_dtype()
    (dtype('float64'), dtype('float32'))
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_FLOAT: type[np.floating[Any]] = np.float32  # changed by set_default_dtype; read it as coerce.DEFAULT_FLOAT
DEFAULT_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
Axis = int | Sequence[int] | None


def as_array(data: Any) -> np.ndarray:
    """The ``Tensor(...)`` constructor's dtype rules: numpy keeps its dtype, Python numbers (and lists of them)
    become the default float dtype (float32 unless [`set_default_dtype`][tinygrad_mnist.core.coerce.set_default_dtype]
    changed it); bools stay bool."""
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


def get_default_dtype() -> np.dtype:
    """The floating dtype that Python floats (and, in ``Tensor(...)``, Python numbers) become.

    Examples:
        >>> get_default_dtype()
        dtype('float32')
    """
    return np.dtype(DEFAULT_FLOAT)


def set_default_dtype(dtype: Any) -> None:
    """Make ``dtype`` (float32 or float64) the default floating dtype of the factories and of ``Tensor(...)``.

    Examples:
        >>> set_default_dtype(np.dtype("float64")); get_default_dtype()
        dtype('float64')
        >>> set_default_dtype(np.dtype("float32"))
    """
    global DEFAULT_FLOAT
    if not isinstance(dtype, np.dtype) and not (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        raise TypeError(f"set_default_dtype: expected a dtype such as float32 or float64, got {dtype!r}")
    resolved = np.dtype(dtype)
    if resolved not in DEFAULT_FLOATS:
        raise TypeError(f"set_default_dtype: only float32 and float64 can be the default dtype, got {resolved}")
    DEFAULT_FLOAT = resolved.type


def to_dtype(dtype: Any, op: str) -> np.dtype:
    """A ``dtype=`` argument as a numpy dtype: a dtype (``float32``...), a numpy scalar type
    (``np.float32``) or Python's ``bool``/``int``/``float``; only bool, integer and float dtypes.
    Strings are refused, as in PyTorch.
    """
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and (
            issubclass(dtype, np.generic) or dtype in (bool, int, float))):
        resolved = np.dtype(dtype)
        if resolved.kind in "biuf":
            return resolved
        raise TypeError(f"{op}: dtype must be a bool, integer or floating dtype, got {resolved}")
    raise TypeError(f"{op}: dtype must be a dtype such as float32 or int64, got {dtype!r}")


def _leaf_dtypes(data: Sequence[Any], found: set[np.dtype], op: str) -> bool:
    """Collect the dtypes of the leaves of nested lists as PyTorch reads them; True if some leaf
    is an array-like object (a one-element tensor) that must be replaced by its value."""
    replace = False
    for item in data:
        kind = type(item)
        if kind is float:
            found.add(np.dtype(DEFAULT_FLOAT))
        elif kind is int:
            found.add(np.dtype(np.int64))
        elif kind is bool:
            found.add(np.dtype(np.bool_))
        elif isinstance(item, (list, tuple)):
            replace = _leaf_dtypes(item, found, op) or replace
        elif isinstance(item, (np.ndarray, np.generic)):
            found.add(item.dtype)
        elif hasattr(item, "__array__"):  # a Tensor: only one element, read as a number
            value = np.asarray(item)
            if value.size != 1:
                raise ValueError(f"{op}: only one-element tensors can be items of a list, got shape {value.shape}")
            found.add(value.dtype)
            replace = True
        elif isinstance(item, numbers.Real):  # other real numbers (fractions...) read as floats
            found.add(np.dtype(DEFAULT_FLOAT))
        else:
            raise TypeError(f"{op}: items must be numbers, got {kind.__name__} {item!r}")
    return replace


def _promoted(found: set[np.dtype]) -> np.dtype:
    """PyTorch's promotion among list leaves: any float wins (the widest), then integers, then bool."""
    floats = [d for d in found if d.kind == "f"]
    if floats:
        return max(floats, key=lambda d: d.itemsize)
    ints = [d for d in found if d.kind in "iu"]
    if ints:
        return np.result_type(*ints)
    return np.dtype(np.bool_) if found else np.dtype(DEFAULT_FLOAT)


def _values(data: Any) -> Any:
    """Nested lists with array-like leaves (one-element tensors) replaced by their values."""
    if isinstance(data, (list, tuple)):
        return [_values(item) for item in data]
    if hasattr(data, "__array__") and not isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data).reshape(())
    return data


def infer_array(data: Any, dtype: np.dtype | None, op: str) -> np.ndarray:
    """A new array from ``data`` with PyTorch's inferred dtype (or ``dtype``): Python bools give bool,
    ints int64, floats the default dtype; numpy arrays and scalars keep theirs.

    Examples:
        >>> infer_array([[1, 2], [3, 4]], None, "tensor").dtype, infer_array([True, 2.5], None, "tensor").dtype
        (dtype('int64'), dtype('float32'))
    """
    if isinstance(data, (np.ndarray, np.generic)):
        if data.dtype.kind not in "biuf":
            raise TypeError(f"{op}: data must be numeric (bool, integer or float), got dtype {data.dtype}")
        return np.array(data, dtype=dtype, copy=True)
    if not isinstance(data, (numbers.Real, list, tuple)):
        raise TypeError(f"{op}: data must be a number, a (nested) list of numbers, a numpy array or a Tensor, "
                        f"got {type(data).__name__}")
    found: set[np.dtype] = set()
    replace = _leaf_dtypes(data if isinstance(data, (list, tuple)) else [data], found, op)
    target = dtype if dtype is not None else _promoted(found)
    try:
        return np.array(_values(data) if replace else data, dtype=target)
    except OverflowError as exc:
        raise ValueError(f"{op}: a value does not fit dtype {target}: {exc}") from None
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{op}: cannot build a tensor from {data!r}: {exc}") from None


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
        array = np.asanyarray(index)
        return array.astype(np.intp) if array.size == 0 else array  # [] would be float64
    return index
