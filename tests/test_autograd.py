"""``autograd.grad`` and the gradient checker ``autograd.gradcheck`` (with negative controls)."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor, autograd
from tinygrad_mnist.core import rules
from tinygrad_mnist.autograd import GradcheckError, gradcheck

ATOL, RTOL = 1e-5, 1e-3  # passed explicitly wherever the test recomputes gradcheck's verdict

FLOATS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
MATRICES = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=3), elements=FLOATS)
VECTORS = hnp.arrays(np.float64, st.integers(1, 4), elements=FLOATS)


def leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def index_pattern(i):
    """Matches the index ``i`` written as ``inputs[i]``, ``input i`` or ``input #i``."""
    return rf"inputs?\s*(\[|#)?\s*{i}\b"


# ---- autograd.grad: values ----------------------------------------------------------------------
@given(VECTORS)
def test_grad_of_one_output_with_respect_to_one_input(arr):
    x = Tensor(arr, requires_grad=True)
    result = autograd.grad((x**3).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1
    np.testing.assert_allclose(result[0].data, 3 * arr**2, rtol=1e-12)


@given(VECTORS.flatmap(lambda a: st.tuples(st.just(a), hnp.arrays(np.float64, a.shape, elements=FLOATS))))
def test_grad_with_respect_to_several_inputs(arrays):
    a_arr, b_arr = arrays
    a, b = Tensor(a_arr, requires_grad=True), Tensor(b_arr, requires_grad=True)
    da, db = autograd.grad((a * b.exp()).sum(), (a, b))
    np.testing.assert_allclose(da.data, np.exp(b_arr), rtol=1e-12)
    np.testing.assert_allclose(db.data, a_arr * np.exp(b_arr), rtol=1e-12)


def test_grad_of_several_outputs_sums_their_gradients():
    arr = np.array([0.5, -1.0, 2.0])
    x = Tensor(arr, requires_grad=True)
    (dx,) = autograd.grad(((x * x).sum(), (x * 3.0).sum()), [x])
    np.testing.assert_allclose(dx.data, 2 * arr + 3)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_grad_outputs_for_one_output_is_a_vector_jacobian_product(as_tensor):
    arr, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, -2.0, 0.5])
    x = Tensor(arr, requires_grad=True)
    (dx,) = autograd.grad(x.tanh(), x, grad_outputs=Tensor(v) if as_tensor else v)
    np.testing.assert_allclose(dx.data, v * (1 - np.tanh(arr) ** 2), rtol=1e-12)


def test_grad_outputs_for_several_outputs():
    arr = np.array([0.3, -1.2])
    v1, v2 = np.array([1.0, 2.0]), np.array([-3.0, 0.5])
    x = Tensor(arr, requires_grad=True)
    (dx,) = autograd.grad((x * x, x.exp()), x, grad_outputs=[v1, v2])
    np.testing.assert_allclose(dx.data, 2 * arr * v1 + np.exp(arr) * v2, rtol=1e-12)


def test_grad_outputs_must_match_the_number_of_outputs():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError):
        autograd.grad((x * 2.0, x * 3.0), x, grad_outputs=[np.ones(2)])


def test_grad_outputs_must_match_the_output_shape():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=re.escape("(2,)")):
        autograd.grad(x * 2.0, x, grad_outputs=np.ones(3))


def test_grad_of_a_non_scalar_output_needs_grad_outputs():
    x = leaf([[1.0, 2.0]])
    with pytest.raises(RuntimeError, match=re.escape("(1, 2)")):
        autograd.grad(x * 2.0, x)


def test_grad_with_respect_to_intermediate_tensors():
    a_arr, b_arr = np.array([2.0, -1.0]), np.array([5.0, 3.0])
    a, b = Tensor(a_arr, requires_grad=True), Tensor(b_arr, requires_grad=True)
    h = a * b
    out = (h * h).sum()
    dh, da, dout = autograd.grad(out, (h, a, out))
    np.testing.assert_allclose(dh.data, 2 * a_arr * b_arr)
    np.testing.assert_allclose(da.data, 2 * a_arr * b_arr**2)
    np.testing.assert_allclose(dout.data, 1.0)


def test_grad_does_not_touch_grad_of_leaves():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    previous = Tensor(np.array([10.0, 20.0]))
    b.grad = previous
    autograd.grad((a * b).sum(), (a, b))
    assert a.grad is None
    assert b.grad is previous
    np.testing.assert_array_equal(b.grad.data, [10.0, 20.0])


