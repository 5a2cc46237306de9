"""Custom operations with a hand-written numpy gradient: ``autograd.Function``.

Every expected value is a closed form computed here with numpy; ``gradcheck``
(central finite differences) is the independent referee for the hand-written
backward passes, and deliberately wrong backward passes are the negative controls.
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor, autograd, is_grad_enabled, no_grad
from tinygrad_mnist.nn import functional as F
from tinygrad_mnist.autograd import Function, FunctionCtx, GradcheckError, gradcheck

FLOATS = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
ARRAYS = hnp.arrays(np.float64, SHAPES, elements=FLOATS)
BROADCAST_PAIRS = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3).flatmap(
    lambda b: st.tuples(*(hnp.arrays(np.float64, s, elements=FLOATS) for s in b.input_shapes))
)


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def sum_to(array, shape):
    """``array`` summed over the axes that broadcasting added or stretched to reach ``shape``."""
    lead = array.ndim - len(shape)
    summed = array.sum(axis=tuple(range(lead))) if lead else array
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and summed.shape[i] != 1)
    return summed.sum(axis=stretched, keepdims=True).reshape(shape) if stretched else summed.reshape(shape)


def np_sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # never overflows


# ---- the custom operations under test ------------------------------------------------------------
class Softplus(Function):
    """log(1 + e^x), with derivative sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0.0, x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * np_sigmoid(x)


class MulSin(Function):
    """x * y + sin(x) for broadcastable x and y (sin is not a primitive of the engine)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y + np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        gx = sum_to(grad * (y + np.cos(x)), x.shape) if ctx.needs_input_grad[0] else None
        gy = sum_to(grad * x, y.shape) if ctx.needs_input_grad[1] else None
        return gx, gy


class Scale(Function):
    """x * scale for a plain Python number ``scale`` (no gradient for it)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x * scale

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


class AffineMix(Function):
    """a * k + b ** 2 with a non-Tensor ``k`` between two Tensor arguments."""

    @staticmethod
    def forward(ctx, a, k, b):
        ctx.save_for_backward(b)
        ctx.k = k
        return a * k + b**2

    @staticmethod
    def backward(ctx, grad):
        (b,) = ctx.saved_tensors
        return grad * ctx.k, None, 2 * b * grad


# ---- values and gradients ---------------------------------------------------------------------------
@given(ARRAYS)
def test_softplus_values_and_gradient_match_closed_forms(arr):
    x = Tensor(arr, requires_grad=True)
    y = Softplus.apply(x)
    assert isinstance(y, Tensor) and y.shape == arr.shape and y.requires_grad
    assert y.grad_fn.name() == "Softplus"
    np.testing.assert_allclose(y.data, np.log1p(np.exp(arr)), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.0 / (1.0 + np.exp(-arr)), rtol=1e-12)
    assert gradcheck(Softplus.apply, Tensor(arr, requires_grad=True))


@given(BROADCAST_PAIRS, st.integers(0, 2**32 - 1))
def test_two_input_function_with_broadcasting(arrays, seed):
    x_arr, y_arr = arrays
    x, y = Tensor(x_arr, requires_grad=True), Tensor(y_arr, requires_grad=True)
    out = MulSin.apply(x, y)
    np.testing.assert_allclose(out.data, x_arr * y_arr + np.sin(x_arr), rtol=1e-12, atol=1e-15)

    w = np.random.default_rng(seed).standard_normal(out.shape)
    (out * Tensor(w)).sum().backward()
    full_x, full_y = np.broadcast_arrays(x_arr, y_arr)
    expected_dx = sum_to(w * (full_y + np.cos(full_x)), x_arr.shape)
    expected_dy = sum_to(w * full_x, y_arr.shape)
    np.testing.assert_allclose(x.grad.data, expected_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.grad.data, expected_dy, rtol=1e-10, atol=1e-12)
    assert gradcheck(MulSin.apply, (Tensor(x_arr, requires_grad=True), Tensor(y_arr, requires_grad=True)))


@given(ARRAYS, st.floats(-4.0, 4.0, allow_nan=False))
def test_function_with_a_non_tensor_argument(arr, scale):
    x = Tensor(arr, requires_grad=True)
    y = Scale.apply(x, scale)
    np.testing.assert_allclose(y.data, arr * scale, rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full(arr.shape, scale), rtol=1e-15)
    assert gradcheck(lambda t: Scale.apply(t, scale), Tensor(arr, requires_grad=True))


