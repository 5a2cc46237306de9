"""Hypothesis strategies and a gradient assertion for property-testing your own ops.

This module needs `hypothesis <https://hypothesis.readthedocs.io>`_, which is a
test dependency, not a runtime one: install the dev extra
(``pip install -e ".[dev]"``) or ``pip install hypothesis``. Importing
:mod:`tinygrad_mnist` itself never imports hypothesis; only this module does.

What is here:

* :func:`shapes` and :func:`broadcastable_shapes`: array shapes, 0-d included;
* :func:`elements`, :func:`arrays` and :func:`tensors`: finite values in bounds
  (``low``/``high``), optionally kept ``margin`` away from points where an op
  has a kink or a pole (``avoid``, ``positive``), and pairwise apart
  (``unique``) so that a finite-difference step never changes which element
  is the largest;
* :func:`assert_grads_close`: the engine's gradients against central finite
  differences, on float64 copies of the inputs.

A property test of ``log`` on positive inputs of any shape up to 3 x 3:

>>> import numpy as np
>>> from hypothesis import given, settings
>>> from tinygrad_mnist import Tensor
>>> @settings(max_examples=10, derandomize=True, database=None, deadline=None)
... @given(arrays(shapes(max_dims=2, max_side=3), positive=True))
... def test_log(x):
...     np.testing.assert_allclose(Tensor(x).log().data, np.log(x))
...     assert_grads_close(Tensor.log, x)
>>> test_log()

The guide ``docs/testing.md`` walks through testing a new op step by step.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Union

import numpy as np
from numpy.typing import DTypeLike

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "tinygrad_mnist.testing needs hypothesis, a test dependency: "
        "pip install hypothesis (or pip install -e '.[dev]')"
    ) from exc

from ._float_domains import domain, float_dtype
from .autograd import GradcheckError, gradcheck
from .core.tensor import Tensor

__all__ = [
    "arrays",
    "assert_grads_close",
    "broadcastable_shapes",
    "elements",
    "shapes",
    "tensors",
]

Shape = tuple[int, ...]
ShapeLike = Union[int, Shape, "st.SearchStrategy[Shape]", None]

# ---- shapes --------------------------------------------------------------------------
def shapes(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` each.

    ``()`` (a 0-d array) is included by default; use ``min_dims=1`` to leave it out.
    Shrinks towards fewer and shorter axes.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, derandomize=True, database=None)
    ... @given(shapes(max_dims=2, max_side=3))
    ... def test_shape(shape):
    ...     assert len(shape) <= 2 and all(1 <= n <= 3 for n in shape)
    >>> test_shape()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(
    n: int, min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``n`` shapes that broadcast together, such as ``((3, 1, 4), (2, 4))`` or ``((), (2,))``.

    Shapes may differ in rank and may hold 1s where the others do not, so ops
    see every broadcasting pattern; ``np.broadcast_shapes(*shapes)`` gives the
    shape of the result.

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, derandomize=True, database=None)
    ... @given(broadcastable_shapes(2, max_dims=3))
    ... def test_pair(pair):
    ...     a, b = pair
    ...     assert len(np.broadcast_shapes(a, b)) == max(len(a), len(b))
    >>> test_pair()
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"broadcastable_shapes: n must be a positive int, got {n!r}")
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda drawn: tuple(drawn.input_shapes))


# ---- element domains (the interval arithmetic is in _float_domains) -----------------------
def elements(
    dtype: DTypeLike = np.float64,
    *,
    low: float = -10.0,
    high: float = 10.0,
    avoid: float | Iterable[float] | None = None,
    margin: float = 0.1,
    positive: bool = False,
) -> st.SearchStrategy[float]:
    """Finite Python floats, exactly representable in ``dtype``, for one array element.

    Args:
        dtype: ``np.float32`` or ``np.float64``.
        low: the lower bound, included.
        high: the upper bound, included.
        avoid: a point or points where the op under test has a kink (relu and
            abs at 0, clip at its bounds) or a pole (1/x at 0): every value x
            satisfies ``abs(x - p) >= margin`` for each point p, computed in
            float64. This shift of the domain keeps a finite-difference step
            from crossing the point, where the two sides disagree.
        margin: the distance kept from each ``avoid`` point (and from 0 when
            ``positive``); it should be far larger than the step of the
            gradient check (1e-6), and large enough that 1/x or log(x)
            stay tame.
        positive: only values ``>= margin``, the domain of log, sqrt or
            x ** 1.5; when ``low`` is larger it wins.

    The points on the edge of the domain (``low``, ``high``, ``p +- margin``)
    are generated too.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=30, derandomize=True, database=None)
    ... @given(elements(low=-1.0, high=1.0, avoid=[0.0], margin=0.25))
    ... def test_value(x):
    ...     assert 0.25 <= abs(x) <= 1.0
    >>> test_value()
    >>> elements(low=-1.0, high=1.0, avoid=0.0, margin=2.0)
    Traceback (most recent call last):
        ...
    ValueError: no float64 value lies in [-1.0, 1.0] at least margin=2.0 away from [0.0]
    """
    resolved = float_dtype(dtype)
    return _floats_in(resolved, domain(resolved, low, high, avoid, margin, positive))


def _floats_in(dtype: np.dtype, intervals: list[tuple[float, float]]) -> st.SearchStrategy[float]:
    width = 8 * dtype.itemsize
    parts = [st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width) for lo, hi in intervals]
    return parts[0] if len(parts) == 1 else st.one_of(parts)


def _grid_elements(
    dtype: np.dtype, intervals: list[tuple[float, float]], gap: float
) -> tuple[st.SearchStrategy[float], int]:
    """Multiples of a power of two >= ``gap`` inside the intervals, and how many there are.

    Such multiples are exact in both float32 and float64, so distinct ones are
    at least ``gap`` apart with no rounding in between.
    """
    if not (math.isfinite(gap) and gap > 0):
        raise ValueError(f"gap={gap!r} must be a positive finite number")
    step = 2.0 ** math.ceil(math.log2(gap))
    limit = 2 ** (np.finfo(dtype).nmant + 1)  # integers up to this are exact in dtype
    parts, count = [], 0
    for lo, hi in intervals:
        first, last = math.ceil(lo / step), math.floor(hi / step)
        if first > last:
            continue
        if max(abs(first), abs(last)) > limit:
            raise ValueError(
                f"unique=True: [{lo!r}, {hi!r}] holds too many multiples of {step!r} to be exact in {dtype}; "
                "use a larger gap or narrower bounds"
            )
        parts.append(st.integers(first, last).map(lambda k, step=step: k * step))
        count += last - first + 1
    if not parts:
        raise ValueError(
            f"unique=True: no multiple of {step!r} (the gap rounded up to a power of two) lies in the domain"
        )
    return (parts[0] if len(parts) == 1 else st.one_of(parts)), count


# ---- arrays and tensors ---------------------------------------------------------------
def arrays(
    shape: ShapeLike = None,
    dtype: DTypeLike = np.float64,
    *,
    low: float = -10.0,
    high: float = 10.0,
    avoid: float | Iterable[float] | None = None,
    margin: float = 0.1,
    positive: bool = False,
    unique: bool = False,
    gap: float = 1e-3,
) -> st.SearchStrategy[np.ndarray]:
    """numpy arrays of finite values in a domain fit for finite differences.

    Args:
        shape: a shape (tuple or int), a strategy of shapes, or None for
            :func:`shapes` with its defaults (0 to 4 axes of 1 to 5).
        dtype: ``np.float32`` or ``np.float64``.
        low: the domain's lower bound, as in :func:`elements`.
        high: the domain's upper bound, as in :func:`elements`.
        avoid: points every element keeps ``margin`` away from, as in :func:`elements`.
        margin: the distance kept from ``avoid`` points, as in :func:`elements`.
        positive: every element at least ``margin`` above 0, as in :func:`elements`.
        unique: all elements distinct and at least ``gap`` apart, for ops
            that pick among elements (max, min, sort): a step of the gradient
            check then never creates or breaks a tie. The values are then
            multiples of ``gap`` rounded up to a power of two; shapes with
            more elements than such multiples in the domain are not drawn
            (a fixed ``shape`` that is too large raises ValueError).
        gap: the least distance between two elements when ``unique``.

    Arrays of one repeated value are drawn too (hypothesis fills arrays with
    a repeated value from time to time), unless ``unique``.

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, derandomize=True, database=None)
    ... @given(arrays((2, 3), np.float32, avoid=[-1.0, 1.0], margin=0.5))
    ... def test_array(x):
    ...     assert x.shape == (2, 3) and x.dtype == np.float32
    ...     assert np.all(np.abs(np.abs(x) - 1.0) >= 0.5) and np.all(np.abs(x) <= 10)
    >>> test_array()
    >>> @settings(max_examples=20, derandomize=True, database=None)
    ... @given(arrays(shapes(min_dims=1, max_dims=2), unique=True))
    ... def test_distinct(x):
    ...     assert np.all(np.diff(np.sort(x, axis=None)) >= 1e-3)
    >>> test_distinct()
    """
    resolved = float_dtype(dtype)
    intervals = domain(resolved, low, high, avoid, margin, positive)
    shape_strategy: Any = shapes() if shape is None else shape
    if not unique:
        return hnp.arrays(resolved, shape_strategy, elements=_floats_in(resolved, intervals))

    element_strategy, capacity = _grid_elements(resolved, intervals, float(gap))
    if isinstance(shape_strategy, st.SearchStrategy):
        shape_strategy = shape_strategy.filter(lambda s: math.prod(s) <= capacity)
    else:
        size = math.prod((shape_strategy,) if isinstance(shape_strategy, int) else shape_strategy)
        if size > capacity:
            raise ValueError(
                f"unique=True: shape {shape_strategy} needs {size} distinct values but the domain holds "
                f"only {capacity} values {gap!r} apart; widen low/high or lower gap"
            )
    return hnp.arrays(resolved, shape_strategy, elements=element_strategy, unique=True)


def tensors(
    shape: ShapeLike = None,
    dtype: DTypeLike = np.float64,
    *,
    requires_grad: bool = False,
    low: float = -10.0,
    high: float = 10.0,
    avoid: float | Iterable[float] | None = None,
    margin: float = 0.1,
    positive: bool = False,
    unique: bool = False,
    gap: float = 1e-3,
) -> st.SearchStrategy[Tensor]:
    """Tensors around the arrays of :func:`arrays` (same arguments), new leaves each time.

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, derandomize=True, database=None)
    ... @given(tensors(3, requires_grad=True, positive=True))
    ... def test_sqrt_gradient(x):
    ...     x.sqrt().sum().backward()
    ...     np.testing.assert_allclose(x.grad.data, 0.5 / np.sqrt(x.data))
    >>> test_sqrt_gradient()
    """
    return arrays(
        shape, dtype, low=low, high=high, avoid=avoid, margin=margin, positive=positive, unique=unique, gap=gap
    ).map(lambda a: Tensor(a, requires_grad=requires_grad))


# ---- gradients ---------------------------------------------------------------------------
def _float_array(value: Any) -> np.ndarray | None:
    data = value.data if isinstance(value, Tensor) else value
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind == "f":
        return np.array(data, dtype=np.float64, copy=True)
    return None


def assert_grads_close(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> None:
    """Assert that the engine's gradients of ``fn(*inputs)`` match central finite differences.

    Every input that is a floating-point Tensor or numpy array (float32
    included) is replaced by a new float64 leaf with ``requires_grad=True``,
    holding a copy of its values, and the Jacobian of every output with
    respect to it is checked by :func:`tinygrad_mnist.autograd.gradcheck`:
    ``|analytical - numerical| <= atol + rtol * |numerical|`` element by
    element. Other inputs (integer or boolean arrays, Python numbers, ...)
    are passed to ``fn`` unchanged, as constants. The caller's inputs are
    never modified.

    Returns None when the gradients agree. Otherwise raises
    :class:`~tinygrad_mnist.autograd.GradcheckError` (an ``AssertionError``)
    whose message names the output, the input and the worst element, with
    both values.

    >>> import numpy as np
    >>> assert_grads_close(lambda x: (x * x).sum(), np.array([1.0, 2.0]))
    >>> assert_grads_close(lambda a, b: a @ b, np.ones((2, 3), np.float32), np.arange(3.0))
    >>> try:
    ...     assert_grads_close(lambda x: x.relu(), np.array([-1.0, 0.0, 2.0]))  # a kink at 0
    ... except AssertionError as error:
    ...     print(error)
    gradcheck: Jacobian mismatch ... input element (1,): analytical 0, numerical 0.5 ...
    """
    __tracebackhide__ = True  # pytest reports the failure at the caller's line
    args = []
    checked = 0
    for value in inputs:
        array = _float_array(value)
        if array is None:
            args.append(value)
        else:
            args.append(Tensor(array, requires_grad=True))
            checked += 1
    if not checked:
        kinds = ", ".join(type(v).__name__ for v in inputs) or "none"
        raise ValueError(
            f"assert_grads_close: no floating-point Tensor or numpy array among the inputs (got {kinds})"
        )
    try:
        gradcheck(fn, args, eps=eps, atol=atol, rtol=rtol)
    except GradcheckError as failure:
        raise failure.with_traceback(None) from None  # where inside the checker it was found does not matter