def test_grad_frees_the_graph_unless_retained():
    arr = np.array([1.0, -2.0])
    x = Tensor(arr, requires_grad=True)
    out = (x * x).sum()
    first = autograd.grad(out, x, retain_graph=True)[0].data.copy()
    second = autograd.grad(out, x)[0].data
    np.testing.assert_allclose(first, 2 * arr)
    np.testing.assert_allclose(second, 2 * arr)
    with pytest.raises(RuntimeError, match="retain_graph"):
        autograd.grad(out, x)


# ---- autograd.grad: higher order ------------------------------------------------------------------
@given(VECTORS)
def test_create_graph_gives_derivatives_of_every_order(arr):
    # d^k/dx^k x^4 for k = 1, 2, 3: 4x^3, 12x^2, 24x
    x = Tensor(arr, requires_grad=True)
    y = (x**4).sum()
    for expected in (4 * arr**3, 12 * arr**2, 24 * arr):
        (dy,) = autograd.grad(y, x, create_graph=True)
        np.testing.assert_allclose(dy.data, expected, rtol=1e-12, atol=1e-12)
        y = dy.sum()


def test_mixed_second_derivative():
    # f = sum(x^2 y): df/dx = 2xy, d/dy sum(df/dx) = 2x
    x_arr, y_arr = np.array([1.5, -2.0]), np.array([0.5, 3.0])
    x, y = Tensor(x_arr, requires_grad=True), Tensor(y_arr, requires_grad=True)
    (dx,) = autograd.grad((x * x * y).sum(), x, create_graph=True)
    np.testing.assert_allclose(dx.data, 2 * x_arr * y_arr)
    (dxy,) = autograd.grad(dx.sum(), y)
    np.testing.assert_allclose(dxy.data, 2 * x_arr)


def test_without_create_graph_the_result_is_a_constant():
    x = leaf([1.0, 2.0])
    (dx,) = autograd.grad((x**3).sum(), x)
    assert not dx.requires_grad and dx.grad_fn is None


# ---- autograd.grad: errors --------------------------------------------------------------------------
def test_allow_unused_returns_none_for_unused_inputs():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0]), leaf([4.0, 5.0])
    da, db, dc = autograd.grad((a * c).sum(), (a, b, c), allow_unused=True)
    assert db is None
    np.testing.assert_array_equal(da.data, [4.0, 5.0])
    np.testing.assert_array_equal(dc.data, [1.0, 2.0])


@pytest.mark.parametrize("unused_via_detach", [False, True])
def test_unused_input_raises_naming_its_index(unused_via_detach):
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([4.0, 5.0])
    out = (a * (c.detach() if unused_via_detach else 1.0) + b).sum()
    with pytest.raises(RuntimeError, match=index_pattern(2)):
        autograd.grad(out, (a, b, c))


def test_input_that_does_not_require_grad_raises_naming_its_index():
    a, c = leaf([1.0, 2.0]), Tensor(np.array([3.0, 4.0]))
    with pytest.raises(RuntimeError, match=index_pattern(1)):
        autograd.grad((a * c).sum(), (a, c))


def test_output_that_does_not_require_grad_raises():
    a = leaf([1.0])
    with pytest.raises(RuntimeError):
        autograd.grad(Tensor(np.ones(())), a)


def test_non_tensor_input_raises_type_error():
    a = leaf([1.0])
    with pytest.raises(TypeError):
        autograd.grad(a.sum(), (a, np.ones(1)))


# ---- gradcheck: correct functions pass ----------------------------------------------------------------
SMOOTH = {
    "tanh-product": lambda x: (x * x.tanh()).sum(),
    "sigmoid-exp": lambda x: x.sigmoid() * x.exp(),
    "log-div": lambda x: (x * x + 1.0).log() / (x.exp() + 1.0),
    "softmax": lambda x: x.softmax(axis=0),
    "log_softmax-matmul": lambda x: (x @ x.T).log_softmax(-1),
    "logsumexp": lambda x: x.logsumexp(axis=-1),
    "transpose-getitem-mean": lambda x: (x.T * 2.0)[0] + x.mean(axis=1),
    "pow-sqrt": lambda x: (x * x + 0.5).sqrt() ** 3,
}


@pytest.mark.parametrize("fn", SMOOTH.values(), ids=SMOOTH.keys())
@given(arr=MATRICES)
def test_gradcheck_accepts_correct_functions(fn, arr):
    assert gradcheck(fn, Tensor(arr, requires_grad=True)) is True


