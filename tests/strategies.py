"""Hypothesis strategies shared by the tests: shapes, element domains and operand arrays.

Element domains keep finite differences meaningful: away from poles (log, division),
from kinks (relu, abs, maximum, clip, max) and from ties (max, maximum).
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIDE = 4

# ---- shapes (0-d included unless said otherwise) -------------------------------------
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=MAX_SIDE)
NONSCALAR_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=MAX_SIDE)
SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)
SMALL_NONSCALAR_SHAPES = hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3)


def broadcast_shapes(num_shapes, max_dims=3, max_side=MAX_SIDE):
    """Tuples of ``num_shapes`` mutually broadcastable shapes, e.g. ((3, 1, 4), (2, 4)) or ((), (2,))."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda b: b.input_shapes)


# Operand shapes for ``a @ b``, as numpy's matmul signature allows: 1-d vectors on either
# side, and batch dimensions that broadcast against each other.
MATMUL_SHAPES = hnp.mutually_broadcastable_shapes(
    signature=np.matmul.signature, max_dims=2, min_side=1, max_side=3
).map(lambda b: b.input_shapes)


# ---- elements -------------------------------------------------------------------------
def reals(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


ANY = reals(-2.0, 2.0)
POSITIVE = reals(0.5, 3.0)  # log, sqrt, pow bases
NONZERO = reals(0.5, 2.0) | reals(-2.0, -0.5)  # denominators: |b| >= 0.5


def _grid(parity):
    return st.integers(-40, 39).map(lambda k: (2 * k + parity) / 10)


# Odd multiples of 0.1: never 0 (relu, abs), never an even multiple of 0.1 such as the
# clip bounds or scalar thresholds the tests use, and distinct values are >= 0.2 apart.
ODD_TENTHS = _grid(1)
# Even multiples of 0.1: always at least 0.1 away from any ODD_TENTHS value (maximum).
EVEN_TENTHS = _grid(0)


def float_arrays(shape, elements, unique=False):
    return hnp.arrays(np.float64, shape, elements=elements, unique=unique)


def operands(shapes, *elements, unique=False):
    """One float64 array per element strategy, shaped by one draw of ``shapes`` (a tuple of shapes)."""
    return shapes.flatmap(
        lambda drawn: st.tuples(*(float_arrays(s, e, unique=unique) for s, e in zip(drawn, elements)))
    )


def same_shape(shapes, n):
    """``n`` copies of one drawn shape, to feed :func:`operands`."""
    return shapes.map(lambda s: (s,) * n)