def test_gradients_go_to_the_right_tensor_around_a_non_tensor_argument():
    a_arr, b_arr = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    a, b = Tensor(a_arr, requires_grad=True), Tensor(b_arr, requires_grad=True)
    out = AffineMix.apply(a, 4.0, b)
    np.testing.assert_allclose(out.data, 4.0 * a_arr + b_arr**2)
    da, db = autograd.grad(out.sum(), (a, b))
    np.testing.assert_allclose(da.data, [4.0, 4.0])
    np.testing.assert_allclose(db.data, 2 * b_arr)
    assert gradcheck(lambda p, q: AffineMix.apply(p, 4.0, q), (leaf(a_arr), leaf(b_arr)))


def test_forward_returning_a_numpy_scalar_gives_a_0d_tensor():
    class SumOfSquares(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sum(x * x)  # a numpy scalar (np.float64), not an ndarray

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    arr = np.array([1.0, -2.0, 0.5])
    x = Tensor(arr, requires_grad=True)
    y = SumOfSquares.apply(x)
    assert y.shape == () and y.item() == pytest.approx(5.25)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * arr)


def test_the_gradient_is_cast_to_the_input_dtype():
    x = leaf([0.5, -1.5], dtype=np.float32)
    y = Softplus.apply(x)
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, np_sigmoid(np.array([0.5, -1.5])), rtol=1e-6)


# ---- FunctionCtx: saved tensors and needs_input_grad -------------------------------------------------
def test_save_for_backward_hands_the_saved_arrays_to_backward():
    seen = {}

    class Recorder(Function):
        @staticmethod
        def forward(ctx, x, y):
            seen["forward_inputs"] = (x, y)
            out = x * y
            ctx.save_for_backward(x, out, "label")
            return out

        @staticmethod
        def backward(ctx, grad):
            seen["saved"] = ctx.saved_tensors
            x, out, _ = ctx.saved_tensors
            return grad * out / x, grad * x

    x_arr, y_arr = np.array([1.0, 2.0]), np.array([3.0, -4.0])
    x, y = Tensor(x_arr, requires_grad=True), Tensor(y_arr, requires_grad=True)
    out = Recorder.apply(x, y)
    fx, fy = seen["forward_inputs"]
    assert type(fx) is np.ndarray and type(fy) is np.ndarray  # forward sees arrays, not Tensors
    assert fx is x.data and fy is y.data
    out.sum().backward()
    saved = seen["saved"]
    assert len(saved) == 3 and saved[0] is x.data and saved[1] is out.data and saved[2] == "label"
    np.testing.assert_allclose(x.grad.data, y_arr)
    np.testing.assert_allclose(y.grad.data, x_arr)


def test_a_fresh_context_has_nothing_saved():
    ctx = FunctionCtx((True, False))
    assert ctx.saved_tensors == ()
    assert ctx.needs_input_grad == (True, False)
    ctx.save_for_backward(np.ones(2))
    assert len(ctx.saved_tensors) == 1


def test_forward_runs_without_recording_a_graph():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(is_grad_enabled())
            inner = Tensor(x, requires_grad=True) * 2.0  # Tensor ops inside forward build no graph
            seen.append(inner.requires_grad)
            return inner.data

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0

    x = leaf([1.0, 2.0])
    y = Probe.apply(x)
    assert seen == [False, False]
    assert y.requires_grad and y.grad_fn.name() == "Probe"


@pytest.mark.parametrize(
    "requires", [(True, True), (True, False), (False, True)], ids=["both", "first-only", "second-only"]
)
def test_needs_input_grad_says_which_tensors_require_grad(requires):
    contexts = []

    class Mul(Function):
        @staticmethod
        def forward(ctx, x, scale, y):
            contexts.append(ctx)
            ctx.save_for_backward(x, y)
            return x * y * scale

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            # gradients only where asked; None elsewhere is allowed
            return (grad * y * 2.0 if ctx.needs_input_grad[0] else None, None,
                    grad * x * 2.0 if ctx.needs_input_grad[2] else None)

    x_arr, y_arr = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    x, y = Tensor(x_arr, requires_grad=requires[0]), Tensor(y_arr, requires_grad=requires[1])
    out = Mul.apply(x, 2.0, y)
    assert contexts[0].needs_input_grad == (requires[0], False, requires[1])
    out.sum().backward()
    if requires[0]:
        np.testing.assert_allclose(x.grad.data, 2.0 * y_arr)
    else:
        assert x.grad is None
    if requires[1]:
        np.testing.assert_allclose(y.grad.data, 2.0 * x_arr)
    else:
        assert y.grad is None


