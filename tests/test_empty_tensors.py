"""Empty tensors in reductions, softmax and losses: the value PyTorch gives, or an error naming the op.

Each case is written once against a namespace ``T`` (``torch`` or ``tinygrad_mnist``, as in
``tests/parity``). The expected values are written out here, so the cases mean something
without PyTorch; with PyTorch installed each case also runs through it and must agree.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from parity import value_and_grad

import tinygrad_mnist

NAN, INF = float("nan"), float("inf")
E30 = np.zeros((3, 0))  # three rows of nothing
E0 = np.zeros(0)


def _ce(reduction: str = "mean", **kw: Any) -> Callable[[Any, Any], Any]:
    def loss(T: Any, x: Any) -> Any:
        target = T.tensor(np.zeros(0, dtype=np.int64))
        return T.nn.functional.cross_entropy(x, target, reduction=reduction, **kw)
    return loss


# id: (function of (T, x), input array, expected value); the gradient is checked to be shaped like the input
VALUES: dict[str, tuple[Callable[[Any, Any], Any], np.ndarray, Any]] = {
    "mean-all": (lambda T, x: x.mean(), E30, NAN),
    "mean-1d": (lambda T, x: x.mean(), E0, NAN),
    "mean-dim-of-size-0": (lambda T, x: x.mean(1), E30, [NAN] * 3),
    "mean-dim-keepdim": (lambda T, x: x.mean(1, keepdim=True), E30, [[NAN]] * 3),
    "mean-other-dim": (lambda T, x: x.mean(0), E30, np.zeros(0)),
    "sum-all": (lambda T, x: x.sum(), E30, 0.0),
    "sum-dim": (lambda T, x: x.sum(1), E30, [0.0] * 3),
    "prod-all": (lambda T, x: x.prod(), E30, 1.0),
    "prod-dim": (lambda T, x: x.prod(1), E30, [1.0] * 3),
    "var-all": (lambda T, x: x.var(), E30, NAN),
    "var-dim": (lambda T, x: x.var(1), E30, [NAN] * 3),
    "var-correction-0": (lambda T, x: x.var(correction=0), E30, NAN),
    "std-all": (lambda T, x: x.std(), E30, NAN),
    "var-one-element": (lambda T, x: x.var(), np.array([2.0]), NAN),  # N - correction = 0 as well
    "std-one-element": (lambda T, x: x.std(), np.array([2.0]), NAN),
    "std-dim": (lambda T, x: x.std(1), E30, [NAN] * 3),
    "amax-other-dim": (lambda T, x: x.amax(0), E30, np.zeros(0)),
    "amin-other-dim": (lambda T, x: x.amin(0), E30, np.zeros(0)),
    "max-other-dim": (lambda T, x: x.max(0).values, E30, np.zeros(0)),
    "logsumexp-dim": (lambda T, x: x.logsumexp(1), E30, [-INF] * 3),
    "logsumexp-all-dims": (lambda T, x: x.logsumexp((0, 1)), E30, -INF),
    "logsumexp-other-dim": (lambda T, x: x.logsumexp(0), E30, np.zeros(0)),
    "softmax-dim-of-size-0": (lambda T, x: x.softmax(1), E30, E30),
    "softmax-1d": (lambda T, x: x.softmax(0), E0, E0),
    "softmax-other-dim": (lambda T, x: x.softmax(0), E30, E30),
    "log_softmax-dim-of-size-0": (lambda T, x: x.log_softmax(1), E30, E30),
    "log_softmax-1d": (lambda T, x: x.log_softmax(0), E0, E0),
    "F.softmax-empty-batch": (lambda T, x: T.nn.functional.softmax(x, dim=1), np.zeros((0, 4)), np.zeros((0, 4))),
    "F.log_softmax-no-classes": (lambda T, x: T.nn.functional.log_softmax(x, dim=1), E30, E30),
    "norm-2": (lambda T, x: x.norm(), E30, 0.0),
    "norm-2-dim": (lambda T, x: x.norm(dim=1), E30, [0.0] * 3),
    "norm-1": (lambda T, x: x.norm(p=1), E30, 0.0),
    "norm-3": (lambda T, x: x.norm(3), E30, 0.0),
    "cross_entropy-mean": (_ce(), np.zeros((0, 10)), NAN),
    "cross_entropy-sum": (_ce("sum"), np.zeros((0, 10)), 0.0),
    "cross_entropy-none": (_ce("none"), np.zeros((0, 10)), np.zeros(0)),
    "cross_entropy-smoothing": (_ce(label_smoothing=0.1), np.zeros((0, 10)), NAN),
    "cross_entropy-weight": (lambda T, x: _ce(weight=T.ones(10, dtype=T.float64))(T, x), np.zeros((0, 10)), NAN),
    "cross_entropy-spatial": (lambda T, x: T.nn.functional.cross_entropy(x, T.tensor(np.zeros((0, 2), np.int64))),
                              np.zeros((0, 10, 2)), NAN),
    "cross_entropy-probabilities": (
        lambda T, x: T.nn.functional.cross_entropy(x, T.tensor(np.zeros((0, 10)))), np.zeros((0, 10)), NAN),
    "nll_loss-mean": (lambda T, x: T.nn.functional.nll_loss(x, T.tensor(np.zeros(0, dtype=np.int64))),
                      np.zeros((0, 10)), NAN),
    "nll_loss-weighted": (lambda T, x: T.nn.functional.nll_loss(x, T.tensor(np.zeros(0, dtype=np.int64)),
                                                                weight=T.ones(10, dtype=T.float64)),
                          np.zeros((0, 10)), NAN),
    "mse_loss-mean": (lambda T, x: T.nn.functional.mse_loss(x, T.tensor(np.zeros((0, 10)))), np.zeros((0, 10)), NAN),
}

E = re.escape
# id: (function of T, the exception type, a pattern its message must match)
RAISES: dict[str, tuple[Callable[[Any], Any], type[Exception], str]] = {
    "amax-dim-of-size-0": (lambda T: T.zeros(3, 0).amax(1), IndexError,
                           E("amax: cannot reduce over a size-0 dimension (dim 1 of shape (3, 0))")),
    "amin-negative-dim": (lambda T: T.zeros(3, 0).amin(-1), IndexError,
                          E("amin: cannot reduce over a size-0 dimension (dim 1 of shape (3, 0))")),
    "amax-no-dim": (lambda T: T.zeros(3, 0).amax(), IndexError,
                    E("amax: cannot reduce an empty tensor (shape (3, 0)) without a dim")),
    "max-no-dim": (lambda T: T.zeros(0).max(), IndexError, E("max: cannot reduce an empty tensor (shape (0,))")),
    "min-no-dim": (lambda T: T.zeros(2, 0).min(), IndexError, E("min: cannot reduce an empty tensor (shape (2, 0))")),
    "max-dim": (lambda T: T.zeros(3, 0).max(1), IndexError,
                E("max: cannot reduce over a size-0 dimension (dim 1 of shape (3, 0))")),
    "min-dim": (lambda T: T.zeros(0, 2).min(dim=0), IndexError,
                E("min: cannot reduce over a size-0 dimension (dim 0 of shape (0, 2))")),
    "argmax-no-dim": (lambda T: T.zeros(3, 0).argmax(), IndexError,
                      E("argmax: cannot reduce an empty tensor (shape (3, 0)) without a dim")),
    "argmax-dim": (lambda T: T.zeros(3, 0).argmax(1), IndexError,
                   E("argmax: cannot reduce over a size-0 dimension (dim 1 of shape (3, 0))")),
    "argmin-dim": (lambda T: T.zeros(3, 0).argmin(1, keepdim=True), IndexError,
                   E("argmin: cannot reduce over a size-0 dimension (dim 1 of shape (3, 0))")),
    "norm-inf": (lambda T: T.zeros(3, 0).norm(float("inf")), IndexError,
                 E("norm: cannot reduce an empty tensor (shape (3, 0)) without a dim")),
    "norm-minus-inf-dim": (lambda T: T.zeros(3, 0).norm(float("-inf"), dim=1), IndexError,
                           E("norm: cannot reduce over a size-0 dimension (dim 1 of shape (3, 0))")),
}


def _run(T: Any, fn: Callable[[Any, Any], Any], array: np.ndarray) -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # var/std with N - correction <= 0 warn, as in PyTorch
        return value_and_grad(T, lambda x: fn(T, x), array)


def _array(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t.data)


@pytest.mark.parametrize("name", VALUES)
def test_value_and_gradient(name: str) -> None:
    fn, array, expected = VALUES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning (0 * inf, log(0), ...) may escape
        y, grad = _run(tinygrad_mnist, fn, array)
    np.testing.assert_array_equal(_array(y), np.asarray(expected, dtype=np.float64))
    assert _array(y).dtype == np.float64
    assert grad is not None and grad.shape == array.shape  # an empty gradient, as PyTorch gives


@pytest.mark.parametrize("name", VALUES)
def test_value_and_gradient_as_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch", reason='the differential oracle: pip install -e ".[compare]"')
    fn, array, _ = VALUES[name]
    ours, theirs = _run(tinygrad_mnist, fn, array), _run(torch, fn, array)
    for what, a, b in zip(("value", "gradient"), ours, theirs, strict=True):
        np.testing.assert_array_equal(_array(a), _array(b), err_msg=f"{name}: {what}")
        assert _array(a).dtype == _array(b).dtype, f"{name}: {what} dtype"


@pytest.mark.parametrize("name", RAISES)
def test_error_names_the_op(name: str) -> None:
    fn, kind, pattern = RAISES[name]
    with pytest.raises(kind, match=pattern):
        fn(tinygrad_mnist)


@pytest.mark.parametrize("name", RAISES)
def test_raises_as_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch", reason='the differential oracle: pip install -e ".[compare]"')
    fn = RAISES[name][0]
    with pytest.raises(Exception):  # noqa: B017  (PyTorch's exception types differ; raising is the point)
        fn(torch)


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_without_degrees_of_freedom_warns_naming_the_op(op: str) -> None:
    x = tinygrad_mnist.zeros(3, 0)
    with pytest.warns(UserWarning, match=rf"^{op}: degrees of freedom N - correction = 0 - 1 <= 0"):
        assert np.isnan(getattr(x, op)().item())


def test_mean_float32_stays_float32() -> None:
    y = tinygrad_mnist.zeros(2, 0).mean(1)
    assert y.dtype == np.float32 and np.isnan(y.data).all() and y.shape == (2,)