@given(
    MATRICES.flatmap(
        lambda a: st.tuples(st.just(a), hnp.arrays(np.float64, a.shape[1:], elements=st.floats(0.5, 2.0)))
    )
)
def test_gradcheck_accepts_several_inputs_and_outputs_with_broadcasting(arrays):
    a_arr, b_arr = arrays

    def fn(a, b):
        return (a * b).tanh(), a / (b * b + 1.0), (a @ b).exp()

    assert gradcheck(fn, (Tensor(a_arr, requires_grad=True), Tensor(b_arr, requires_grad=True))) is True


def test_gradcheck_accepts_outputs_that_ignore_an_input():
    a, b = leaf([1.0, 2.0]), leaf([3.0])
    assert gradcheck(lambda a, b: (a * 2.0, Tensor(np.ones(2))), (a, b)) is True


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gradcheck_rejects_low_precision_inputs(dtype):
    x = Tensor(np.ones(3, dtype=dtype), requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2.0, x)


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(RuntimeError, match="no input requires grad"):
        gradcheck(lambda t: t * 2.0, Tensor(np.ones(3)))


def test_gradcheck_passes_other_inputs_through_unchanged():
    x = leaf([[0.5, -1.0], [2.0, 0.25]])
    x_data = x.data
    x_values = x.data.copy()
    const32 = Tensor(np.array([1.0, 2.0], dtype=np.float32))  # not checked, so float32 is fine
    const32_values = const32.data.copy()
    scale, offsets, label = 3, np.array([0.1, 0.2]), "tag"
    seen = []

    def fn(t, k, arr, c, s):
        seen.append((k, arr, c, s))
        return (t * k + arr) * c.data.astype(np.float64)

    assert gradcheck(fn, [x, scale, offsets, const32, label]) is True
    assert len(seen) > 1
    assert all(k is scale and arr is offsets and c is const32 and s is label for k, arr, c, s in seen)
    assert x.data is x_data
    np.testing.assert_array_equal(x.data, x_values)
    np.testing.assert_array_equal(const32.data, const32_values)
    assert x.grad is None and const32.grad is None


# ---- gradcheck: negative controls ---------------------------------------------------------------------
def corrupted(vjp, factor):
    """``vjp`` with its result multiplied by ``factor`` (a number or an array shaped like the output)."""
    return lambda g, out, *inputs, **params: vjp(g, out, *inputs, **params) * factor


def corrupt_mul(monkeypatch, input_index, factor):
    vjps = list(rules.mul.vjps)
    vjps[input_index] = corrupted(vjps[input_index], factor)
    monkeypatch.setattr(rules.mul, "vjps", tuple(vjps))


A = np.array([[0.5, -1.2, 0.8], [1.9, -0.3, 0.6]])
B = np.array([[0.7, 1.1, -1.6], [0.2, -0.9, 1.3]])


def sum_and_transposed_product(a, b):
    """Output 0 is ``a + b`` (no mul); output 1 is ``(a * b).T``, shaped (3, 2)."""
    return a + b, (a * b).T


def product_jacobian(other):
    """d (a * b).T / d a when ``other`` is b (and vice versa), rows and columns flattened."""
    rows, cols = other.shape
    jac = np.zeros((other.size, other.size))
    for i in range(rows):
        for j in range(cols):
            out_flat = np.ravel_multi_index((j, i), (cols, rows))
            in_flat = np.ravel_multi_index((i, j), (rows, cols))
            jac[out_flat, in_flat] = other[i, j]
    return jac


def expected_failure(true_jac, wrong_jac, out_shape, in_shape):
    excess = np.abs(wrong_jac - true_jac) - (ATOL + RTOL * np.abs(true_jac))
    row, col = np.unravel_index(np.argmax(excess), excess.shape)
    out_el = tuple(int(v) for v in np.unravel_index(row, out_shape))
    in_el = tuple(int(v) for v in np.unravel_index(col, in_shape))
    return out_el, in_el, wrong_jac[row, col], true_jac[row, col], int((excess > 0).sum())


def assert_names_failure(error, input_index, output_index, out_el, in_el, analytical, numerical, bad=None):
    message = str(error)
    assert re.search(rf"\binput {input_index}\b", message), message
    assert re.search(rf"\boutput {output_index}\b", message), message
    assert str(out_el) in message and str(in_el) in message, message
    assert error.input_index == input_index
    assert error.output_index == output_index
    assert error.output_element == out_el
    assert error.input_element == in_el
    assert error.analytical == pytest.approx(analytical, rel=1e-6)
    assert error.numerical == pytest.approx(numerical, rel=1e-6)
    if bad is not None:  # "<bad> of <Jacobian size> elements": (a * b).T and each input have six elements
        assert re.search(rf"\b{bad} of 36\b", message), message