def test_without_inputs_requiring_grad_nothing_is_recorded_and_backward_never_runs():
    calls = []

    class Tracked(Function):
        @staticmethod
        def forward(ctx, x):
            return x + 1.0

        @staticmethod
        def backward(ctx, grad):
            calls.append(grad)
            return grad

    out = Tracked.apply(Tensor(np.array([1.0, 2.0])))
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.data, [2.0, 3.0])
    with no_grad():
        recorded = Tracked.apply(leaf([1.0]))
    assert not recorded.requires_grad
    assert calls == []


# ---- backward returning one value or a tuple --------------------------------------------------------
class DoubleBare(Function):
    @staticmethod
    def forward(ctx, x):
        return 2.0 * x

    @staticmethod
    def backward(ctx, grad):
        return 2.0 * grad  # a bare array for the single argument


class DoubleTuple(Function):
    @staticmethod
    def forward(ctx, x):
        return 2.0 * x

    @staticmethod
    def backward(ctx, grad):
        return (2.0 * grad,)


@pytest.mark.parametrize("fn", [DoubleBare, DoubleTuple], ids=["bare", "one-tuple"])
def test_backward_may_return_a_single_value_or_a_one_tuple(fn):
    x = leaf([[1.0, -2.0, 3.0]])
    fn.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[2.0, 2.0, 2.0]])
    assert gradcheck(fn.apply, leaf([[1.0, -2.0, 3.0]]))


# ---- malformed backward and forward results -----------------------------------------------------------
def two_input_function(backward_result):
    class Broken(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad):
            return backward_result(grad)

    return Broken


@pytest.mark.parametrize(
    "result, count",
    [(lambda g: g, 1), (lambda g: (g,), 1), (lambda g: (g, g, g), 3)],
    ids=["bare-array", "one-tuple", "three-tuple"],
)
def test_backward_with_the_wrong_number_of_gradients_raises_naming_the_function(result, count):
    fn = two_input_function(result)
    out = fn.apply(leaf([1.0, 2.0]), leaf([3.0, 4.0]))
    with pytest.raises(ValueError, match=r"Broken\.backward") as info:
        out.sum().backward()
    message = str(info.value)
    assert re.search(rf"\b{count} gradient", message), message
    assert re.search(r"expected 2\b", message), message


def test_backward_with_the_wrong_number_of_gradients_counts_non_tensor_arguments():
    class NeedsThree(Function):
        @staticmethod
        def forward(ctx, x, k, y):
            return x * k + y

        @staticmethod
        def backward(ctx, grad):
            return grad, grad  # forgot the None for k

    out = NeedsThree.apply(leaf([1.0]), 2.0, leaf([3.0]))
    with pytest.raises(ValueError, match=r"NeedsThree\.backward.*\b2 gradient.*expected 3\b"):
        out.sum().backward()


@pytest.mark.parametrize("position", [0, 1])
def test_backward_returning_none_for_an_input_that_requires_grad_raises(position):
    fn = two_input_function(lambda g: (None, g) if position == 0 else (g, None))
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    out = fn.apply(a, b)
    with pytest.raises(ValueError, match=r"Broken\.backward") as info:
        out.sum().backward()
    message = str(info.value)
    assert "None" in message and re.search(rf"argument {position}\b", message), message
    assert a.grad is None and b.grad is None


def test_backward_returning_none_for_an_input_without_grad_is_fine():
    fn = two_input_function(lambda g: (g * 3.0, None))
    a, b = leaf([1.0, 2.0]), Tensor(np.array([3.0, 4.0]))
    fn.apply(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [3.0, 3.0])


@pytest.mark.parametrize(
    "wrong, wrong_shape",
    [(lambda g: g.sum(), ()), (lambda g: g.reshape(1, -1), (1, 3)), (lambda g: np.ones((3, 1)), (3, 1))],
    ids=["summed", "extra-axis", "column"],
)
def test_backward_returning_a_wrongly_shaped_gradient_raises(wrong, wrong_shape):
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return wrong(grad)

    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"WrongShape\.backward") as info:
        WrongShape.apply(x).sum().backward()
    message = str(info.value)
    assert str(wrong_shape) in message and "(3,)" in message, message
    assert x.grad is None


@pytest.mark.parametrize(
    "value",
    [1.5, [1.0, 2.0], None, Tensor(np.array([1.0, 2.0])), (np.ones(2),)],
    ids=["float", "list", "None", "Tensor", "tuple"],
)
def test_forward_returning_a_non_array_raises_type_error(value):
    class NotAnArray(Function):
        @staticmethod
        def forward(ctx, x):
            return value

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(TypeError, match=r"NotAnArray\.forward.*numpy array") as info:
        NotAnArray.apply(leaf([1.0, 2.0]))
    assert type(value).__name__ in str(info.value)


