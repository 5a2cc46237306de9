"""Making tensors, with PyTorch's names and dtype rules: ``tensor``, ``zeros``, ``arange``, ``rand``...

``tensor(data)`` infers the dtype as PyTorch does: Python bools give ``bool``, Python
ints ``int64``, Python floats the default dtype ([`get_default_dtype`][tinygrad_mnist.core.coerce.get_default_dtype],
float32
unless changed), numpy arrays and numpy scalars keep theirs. The random factories
draw from the framework generator, so [`manual_seed`][tinygrad_mnist.random.manual_seed] reproduces them.

Examples:
    >>> import tinygrad_mnist as tm
    >>> tm.tensor([[1, 2], [3, 4]]).dtype, tm.tensor([0.5]).dtype, tm.tensor(True).dtype
    (dtype('int64'), dtype('float32'), dtype('bool'))
    >>> tm.arange(3), tm.full((2,), 7)
    (Tensor([0, 1, 2], dtype=int64), Tensor([7, 7], dtype=int64))
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import random
from .coerce import get_default_dtype, infer_array, to_dtype
from .dtypes import bool as bool_
from .dtypes import float32, float64, int64
from .tensor import Tensor

__all__ = [
    "arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy", "full", "full_like", "linspace",
    "ones", "ones_like", "rand", "rand_like", "randint", "randn", "randn_like", "tensor", "zeros", "zeros_like",
]

# ---- helpers ------------------------------------------------------------------------------
def _dtype(dtype: Any, op: str, default: np.dtype | None = None) -> np.dtype:
    return (default if default is not None else get_default_dtype()) if dtype is None else to_dtype(dtype, op)


def _finish(array: np.ndarray, requires_grad: bool) -> Tensor:
    out = Tensor(array)
    return out.requires_grad_(True) if requires_grad else out


def _int(value: Any, op: str, what: str) -> int:
    """An integer argument: ints, numpy integers and one-element integer tensors; never bool or float."""
    if isinstance(value, Tensor) and value.data.size == 1 and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{op}: {what} must be an integer, got {type(value).__name__} {value!r}")
    return operator.index(value)


def _size(args: Sequence[Any], op: str, varargs: bool = True) -> tuple[int, ...]:
    """A shape given as varargs (``zeros(2, 3)``) or as one sequence (``zeros((2, 3))``)."""
    one_sequence = len(args) == 1 and isinstance(args[0], (tuple, list))
    if not varargs and not one_sequence:
        raise TypeError(f"{op}: size must be a tuple or list of integers, got {args[0]!r}" if args
                        else f"{op}: missing the size")
    if not args:
        raise TypeError(f"{op}: missing the size (give integers or one tuple of integers)")
    shape = tuple(_int(n, op, "size") for n in (args[0] if one_sequence else args))
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: sizes must be non-negative, got {shape}")
    return shape


def _float_only(dtype: np.dtype, op: str) -> np.dtype:
    if dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating dtype, got {dtype}")
    return dtype


def _not_bool(dtype: np.dtype, op: str) -> np.dtype:
    if dtype.kind == "b":
        raise TypeError(f"{op}: needs an integer or floating dtype, got {dtype}")
    return dtype


def _like(input: Any, op: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    return input


# ---- from data ----------------------------------------------------------------------------
def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists/tuples, numpy arrays, tensors).

    The dtype is inferred as in PyTorch unless ``dtype`` is given; ``requires_grad``
    is allowed for floating dtypes only.

    Examples:
        >>> tensor([1, 2.5]), tensor([[True], [False]]).dtype
        (Tensor([1. , 2.5]), dtype('bool'))
        >>> tensor(np.arange(3, dtype=np.int32)).dtype, tensor(3, dtype=float).dtype
        (dtype('int32'), dtype('float64'))
    """
    want = None if dtype is None else to_dtype(dtype, "tensor")
    source = data.data if isinstance(data, Tensor) else data
    return _finish(infer_array(source, want, "tensor"), requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``data`` as a tensor, without copying when it already is one (or a numpy array) of that dtype.

    Examples:
        >>> a = np.zeros(2); t = as_tensor(a); a[0] = 5.0; t
        Tensor([5., 0.], dtype=float64)
        >>> as_tensor(t) is t, as_tensor([1, 2]).dtype
        (True, dtype('int64'))
    """
    want = None if dtype is None else to_dtype(dtype, "as_tensor")
    if isinstance(data, Tensor):
        return data if want is None or want == data.dtype else data.astype(want)
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return Tensor(data if want is None or want == data.dtype else data.astype(want))
    return Tensor(infer_array(data, want, "as_tensor"))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype (changes to one show in the other).

    Examples:
        >>> a = np.arange(3); t = from_numpy(a); a[0] = 7; t
        Tensor([7, 1, 2], dtype=int64)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: the array must be numeric (bool, integer or float), got dtype {array.dtype}")
    return Tensor(array)


# ---- filled ---------------------------------------------------------------------------------
def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; ``size`` as integers or one sequence.

    Examples:
        >>> zeros(2, 3).shape, zeros((2,), dtype=int64).dtype
        ((2, 3), dtype('int64'))
    """
    return _finish(np.zeros(_size(size, "zeros"), _dtype(dtype, "zeros")), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones; ``size`` as integers or one sequence.

    Examples:
        >>> ones(2)
        Tensor([1., 1.])
    """
    return _finish(np.ones(_size(size, "ones"), _dtype(dtype, "ones")), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor whose values are not initialised (whatever the memory held).

    Examples:
        >>> empty(2, 3).shape
        (2, 3)
    """
    return _finish(np.empty(_size(size, "empty"), _dtype(dtype, "empty")), requires_grad)


def _fill_dtype(fill_value: Any, op: str) -> np.dtype:
    """PyTorch's dtype for a fill value: bool, int64 for integers, the default float for floats."""
    if isinstance(fill_value, Tensor) and fill_value.data.size == 1:
        fill_value = fill_value.item()
    if isinstance(fill_value, (bool, np.bool_)):
        return bool_
    if isinstance(fill_value, (numbers.Integral, np.integer)):
        return int64
    if isinstance(fill_value, (numbers.Real, np.floating)):
        return get_default_dtype()
    raise TypeError(f"{op}: fill_value must be a real number or a bool, got {type(fill_value).__name__}")


def _filled(shape: tuple[int, ...], fill_value: Any, dtype: np.dtype, op: str) -> np.ndarray:
    value = fill_value.item() if isinstance(fill_value, Tensor) and fill_value.data.size == 1 else fill_value
    _fill_dtype(value, op)  # checks the kind of value
    try:
        return np.full(shape, value, dtype=dtype)
    except OverflowError as exc:
        raise ValueError(f"{op}: fill_value {value!r} does not fit dtype {dtype}: {exc}") from None


def full(size: Sequence[int], fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` (a sequence) filled with ``fill_value``; the dtype follows the value.

    Examples:
        >>> full((2,), 1.5), full([1], True).dtype
        (Tensor([1.5, 1.5]), dtype('bool'))
    """
    shape = _size((size,), "full", varargs=False)
    want = _dtype(dtype, "full", _fill_dtype(fill_value, "full"))
    return _finish(_filled(shape, fill_value, want, "full"), requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``n`` x ``m`` (default ``n`` x ``n``) identity matrix.

    Examples:
        >>> eye(2, 3)
        Tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    rows = _int(n, "eye", "n")
    cols = rows if m is None else _int(m, "eye", "m")
    if rows < 0 or cols < 0:
        raise ValueError(f"eye: n and m must be non-negative, got n={rows}, m={cols}")
    return _finish(np.eye(rows, cols, dtype=_dtype(dtype, "eye")), requires_grad)


# ---- ranges ---------------------------------------------------------------------------------
def _real(value: Any, op: str, what: str) -> int | float:
    if isinstance(value, Tensor) and value.data.size == 1:
        value = value.item()
    if isinstance(value, (bool, np.bool_, numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (numbers.Real, np.floating)):
        return float(value)
    raise TypeError(f"{op}: {what} must be a real number, got {type(value).__name__}")


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``arange(end)`` or ``arange(start, end, step)``: ``ceil((end - start) / step)`` values from ``start``.

    int64 when all arguments are integers, else the default float dtype.

    Examples:
        >>> arange(1, 7, 2), arange(0, 1, 0.25)
        (Tensor([1, 3, 5], dtype=int64), Tensor([0.  , 0.25, 0.5 , 0.75]))
    """
    if end is None:
        start, end = 0, start
    lo, hi, by = (_real(v, "arange", w) for v, w in ((start, "start"), (end, "end"), (step, "step")))
    integral = all(isinstance(v, int) for v in (lo, hi, by))
    want = _not_bool(_dtype(dtype, "arange", int64 if integral else None), "arange")
    if not all(math.isfinite(v) for v in (lo, hi, by)):
        raise ValueError(f"arange: start, end and step must be finite, got {lo}, {hi}, {by}")
    if by == 0:
        raise ValueError("arange: step must be nonzero")
    if (hi - lo) * by < 0:
        raise ValueError(f"arange: the step {by} does not lead from start {lo} to end {hi}")
    if integral:
        count = -((lo - hi) // by)  # exact ceil((hi - lo) / by)
        values: np.ndarray = lo + by * np.arange(count, dtype=np.int64)
    else:
        count = math.ceil((hi - lo) / by)
        values = lo + by * np.arange(count, dtype=np.float64)
    return _finish(values.astype(want), requires_grad)


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    Examples:
        >>> linspace(0, 1, 5)
        Tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    lo, hi = _real(start, "linspace", "start"), _real(end, "linspace", "end")
    count = _int(steps, "linspace", "steps")
    if count < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {count}")
    want = _not_bool(_dtype(dtype, "linspace"), "linspace")
    step = (hi - lo) / (count - 1) if count > 1 else 0.0
    index = np.arange(count, dtype=np.float64)
    half = max(count // 2, 1)  # the first half counts up from start, the rest down from end: both ends exact
    values = np.where(index < half, lo + step * index, hi - step * (count - 1 - index))
    return _finish(values.astype(want), requires_grad)


# ---- random ---------------------------------------------------------------------------------
def _uniform(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    draw = random.generator().random(shape, dtype=float32 if dtype.itemsize <= 4 else float64)
    below_one = np.nextafter(np.array(1.0, dtype), np.array(0.0, dtype))
    return np.minimum(draw.astype(dtype), below_one)  # rounding to a narrower dtype must not reach 1


def _normal(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return random.generator().standard_normal(shape, dtype=float32 if dtype.itemsize <= 4 else float64
                                              ).astype(dtype, copy=False)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the framework generator (see ``manual_seed``).

    Examples:
        >>> x = rand(100); rand(2, 3).shape, 0 <= x.min().item() <= x.max().item() < 1
        ((2, 3), True)
    """
    want = _float_only(_dtype(dtype, "rand"), "rand")
    return _finish(_uniform(_size(size, "rand"), want), requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the framework generator (see ``manual_seed``).

    Examples:
        >>> randn(4, dtype=float64).dtype
        dtype('float64')
    """
    want = _float_only(_dtype(dtype, "randn"), "randn")
    return _finish(_normal(_size(size, "randn"), want), requires_grad)


def randint(*args: Any, size: Any = None, low: Any = None, high: Any = None,
            dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``
    (``size`` a sequence; keywords as in PyTorch); int64 unless ``dtype`` is given.

    Examples:
        >>> t = randint(3, 6, (100,)); t.dtype, 3 <= t.min().item() <= t.max().item() < 6
        (dtype('int64'), True)
    """
    positional = list(args)
    if size is None and positional and isinstance(positional[-1], (tuple, list)):
        size = positional.pop()
    if len(positional) == 2 and low is None and high is None:
        low, high = positional
    elif len(positional) == 1 and high is None:
        high = positional[0]
    elif len(positional) == 1 and low is None:
        low = positional[0]
    elif positional:
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), got {args!r}")
    if high is None or size is None:
        raise TypeError(f"randint: needs high and a size tuple, as randint(high, size) or randint(low, high, size), "
                        f"got {args!r} with size={size!r}")
    shape = _size((size,), "randint", varargs=False)
    lo = 0 if low is None else _int(low, "randint", "low")
    hi = _int(high, "randint", "high")
    if lo >= hi:
        raise ValueError(f"randint: low must be less than high, got low={lo}, high={hi}")
    want = _dtype(dtype, "randint", int64)
    bounds = (0, 1) if want.kind == "b" else (np.iinfo(want).min, np.iinfo(want).max) if want.kind in "iu" else None
    if bounds is not None and not bounds[0] <= lo <= hi - 1 <= bounds[1]:
        raise ValueError(f"randint: [{lo}, {hi}) is out of the range of dtype {want}")
    return _finish(random.generator().integers(lo, hi, shape, dtype=np.int64).astype(want), requires_grad)


# ---- *_like ---------------------------------------------------------------------------------
def zeros_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros shaped like ``input``, with its dtype unless ``dtype`` is given.

    Examples:
        >>> zeros_like(tensor([1, 2]))
        Tensor([0, 0], dtype=int64)
    """
    x = _like(input, "zeros_like")
    return _finish(np.zeros(x.shape, _dtype(dtype, "zeros_like", x.dtype)), requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones shaped like ``input``, with its dtype unless ``dtype`` is given.

    Examples:
        >>> ones_like(tensor([1, 2]), dtype=float32)
        Tensor([1., 1.])
    """
    x = _like(input, "ones_like")
    return _finish(np.ones(x.shape, _dtype(dtype, "ones_like", x.dtype)), requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor shaped like ``input``.

    Examples:
        >>> empty_like(zeros(2, 3)).shape
        (2, 3)
    """
    x = _like(input, "empty_like")
    return _finish(np.empty(x.shape, _dtype(dtype, "empty_like", x.dtype)), requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` shaped like ``input``, converted to its dtype (or ``dtype``).

    Examples:
        >>> full_like(tensor([1, 2]), 2.7)
        Tensor([2, 2], dtype=int64)
    """
    x = _like(input, "full_like")
    return _finish(_filled(x.shape, fill_value, _dtype(dtype, "full_like", x.dtype), "full_like"), requires_grad)


def rand_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples shaped like ``input`` (a floating dtype).

    Examples:
        >>> rand_like(zeros(3)).shape
        (3,)
    """
    x = _like(input, "rand_like")
    want = _float_only(_dtype(dtype, "rand_like", x.dtype), "rand_like")
    return _finish(_uniform(x.shape, want), requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples shaped like ``input`` (a floating dtype).

    Examples:
        >>> randn_like(zeros(3, dtype=float64)).dtype
        dtype('float64')
    """
    x = _like(input, "randn_like")
    want = _float_only(_dtype(dtype, "randn_like", x.dtype), "randn_like")
    return _finish(_normal(x.shape, want), requires_grad)

