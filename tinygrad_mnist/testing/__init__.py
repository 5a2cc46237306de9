"""Hypothesis strategies and a gradient assertion for property-testing your own ops.

This package needs [hypothesis](https://hypothesis.readthedocs.io), which is a
test dependency, not a runtime one: install the dev extra
(``pip install -e ".[dev]"``) or ``pip install hypothesis``. Importing
``tinygrad_mnist`` itself never imports hypothesis; only this package does.

What is here:

* [`shapes`][tinygrad_mnist.testing.shapes], [`broadcastable_shapes`][tinygrad_mnist.testing.broadcastable_shapes],
  [`matmul_shapes`][tinygrad_mnist.testing.matmul_shapes]: array shapes, 0-d included;
* [`elements`][tinygrad_mnist.testing.elements], [`arrays`][tinygrad_mnist.testing.arrays] and
  [`tensors`][tinygrad_mnist.testing.tensors]: finite values in bounds
  (``low``/``high``), optionally kept ``margin`` away from points where an op
  has a kink or a pole (``avoid``, ``positive``), and pairwise apart
  (``unique``) so that a finite-difference step never changes which element
  is the largest;
* [`grid`][tinygrad_mnist.testing.grid]: values on a decimal grid, clear of kinks and ties placed on another grid;
* [`operands`][tinygrad_mnist.testing.operands]: one array per element strategy, for one draw of shapes;
* [`assert_grads_close`][tinygrad_mnist.testing.assert_grads_close]: the engine's gradients against finite differences
  with an error bound (or fixed tolerances), on float64 copies of the inputs.

A property test of ``log`` on positive inputs of any shape up to 3 x 3:

Examples:
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

from .gradients import assert_grads_close
from .strategies import arrays, broadcastable_shapes, elements, grid, matmul_shapes, operands, shapes, tensors

__all__ = [
    "arrays", "assert_grads_close", "broadcastable_shapes", "elements", "grid", "matmul_shapes", "operands", "shapes",
    "tensors",
]