def test_a_function_without_forward_or_backward_raises_not_implemented():
    class Empty(Function):
        pass

    with pytest.raises(NotImplementedError):
        Empty.apply(leaf([1.0]))


# ---- gradcheck as the referee: a wrong backward is caught ---------------------------------------------
class SoftplusWrongElement(Softplus):
    """Softplus whose backward doubles the gradient of element (1, 0) only."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        scale = np.ones(x.shape)
        scale[1, 0] = 2.0
        return grad * np_sigmoid(x) * scale


class SoftplusTanhDerivative(Softplus):
    """Softplus with a plausible but wrong derivative everywhere (1 - tanh^2 instead of sigmoid)."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (1 - np.tanh(x) ** 2)


def test_gradcheck_names_the_element_of_a_wrong_backward():
    arr = np.array([[0.3, -1.2], [0.8, 2.0], [-0.4, 1.1]])
    assert gradcheck(Softplus.apply, leaf(arr))  # positive control
    with pytest.raises(GradcheckError) as info:
        gradcheck(SoftplusWrongElement.apply, leaf(arr))
    error = info.value
    assert error.input_index == 0 and error.output_index == 0
    assert error.input_element == (1, 0) and error.output_element == (1, 0)
    true_derivative = 1.0 / (1.0 + np.exp(-arr[1, 0]))
    assert error.analytical == pytest.approx(2 * true_derivative, rel=1e-9)
    assert error.numerical == pytest.approx(true_derivative, rel=1e-6)
    assert "(1, 0)" in str(error)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_rejects_a_plausible_but_wrong_derivative(fast_mode):
    arr = np.array([-1.5, -0.2, 0.7, 1.9])
    assert gradcheck(Softplus.apply, leaf(arr), fast_mode=fast_mode)
    with pytest.raises(GradcheckError):
        gradcheck(SoftplusTanhDerivative.apply, leaf(arr), fast_mode=fast_mode)
    assert gradcheck(SoftplusTanhDerivative.apply, leaf(arr), fast_mode=fast_mode, raise_exception=False) is False


# ---- create_graph through a Function -----------------------------------------------------------------
def _backward_with_create_graph(x):
    Softplus.apply(x).sum().backward(create_graph=True)


def _grad_with_create_graph(x):
    autograd.grad(Softplus.apply(x * 2.0).sum(), x, create_graph=True)


def _hessian(x):
    autograd.hessian(lambda t: Softplus.apply(t).sum(), x)


def _gradgradcheck(x):
    autograd.gradgradcheck(Softplus.apply, x)


@pytest.mark.parametrize(
    "run", [_backward_with_create_graph, _grad_with_create_graph, _hessian, _gradgradcheck],
    ids=["backward", "grad", "hessian", "gradgradcheck"],
)
def test_create_graph_through_a_function_raises_naming_it(run):
    x = leaf([0.5, -1.0])
    with pytest.raises(RuntimeError, match="Softplus") as info:
        run(x)
    assert "create_graph" in str(info.value)


def test_without_create_graph_the_same_graph_works():
    arr = np.array([0.5, -1.0])
    x = Tensor(arr, requires_grad=True)
    (dx,) = autograd.grad(Softplus.apply(x * 2.0).sum(), x)
    np.testing.assert_allclose(dx.data, 2.0 * np_sigmoid(2.0 * arr), rtol=1e-12)
    np.testing.assert_allclose(autograd.jacobian(Softplus.apply, x).data, np.diag(np_sigmoid(arr)), rtol=1e-12)


# ---- retain_graph: backward runs again for a new upstream gradient ------------------------------------
@given(
    hnp.arrays(np.float64, st.integers(1, 5), elements=FLOATS).flatmap(
        lambda a: st.tuples(st.just(a), *(hnp.arrays(np.float64, a.shape, elements=FLOATS) for _ in range(3)))
    )
)
def test_second_backward_with_a_different_upstream_gradient_is_not_cached(arrays):
    x_arr, y_arr, g1, g2 = arrays
    x, y = Tensor(x_arr, requires_grad=True), Tensor(y_arr, requires_grad=True)
    out = MulSin.apply(x, y)

    out.backward(g1, retain_graph=True)
    np.testing.assert_allclose(x.grad.data, g1 * (y_arr + np.cos(x_arr)), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y.grad.data, g1 * x_arr, rtol=1e-12, atol=1e-14)
    x.grad = y.grad = None

    out.backward(g2, retain_graph=True)
    np.testing.assert_allclose(x.grad.data, g2 * (y_arr + np.cos(x_arr)), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y.grad.data, g2 * x_arr, rtol=1e-12, atol=1e-14)

    # and through autograd.grad, with the Function deeper in the graph
    (dx2,) = autograd.grad((out * 3.0).sum(), x)
    np.testing.assert_allclose(dx2.data, 3.0 * (y_arr + np.cos(x_arr)), rtol=1e-12)


