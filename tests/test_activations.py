"""Activations and distances beyond what a comparison with PyTorch checks: error messages, finite
values and gradients far out (no floating-point overflow), in-place bookkeeping, and gradients of
every order against finite differences."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

from tinygrad_mnist import Tensor, autograd, nn, no_grad
from tinygrad_mnist.nn import functional as F

SMOOTH: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "softplus": F.softplus,
    "softplus_beta": lambda x: F.softplus(x, beta=0.5, threshold=3.0),
    "logsigmoid": F.logsigmoid,
    "elu": F.elu,
    "selu": F.selu,
    "celu": lambda x: F.celu(x, alpha=0.7),
    "softsign": F.softsign,
    "tanhshrink": F.tanhshrink,
}
PIECEWISE: dict[str, Callable[[Tensor], Tensor]] = {
    "relu6": F.relu6,
    "hardtanh": F.hardtanh,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "leaky_relu": F.leaky_relu,
}
FAR = [-1e4, -1000.0, -89.0, -50.0, -1e-30, 0.0, 1e-30, 50.0, 89.0, 1000.0, 1e4]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [*SMOOTH, *PIECEWISE])
def test_far_out_values_and_gradients_are_finite_without_overflow(name: str, dtype: type) -> None:
    fn = {**SMOOTH, **PIECEWISE}[name]
    x = Tensor(np.array(FAR, dtype=dtype), requires_grad=True)
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is fine
        y = fn(x)
        (g,) = autograd.grad((y * y).sum(), x, create_graph=True)
        (g * g).sum().backward()
    assert y.dtype == dtype and g.dtype == dtype
    for array in (y.data, g.data, x.grad.data):
        assert np.isfinite(array).all(), (name, array)


def test_far_out_limits() -> None:
    x = Tensor(np.array([-1e4, 1e4]))
    assert F.softplus(x).tolist() == [0.0, 1e4]
    assert F.logsigmoid(x).tolist() == [-1e4, 0.0]
    assert F.mish(x).tolist() == [0.0, 1e4]
    assert F.gelu(x, approximate="tanh").tolist() == [0.0, 1e4]
    assert F.elu(x).tolist() == [-1.0, 1e4]


def _numeric_grad(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.array([(fn(x + h * e).sum() - fn(x - h * e).sum()) / (2 * h) for e in np.eye(x.size)])


@pytest.mark.parametrize("name", list(SMOOTH))
def test_second_derivative_matches_finite_differences(name: str) -> None:
    """Away from the kinks, the gradient of the gradient is the derivative of the first derivative."""
    fn = SMOOTH[name]
    points = np.array([-4.0, -1.3, -0.2, 0.35, 1.1, 2.9, 4.2])

    def first(values: np.ndarray) -> np.ndarray:
        x = Tensor(values, requires_grad=True)
        (g,) = autograd.grad(fn(x).sum(), x)
        return g.data

    x = Tensor(points, requires_grad=True)
    (g,) = autograd.grad(fn(x).sum(), x, create_graph=True)
    (gg,) = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.data, _numeric_grad(first, points), rtol=1e-6, atol=1e-8)


def test_softplus_is_x_beyond_the_threshold_and_smooth_up_to_it() -> None:
    x = Tensor(np.array([9.99, 10.0, 10.01]), requires_grad=True)
    y = F.softplus(x, beta=2.0, threshold=20.0)
    y.sum().backward()
    assert y.data[2] == 10.01 and x.grad.data[2] == 1.0  # beta x > threshold: x itself
    assert y.data[1] > 10.0 and x.grad.data[1] < 1.0  # on the threshold: the smooth branch


# ---- in place -----------------------------------------------------------------------------------
def test_inplace_under_no_grad_changes_a_parameter_in_place() -> None:
    w = Tensor(np.array([-2.0, 0.5, 8.0]), requires_grad=True)
    data = w.data
    with no_grad():
        out = F.relu6(w, inplace=True)
    assert out is w and w.data is data and w.tolist() == [0.0, 0.5, 6.0]
    assert w._version == 1 and w.requires_grad


def test_inplace_counts_a_change_that_backward_notices() -> None:
    """An in-place activation after a node that reads the old value makes that node's backward refuse."""
    x = Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    h = x * 1.0
    y = h.exp()  # exp's derivative reads its output, which the in-place change below does not touch
    z = h * h  # mul reads h, which the change overwrites
    F.elu(h, inplace=True)
    with pytest.raises(RuntimeError, match="mul"):
        (y.sum() + z.sum()).backward()