@pytest.mark.parametrize("input_index", [0, 1])
def test_gradcheck_names_the_worst_element_of_a_wrong_vjp(monkeypatch, input_index):
    inputs = (leaf(A), leaf(B))
    assert gradcheck(sum_and_transposed_product, inputs, atol=ATOL, rtol=RTOL)  # positive control
    corrupt_mul(monkeypatch, input_index, 3.0)

    with pytest.raises(GradcheckError) as info:
        gradcheck(sum_and_transposed_product, inputs, atol=ATOL, rtol=RTOL)

    true_jac = product_jacobian(B if input_index == 0 else A)
    out_el, in_el, analytical, numerical, bad = expected_failure(true_jac, 3.0 * true_jac, (3, 2), (2, 3))
    assert_names_failure(info.value, input_index, 1, out_el, in_el, analytical, numerical, bad)


@pytest.mark.parametrize("input_index", [0, 1])
def test_gradcheck_returns_false_instead_of_raising_when_asked(monkeypatch, input_index):
    inputs = (leaf(A), leaf(B))
    corrupt_mul(monkeypatch, input_index, 3.0)
    assert gradcheck(sum_and_transposed_product, inputs, raise_exception=False) is False


@pytest.mark.parametrize("input_index", [0, 1])
def test_gradcheck_finds_a_single_wrong_element(monkeypatch, input_index):
    mask = np.ones((2, 3))
    mask[1, 2] = 2.0  # only the gradient at element (1, 2) of a * b is wrong
    corrupt_mul(monkeypatch, input_index, mask)

    with pytest.raises(GradcheckError) as info:
        gradcheck(sum_and_transposed_product, (leaf(A), leaf(B)), atol=ATOL, rtol=RTOL)

    other = B if input_index == 0 else A
    # (a * b)[1, 2] is element (2, 1) of the transposed output
    assert_names_failure(info.value, input_index, 1, (2, 1), (1, 2), 2 * other[1, 2], other[1, 2], bad=1)


PRIMITIVE_USES = {  # primitive name: (a function using it, a point where it is smooth)
    "exp": (lambda x: x.exp().sum(), [0.5, -1.0]),
    "log": (lambda x: x.log(), [0.5, 2.0]),
    "tanh": (lambda x: (x.tanh() * x).sum(), [0.5, -1.0]),
    "sigmoid": (lambda x: x.sigmoid(), [0.5, -1.0]),
    "div": (lambda x: 1.0 / x, [0.5, 2.0]),
    "sum": (lambda x: (x.sum() * x).sum(), [0.5, 2.0]),
    "matmul": (lambda x: x @ x, [0.5, 2.0]),
    "getitem": (lambda x: x[1] * x, [0.5, 2.0]),
}


@pytest.mark.parametrize("name", PRIMITIVE_USES)
def test_gradcheck_catches_a_scaled_vjp_of_any_primitive(monkeypatch, name):
    fn, point = PRIMITIVE_USES[name]
    x = leaf(point)
    assert gradcheck(fn, x)
    prim = rules.PRIMITIVES[name]
    monkeypatch.setattr(prim, "vjps", tuple(corrupted(v, 1.5) for v in prim.vjps))
    with pytest.raises(GradcheckError):
        gradcheck(fn, x)


def test_gradcheck_rejects_a_non_finite_analytical_gradient(monkeypatch):
    corrupt_mul(monkeypatch, 0, np.nan)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a * b, (leaf([1.0, 2.0]), leaf([3.0, 4.0])))
    assert info.value.input_index == 0
    assert np.isnan(info.value.analytical)


def _sqrt_below_eps():
    # x - eps < 0, so the central difference takes the root of a negative number
    return (lambda t: t.sqrt()), leaf([1e-7])


def _nan_away_from_the_point():
    prim = rules.Primitive("nan_off_point", lambda a: np.where(a == 1.0, a, np.nan), lambda g, out, a: g)
    return prim, leaf([1.0])


@pytest.mark.parametrize("make", [_sqrt_below_eps, _nan_away_from_the_point], ids=["sqrt", "primitive"])
def test_gradcheck_fails_when_the_numerical_jacobian_is_nan(make):
    fn, x = make()
    with np.errstate(invalid="ignore"):
        assert gradcheck(fn, x, raise_exception=False) is False