def test_backward_runs_once_per_pass_for_all_inputs():
    calls = []

    class Counted(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad):
            calls.append(1)
            return grad * 2.0, grad * 3.0

    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    out = Counted.apply(a, b)
    out.sum().backward(retain_graph=True)
    assert len(calls) == 1  # one call serves both inputs
    out.sum().backward()
    assert len(calls) == 2
    np.testing.assert_array_equal(a.grad.data, [4.0, 4.0])
    np.testing.assert_array_equal(b.grad.data, [6.0, 6.0])


def test_a_reused_seed_buffer_gives_each_row_of_the_jacobian():
    arr = np.array([1.0, 2.0, 3.0])
    x = Tensor(arr, requires_grad=True)
    y = Softplus.apply(x)
    seed = Tensor(np.zeros(3))
    rows = []
    for j in range(3):
        seed.data[:] = 0.0
        seed.data[j] = 1.0
        (row,) = autograd.grad(y, x, grad_outputs=seed, retain_graph=True)
        rows.append(row.data.copy())
    np.testing.assert_allclose(np.array(rows), np.diag(np_sigmoid(arr)), rtol=1e-12)


# ---- Functions inside larger graphs --------------------------------------------------------------------
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), elements=FLOATS))
def test_function_output_with_fan_out(arr):
    # f = sum(s * s + tanh(s) + s * x) with s = softplus(x):
    # df/dx = (2 s + 1 - tanh(s)^2 + x) * sigmoid(x) + s
    x = Tensor(arr, requires_grad=True)
    s = Softplus.apply(x)
    (s * s + s.tanh() + s * x).sum().backward()
    s_np, sig = np.logaddexp(0.0, arr), np_sigmoid(arr)
    expected = (2 * s_np + 1 - np.tanh(s_np) ** 2 + arr) * sig + s_np
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-10)


def test_function_composed_with_itself_and_given_the_same_tensor_twice():
    arr = np.array([-1.0, 0.25, 1.5])
    x = Tensor(arr, requires_grad=True)
    MulSin.apply(Softplus.apply(Softplus.apply(x)), x).sum().backward()
    # MulSin(u, x) = u * x + sin(u), u = softplus(softplus(x))
    s1 = np.logaddexp(0.0, arr)
    u = np.logaddexp(0.0, s1)
    du_dx = np_sigmoid(s1) * np_sigmoid(arr)
    expected = (arr + np.cos(u)) * du_dx + u
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)

    # the same tensor for both arguments: the two gradients add up
    x.grad = None
    MulSin.apply(x, x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * arr + np.cos(arr), rtol=1e-12)
    assert gradcheck(lambda t: MulSin.apply(Softplus.apply(t), t) * t, leaf(arr))


@given(
    st.tuples(st.integers(1, 3), st.integers(1, 4)).flatmap(
        lambda s: st.tuples(
            hnp.arrays(np.float64, (s[1],), elements=FLOATS), hnp.arrays(np.float64, s, elements=FLOATS)
        )
    )
)
def test_function_output_broadcast_against_a_matrix(arrays):
    # L = sum(W * softplus(x)) with x of shape (k,) broadcast over the rows of W (m, k)
    x_arr, w_arr = arrays
    x, w = Tensor(x_arr, requires_grad=True), Tensor(w_arr, requires_grad=True)
    (w * Softplus.apply(x)).sum().backward()
    np.testing.assert_allclose(x.grad.data, w_arr.sum(axis=0) * np_sigmoid(x_arr), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.grad.data, np.broadcast_to(np.logaddexp(0.0, x_arr), w_arr.shape), rtol=1e-12)
    assert gradcheck(lambda a, b: b * Softplus.apply(a), (leaf(x_arr), leaf(w_arr)))


def test_function_inside_a_small_network_loss():
    rng = np.random.default_rng(3)
    inputs, targets = rng.standard_normal((5, 4)), np.array([0, 2, 1, 2, 0])
    w1, w2 = leaf(rng.standard_normal((4, 6)) * 0.5), leaf(rng.standard_normal((6, 3)) * 0.5)

    def loss(a, b):
        hidden = Scale.apply(Softplus.apply(Tensor(inputs) @ a), 0.5)
        return F.cross_entropy(hidden @ b, targets)

    assert gradcheck(loss, (w1, w2))