def test_inplace_refuses_a_leaf_and_names_the_operation() -> None:
    with pytest.raises(RuntimeError, match=r"^hardswish_: a leaf tensor that requires grad"):
        F.hardswish(Tensor([1.0], requires_grad=True), inplace=True)


def test_inplace_module_keeps_the_result_in_its_input() -> None:
    x = Tensor(np.array([-1.0, 3.0]))
    assert nn.SiLU(inplace=True)(x) is x and x.data[0] == pytest.approx(-1 / (1 + np.e))
    y = Tensor(np.array([-1.0, 3.0]))
    assert nn.SiLU()(y) is not y and y.tolist() == [-1.0, 3.0]


# ---- errors -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "kind", "message"), [
    (lambda: F.gelu(Tensor([1.0]), approximate="erf"), ValueError,
     r"gelu: approximate must be 'none' or 'tanh', got 'erf'"),
    (lambda: F.hardtanh(Tensor([1.0]), 1.0, -1.0), ValueError, r"hardtanh: min_val cannot be greater than max_val"),
    (lambda: nn.Hardtanh(0.0, 0.0), ValueError, r"Hardtanh: max_val must be greater than min_val"),
    (lambda: F.celu(Tensor([1.0]), alpha=0.0), ValueError, r"celu: alpha cannot be 0"),
    (lambda: F.softplus(Tensor([1.0]), beta=0.0), ValueError, r"softplus: beta must be nonzero"),
    (lambda: F.mish(Tensor(np.array([1, 2]))), TypeError, r"mish: needs a floating-point tensor, got dtype int64"),
    (lambda: F.elu(np.array([1.0])), TypeError, r"elu: input must be a Tensor, got ndarray"),
    (lambda: F.softmin(Tensor(np.ones((2, 2))), dim=2), IndexError, r"softmin: dim 2 is out of range"),
    (lambda: F.normalize(Tensor(np.ones(3))), IndexError, r"normalize: dim 1 is out of range"),
    (lambda: F.normalize(Tensor(np.ones((2, 3))), out=Tensor(np.ones((2, 3)))), NotImplementedError,
     r"normalize: the out argument is not supported"),
    (lambda: F.cosine_similarity(Tensor(np.ones(3)), Tensor(np.ones(3))), IndexError,
     r"cosine_similarity: dim 1 is out of range"),
    (lambda: F.cosine_similarity(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3)))), ValueError,
     r"cosine_similarity: x1 of shape \(2, 3\) and x2 of shape \(4, 3\) cannot be broadcast"),
    (lambda: F.pairwise_distance(Tensor(np.ones(3)), Tensor(np.ones(3, dtype=np.int64))), TypeError,
     r"pairwise_distance: x2 must be a floating-point tensor"),
])
def test_errors_name_the_function_and_argument(call: Callable[[], object], kind: type, message: str) -> None:
    with pytest.raises(kind, match=message):
        call()


def test_hardtanh_deprecated_keywords_still_work() -> None:
    with pytest.warns(DeprecationWarning, match="min_value"):
        layer = nn.Hardtanh(min_value=-2.0)
    assert (layer.min_val, layer.max_val) == (-2.0, 1.0)


def test_implicit_softmax_dim_points_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.softmax(Tensor(np.ones((2, 3))))
    assert len(caught) == 1 and caught[0].filename == __file__


# ---- distances ----------------------------------------------------------------------------------------
def test_cosine_similarity_stays_within_one_for_huge_and_tiny_vectors() -> None:
    a = Tensor(np.array([[1e150, 1e150], [1e-200, 3e-200], [0.0, 0.0]]))
    b = Tensor(np.array([[2e150, 2e150], [1e-200, 3e-200], [1.0, 0.0]]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = F.cosine_similarity(a, b).data
    np.testing.assert_allclose(out, [1.0, 0.0, 0.0], atol=1e-12)  # below eps the norm counts as eps


def test_normalize_gives_unit_rows_and_keeps_zero_rows() -> None:
    x = Tensor(np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 1.0]]))
    out = F.normalize(x).data
    np.testing.assert_allclose(np.linalg.norm(out[[0, 2]], axis=1), 1.0)
    assert out[1].tolist() == [0.0, 0.0]


def test_pairwise_distance_of_equal_points_is_eps_times_the_dimension_root() -> None:
    x = Tensor(np.ones((2, 4)), requires_grad=True)
    d = F.pairwise_distance(x, Tensor(np.ones((2, 4))))
    np.testing.assert_allclose(d.data, 1e-6 * 2.0)  # ||(eps, eps, eps, eps)||_2 = 2 eps
    d.sum().backward()
    np.testing.assert_allclose(x.grad.data, 0.5)  # each of the four equal components: eps / (2 eps)
