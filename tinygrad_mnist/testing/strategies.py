"""Hypothesis strategies: shapes, element domains clear of kinks, poles and ties, arrays, Tensors, operands.

Re-exported by [`tinygrad_mnist.testing`][tinygrad_mnist.testing], which documents them as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Union

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

from .._float_domains import check_unique_room, decimal_grid, domain, float_dtype, power_of_two_grid
from ..core.tensor import Tensor

__all__ = ["arrays", "broadcastable_shapes", "elements", "grid", "matmul_shapes", "operands", "shapes", "tensors"]

Shape = tuple[int, ...]
ShapeLike = Union[int, Shape, "st.SearchStrategy[Shape]", None]

# ---- shapes --------------------------------------------------------------------------
def shapes(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` each.

    ``()`` (a 0-d array) is included by default; use ``min_dims=1`` to leave it out.
    Shrinks towards fewer and shorter axes.

    Examples:
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

    Examples:
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


def matmul_shapes(
    max_batch_dims: int = 2, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Pairs of shapes ``(a, b)`` that ``a @ b`` accepts, such as ``((3,), (3, 2))`` or ``((2, 1, 3, 4), (5, 4, 2))``.

    Every case of numpy's matmul: a 1-d vector on either side or both, and up to
    ``max_batch_dims`` batch axes on each side, broadcasting against the other's.

    Examples:
        >>> import numpy as np
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20, derandomize=True, database=None)
        ... @given(matmul_shapes(max_side=3))
        ... def test_pair(pair):
        ...     a, b = pair
        ...     assert a[-1] == b[-2 if len(b) > 1 else -1]
        ...     np.ones(a) @ np.ones(b)
        >>> test_pair()
    """
    return hnp.mutually_broadcastable_shapes(
        signature=np.matmul.signature, max_dims=max_batch_dims, min_side=min_side, max_side=max_side
    ).map(lambda drawn: (drawn.input_shapes[0], drawn.input_shapes[1]))


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

    Examples:
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
    width: Literal[32, 64] = 32 if dtype == np.float32 else 64
    return st.one_of([st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width) for lo, hi in intervals])


def grid(
    spacing: float, offset: float = 0.0, *, low: float = -10.0, high: float = 10.0, dtype: DTypeLike = np.float64
) -> st.SearchStrategy[float]:
    """The points ``offset + k * spacing`` in ``[low, high]``, for ops with kinks or ties at chosen points.

    Distinct values are ``spacing`` apart (no ties in a ``unique`` array), and
    grids of one spacing with offsets ``d`` apart keep ``min(d, spacing - d)``
    apart: the odd tenths ``grid(0.2, 0.1)`` stay 0.1 from 0 (relu, abs), from
    even-tenth bounds (``clip(-0.4, 0.4)``) and from the even tenths
    ``grid(0.2)`` (the other operand of ``maximum``). Points are computed on
    the decimals as written (``0.1 + 2 * 0.2`` is 0.5), then rounded to ``dtype``.

    Examples:
        >>> import numpy as np
        >>> from hypothesis import given, settings
        >>> from tinygrad_mnist.testing import assert_grads_close
        >>> @settings(max_examples=20, derandomize=True, database=None, deadline=None)
        ... @given(arrays((2, 3), elements=grid(0.2, 0.1, low=-1.9, high=1.9), unique=True))
        ... def test_max_of_clip(x):
        ...     assert np.all(np.round(np.abs(x) * 10) % 2 == 1)  # odd tenths
        ...     assert_grads_close(lambda t: (t.amax(dim=-1), t.clip(-0.4, 0.4).relu()), x)
        >>> test_max_of_clip()
    """
    resolved = float_dtype(dtype)
    first, last, point = decimal_grid(spacing, offset, low, high)
    return st.integers(first, last).map(point if resolved == np.float64 else lambda k: float(np.float32(point(k))))


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
    elements: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """numpy arrays of finite values in a domain fit for finite differences.

    Args:
        shape: a shape (tuple or int), a strategy of shapes, or None for
            [`shapes`][tinygrad_mnist.testing.shapes] with its defaults (0 to 4 axes of 1 to 5).
        dtype: ``np.float32`` or ``np.float64``.
        low: the domain's lower bound, as in [`elements`][tinygrad_mnist.testing.elements].
        high: the domain's upper bound, as in [`elements`][tinygrad_mnist.testing.elements].
        avoid: points every element keeps ``margin`` away from, as in [`elements`][tinygrad_mnist.testing.elements].
        margin: the distance kept from ``avoid`` points, as in [`elements`][tinygrad_mnist.testing.elements].
        positive: every element at least ``margin`` above 0, as in [`elements`][tinygrad_mnist.testing.elements].
        unique: all elements distinct and at least ``gap`` apart, for ops
            that pick among elements (max, min, sort): a step of the gradient
            check then never creates or breaks a tie. The values are then
            multiples of ``gap`` rounded up to a power of two; shapes with
            more elements than such multiples in the domain are not drawn
            (a fixed ``shape`` that is too large raises ValueError).
        gap: the least distance between two elements when ``unique``.
        elements: floats in ``dtype`` ([`elements`][tinygrad_mnist.testing.elements],
            [`grid`][tinygrad_mnist.testing.grid], your own) to
            draw from instead of the domain of ``low``, ``high``, ``avoid``,
            ``margin``, ``positive``, ``gap``; ``unique`` then means distinct.

    Arrays of one repeated value are drawn too (hypothesis fills arrays with
    a repeated value from time to time), unless ``unique``.

    Examples:
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
    shape_strategy: Any = shapes() if shape is None else shape
    if elements is not None:
        if avoid is not None or (low, high, margin, positive, gap) != (-10.0, 10.0, 0.1, False, 1e-3):
            raise ValueError("arrays: give elements= or the domain (low, high, avoid, margin, positive, gap), not both")
        return hnp.arrays(resolved, shape_strategy, elements=elements, unique=unique)
    intervals = domain(resolved, low, high, avoid, margin, positive)
    if not unique:
        return hnp.arrays(resolved, shape_strategy, elements=_floats_in(resolved, intervals))

    step, ranges, capacity = power_of_two_grid(resolved, intervals, float(gap))
    element_strategy = st.one_of([st.integers(k0, k1).map(lambda k: k * step) for k0, k1 in ranges])
    if isinstance(shape_strategy, st.SearchStrategy):
        shape_strategy = shape_strategy.filter(lambda s: math.prod(s) <= capacity)
    else:
        check_unique_room(shape_strategy, capacity, gap)
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
    elements: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[Tensor]:
    """Tensors around the arrays of [`arrays`][tinygrad_mnist.testing.arrays] (same arguments), new leaves each time.

    Examples:
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
        shape, dtype, low=low, high=high, avoid=avoid, margin=margin, positive=positive, unique=unique, gap=gap,
        elements=elements,
    ).map(lambda a: Tensor(a, requires_grad=requires_grad))


def operands(
    shapes: Sequence[Shape] | st.SearchStrategy[Sequence[Shape]],
    *elements: st.SearchStrategy[float],
    dtype: DTypeLike = np.float64,
    unique: bool = False,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Tuples of arrays, the i-th with the i-th shape of one draw of ``shapes`` and values from ``elements[i]``.

    ``shapes`` is a strategy of shape tuples ([`broadcastable_shapes`][tinygrad_mnist.testing.broadcastable_shapes],
    [`matmul_shapes`][tinygrad_mnist.testing.matmul_shapes]) or one fixed tuple of shapes; ``dtype`` and
    ``unique`` apply to every array, as in [`arrays`][tinygrad_mnist.testing.arrays]. Here a divisor:

    Examples:
        >>> import numpy as np
        >>> from hypothesis import given, settings
        >>> from tinygrad_mnist.testing import assert_grads_close
        >>> @settings(max_examples=20, derandomize=True, database=None, deadline=None)
        ... @given(operands(broadcastable_shapes(2, max_dims=3, max_side=3),
        ...                 elements(low=-2.0, high=2.0), elements(low=-2.0, high=2.0, avoid=0.0, margin=0.5)))
        ... def test_div(pair):
        ...     a, b = pair
        ...     assert np.all(np.abs(b) >= 0.5)
        ...     assert_grads_close(lambda s, t: s / t, a, b)
        >>> test_div()
    """
    if not elements:
        raise ValueError("operands: give one element strategy per operand")

    def fill(drawn: Sequence[Shape]) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
        if len(drawn) != len(elements):
            raise ValueError(f"operands: {len(drawn)} shapes {tuple(drawn)} for {len(elements)} element strategies")
        return st.tuples(*(arrays(s, dtype, elements=e, unique=unique) for s, e in zip(drawn, elements, strict=True)))

    return (shapes if isinstance(shapes, st.SearchStrategy) else st.just(tuple(shapes))).flatmap(fill)
