"""``gradcheck(fast_mode=True)`` and ``gradgradcheck``: they pass correct derivatives and catch wrong ones.

Negative controls replace a primitive's VJP with a wrong one. The expected
failing element and its values come from closed forms (tanh' = 1 - tanh^2,
tanh'' = -2 tanh (1 - tanh^2)), not from the checker.
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor, manual_seed, nn
from tinygrad_mnist.core import rules
from tinygrad_mnist.autograd import GradcheckError, gradcheck, gradgradcheck
from tinygrad_mnist.nn import functional as F

ATOL, RTOL = 1e-5, 1e-3
FLOATS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
SEEDS = st.integers(0, 2**32 - 1)
MATRICES = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=3), elements=FLOATS)
VECTORS = hnp.arrays(np.float64, st.integers(1, 4), elements=FLOATS)


def leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def tanh_prime(x):
    return 1 - np.tanh(x) ** 2


def tanh_second(x):
    t = np.tanh(x)
    return -2 * t * (1 - t**2)


def worst(numerical, analytical):
    """Index of the element gradcheck's rule |a - n| <= atol + rtol |n| violates most."""
    excess = np.abs(analytical - numerical) - (ATOL + RTOL * np.abs(numerical))
    return np.unravel_index(int(np.argmax(excess)), excess.shape)


# ---- wrong VJPs used as negative controls ------------------------------------------------------------
def tanh_vjp_wrong_at(element, shape):
    """tanh's VJP with the gradient of one element doubled."""
    scale = np.ones(shape)
    scale[element] = 2.0
    return lambda g, out, a: g * (1 - out * out) * scale


def tanh_vjp_detached_output(g, out, a):
    """Right value (first derivative), but out is cut from the graph: no second derivative in x."""
    return g * (1 - out.detach() * out.detach())


def tanh_vjp_detached_gradient(g, out, a):
    """Right value, but not differentiable in g: the derivative with respect to grad_outputs is lost."""
    return g.detach() * (1 - out * out)


# ---- gradcheck, fast mode: correct functions pass ----------------------------------------------------
FAST_FUNCTIONS = {
    "tanh-product": lambda x: (x * x.tanh()).sum(),
    "softmax": lambda x: x.softmax(axis=-1),
    "log_softmax-matmul": lambda x: (x @ x.T).log_softmax(-1),
    "exp-getitem": lambda x: x.exp()[0] * x.sum(axis=0),
    "sigmoid-outer": lambda x: x.sigmoid().reshape(-1, 1) * x.reshape(1, -1),
}


@pytest.mark.parametrize("fn", FAST_FUNCTIONS.values(), ids=FAST_FUNCTIONS.keys())
@given(arr=MATRICES, seed=SEEDS)
def test_fast_gradcheck_accepts_correct_functions(fn, arr, seed):
    assert gradcheck(fn, Tensor(arr, requires_grad=True), fast_mode=True, seed=seed) is True


@given(
    MATRICES.flatmap(
        lambda a: st.tuples(st.just(a), hnp.arrays(np.float64, a.shape[1:], elements=st.floats(0.5, 2.0)))
    ),
    SEEDS,
)
def test_fast_gradcheck_accepts_several_inputs_and_outputs(arrays, seed):
    a_arr, b_arr = arrays

    def fn(a, k, b):
        return (a * b).tanh() * k, a / (b * b + 1.0), (a @ b).exp(), Tensor(np.ones(2))

    inputs = (Tensor(a_arr, requires_grad=True), 3, Tensor(b_arr, requires_grad=True))
    assert gradcheck(fn, inputs, fast_mode=True, seed=seed) is True


# ---- gradcheck, fast mode: wrong VJPs are caught and the element is named ------------------------------
X = np.array([[0.3, -1.2, 0.8], [1.5, -0.4, 0.1]])


@pytest.mark.parametrize("element", [(0, 0), (1, 2), (0, 1)])
def test_fast_gradcheck_catches_one_wrong_element_and_names_it(monkeypatch, element):
    # Fast mode compares one random projection u^T J v, so an error confined to one entry
    # escapes when u and v happen to be nearly orthogonal to it: rare, but seed-dependent.
    # Over 20 seeds nearly all must catch it, and every catch must name the element.
    fn = lambda x: x.tanh() * 2.0  # noqa: E731
    seeds = range(20)
    assert all(gradcheck(fn, leaf(X), fast_mode=True, seed=seed) for seed in seeds)  # positive control
    monkeypatch.setattr(rules.tanh, "vjps", (tanh_vjp_wrong_at(element, X.shape),))

    caught = 0
    for seed in seeds:
        try:
            gradcheck(fn, leaf(X), fast_mode=True, seed=seed)
        except GradcheckError as error:
            caught += 1
            assert error.input_index == 0 and error.output_index == 0
            assert error.input_element == element and error.output_element == element
            assert error.analytical == pytest.approx(4 * tanh_prime(X[element]), rel=1e-9)
            assert error.numerical == pytest.approx(2 * tanh_prime(X[element]), rel=1e-6)
            message = str(error)
            assert str(element) in message and re.search(r"\binput 0\b", message), message
            assert re.search(r"\b1 of 36\b", message), message  # one bad entry of the 6 x 6 Jacobian
    assert caught >= 18, f"fast mode caught the wrong element with only {caught} of 20 seeds"


def test_fast_and_full_gradcheck_report_the_same_failure(monkeypatch):
    # every entry 1.5 times too large, entry (1, 1) 3 times: wrong in every direction, worst at (1, 1)
    scale = np.full(X.shape, 1.5)
    scale[1, 1] = 3.0
    monkeypatch.setattr(rules.tanh, "vjps", (lambda g, out, a: g * (1 - out * out) * scale,))
    fn = lambda x: x.tanh()  # noqa: E731
    errors = []
    for kwargs in ({}, {"fast_mode": True, "seed": 0}, {"fast_mode": True, "seed": 99}):
        with pytest.raises(GradcheckError) as info:
            gradcheck(fn, leaf(X), **kwargs)
        errors.append(info.value)
    for e in errors[1:]:
        assert (e.input_index, e.output_index, e.input_element, e.output_element) == (
            errors[0].input_index, errors[0].output_index, errors[0].input_element, errors[0].output_element)
        assert e.analytical == errors[0].analytical and e.numerical == pytest.approx(errors[0].numerical)
    assert errors[0].input_element == (1, 1) and errors[0].output_element == (1, 1)
    assert errors[0].analytical == pytest.approx(3 * tanh_prime(X[1, 1]), rel=1e-9)


def test_fast_gradcheck_names_the_input_and_output_that_fail(monkeypatch):
    # output 1 uses tanh of input 1 only; output 0 never touches tanh
    def fn(a, b):
        return a * 2.0, (b.tanh() * a.sum()).sum(axis=0)

    a, b = leaf([0.5, -0.25]), leaf(X)
    assert gradcheck(fn, (a, b), fast_mode=True)
    monkeypatch.setattr(rules.tanh, "vjps", (lambda g, out, x: g * (1 - out * out) * 1.5,))
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, (a, b), fast_mode=True)
    assert info.value.input_index == 1 and info.value.output_index == 1
    assert re.search(r"\boutput 1\b.*\binput 1\b", str(info.value)), str(info.value)


def test_fast_gradcheck_returns_false_when_asked(monkeypatch):
    monkeypatch.setattr(rules.tanh, "vjps", (tanh_vjp_wrong_at((0, 2), X.shape),))
    assert gradcheck(lambda x: x.tanh(), leaf(X), fast_mode=True, raise_exception=False) is False


@pytest.mark.parametrize("seed", range(5))
def test_fast_gradcheck_catches_a_wrong_vjp_with_every_seed(monkeypatch, seed):
    # a VJP that is wrong in every entry by a rotation of the true gradient
    def vjp(g, out, a):
        return (g * (1 - out * out)).reshape(-1)[np.roll(np.arange(g.numel()), 1)].reshape(g.shape)

    monkeypatch.setattr(rules.tanh, "vjps", (vjp,))
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: x.tanh(), leaf(X), fast_mode=True, seed=seed)


def test_fast_mode_compares_random_projections_that_depend_on_the_seed():
    # A VJP wrong by c in every entry of a 64 x 64 Jacobian that is really zero. Each entry is within
    # atol, so the full check passes; u^T E v = c (sum u)(sum v) exceeds atol only for some directions.
    c, n = 0.5 * ATOL, 64
    prim = rules.Primitive("zero_with_flat_error", lambda a: np.zeros_like(a),
                         lambda g, out, a: (g.sum() * c).broadcast_to(a.shape))
    x = leaf(np.linspace(-1.0, 1.0, n))
    assert gradcheck(prim, x, atol=ATOL, rtol=RTOL) is True
    verdicts = []
    for seed in range(40):
        try:
            verdicts.append(gradcheck(prim, x, atol=ATOL, rtol=RTOL, fast_mode=True, seed=seed))
        except GradcheckError as error:
            verdicts.append(False)
            # no single element is to blame: the error says so instead of naming one
            assert error.input_element == () and error.output_element == ()
            assert "fast mode" in str(error) and "within tolerance" in str(error)
            assert error.numerical == 0.0
            assert ATOL < abs(error.analytical) <= c * n + 1e-12  # |u^T E v| <= ||E||_2 = c n
    assert True in verdicts and False in verdicts, verdicts


# ---- gradgradcheck: smooth functions pass ------------------------------------------------------------
@given(VECTORS)
def test_gradgradcheck_accepts_tanh(arr):
    assert gradgradcheck(lambda x: x.tanh(), Tensor(arr, requires_grad=True))


@given(VECTORS)
def test_gradgradcheck_accepts_exp(arr):
    assert gradgradcheck(lambda x: x.exp() * x, Tensor(arr, requires_grad=True))


@given(
    hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3).flatmap(
        lambda b: st.tuples(*(hnp.arrays(np.float64, s, elements=FLOATS) for s in b.input_shapes))
    )
)
def test_gradgradcheck_accepts_mul_with_broadcasting(arrays):
    a, b = (Tensor(arr, requires_grad=True) for arr in arrays)
    assert gradgradcheck(lambda p, q: p * q, (a, b))


@given(
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).flatmap(
        lambda s: st.tuples(
            hnp.arrays(np.float64, s[:2], elements=FLOATS), hnp.arrays(np.float64, s[1:], elements=FLOATS)
        )
    )
)
def test_gradgradcheck_accepts_matmul(arrays):
    a, b = (Tensor(arr, requires_grad=True) for arr in arrays)
    assert gradgradcheck(lambda p, q: p @ q, (a, b))


@given(MATRICES)
def test_gradgradcheck_accepts_log_softmax(arr):
    assert gradgradcheck(lambda x: x.log_softmax(axis=-1), Tensor(arr, requires_grad=True))


def test_gradgradcheck_accepts_a_small_mlp_loss():
    manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3))
    params = model.parameters()
    for p in params:
        p.data = p.data.astype(np.float64)  # finite differences need float64
    rng = np.random.default_rng(0)
    inputs, targets = Tensor(rng.standard_normal((5, 3))), np.array([0, 2, 1, 1, 0])

    def loss(*weights):
        # gradgradcheck perturbs these very tensors' data, which the model reads
        assert all(w is p for w, p in zip(weights, params))
        return F.cross_entropy(model(inputs), targets)

    assert gradgradcheck(loss, params)
    assert gradgradcheck(loss, params, fast_mode=True, seed=3)


def test_gradgradcheck_with_explicit_grad_outputs():
    x_arr = np.array([0.3, -0.8, 1.1])
    v = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    assert gradgradcheck(lambda x: x.tanh(), leaf(x_arr), grad_outputs=[v])
    assert gradgradcheck(lambda x: (x.tanh(), x * x), leaf(x_arr),
                         grad_outputs=[v, Tensor(np.ones(3), requires_grad=True)])


def test_gradgradcheck_needs_one_grad_output_per_differentiable_output():
    with pytest.raises(ValueError, match="grad_outputs"):
        gradgradcheck(lambda x: (x.tanh(), x * x), leaf([0.5]), grad_outputs=[Tensor(np.ones(1))])


# ---- gradgradcheck: right first derivatives, wrong second ones --------------------------------------
X1 = np.array([0.3, -0.8, 1.1, 0.05])
V1 = np.array([1.0, -2.0, 0.5, 3.0])


@pytest.mark.parametrize("fast_mode", [False, True], ids=["full", "fast"])
def test_gradgradcheck_catches_a_vjp_that_is_only_right_to_first_order(monkeypatch, fast_mode):
    monkeypatch.setattr(rules.tanh, "vjps", (tanh_vjp_detached_output,))
    assert gradcheck(lambda x: x.tanh(), leaf(X1))  # the first derivative is right
    assert gradcheck(lambda x: x.tanh(), leaf(X1), fast_mode=True)

    v = Tensor(V1, requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(lambda x: x.tanh(), leaf(X1), grad_outputs=[v], fast_mode=fast_mode)
    error = info.value
    # d/dx [v (1 - tanh(x)^2)] = v tanh''(x) on the diagonal; the broken VJP says 0
    numerical = np.diag(V1 * tanh_second(X1))
    row, col = worst(numerical, np.zeros_like(numerical))
    assert (row, col) == (np.argmax(np.abs(V1 * tanh_second(X1))),) * 2
    assert error.output_element == (row,) and error.input_element == (col,)
    assert error.analytical == 0.0
    assert error.numerical == pytest.approx(V1[row] * tanh_second(X1[row]), rel=1e-5)
    message = str(error)
    assert message.startswith("gradgradcheck"), message
    expected = r"gradient with respect to input 0 has a wrong derivative with respect to input 0"
    assert re.search(expected, message), message
    assert f"({row},)" in message, message


def test_gradgradcheck_catches_a_vjp_not_differentiable_in_grad_outputs(monkeypatch):
    monkeypatch.setattr(rules.tanh, "vjps", (tanh_vjp_detached_gradient,))
    assert gradcheck(lambda x: x.tanh(), leaf(X1))

    with pytest.raises(GradcheckError) as info:
        gradgradcheck(lambda x: x.tanh(), leaf(X1), grad_outputs=[Tensor(V1, requires_grad=True)])
    error = info.value
    # d/dv [v (1 - tanh(x)^2)] = diag(1 - tanh(x)^2); the broken VJP says 0
    row = int(np.argmax(tanh_prime(X1)))
    assert error.output_element == (row,) and error.input_element == (row,)
    assert error.numerical == pytest.approx(tanh_prime(X1[row]), rel=1e-6)
    assert error.analytical == 0.0
    assert re.search(r"with respect to grad_outputs\[0\]", str(error)), str(error)


def test_gradgradcheck_names_the_input_around_a_non_differentiable_argument(monkeypatch):
    # fn(a, c, b) = a * b + c with c constant: the gradient for b is g * a, and its derivative in a
    # is lost when the VJP uses a.detach()
    a_arr, b_arr = np.array([0.5, -1.5, 2.0]), np.array([1.0, 0.25, -0.75])
    v = np.array([0.3, -1.2, 2.0])
    fn = lambda a, c, b: a * b + c  # noqa: E731
    inputs = (leaf(a_arr), Tensor(np.ones(3)), leaf(b_arr))
    assert gradgradcheck(fn, inputs, grad_outputs=[Tensor(v, requires_grad=True)])

    vjp_a, _ = rules.mul.vjps
    monkeypatch.setattr(rules.mul, "vjps", (vjp_a, lambda g, out, a, b: g * a.detach()))
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(fn, inputs, grad_outputs=[Tensor(v, requires_grad=True)])
    error = info.value
    assert re.search(r"gradient with respect to input 2 has a wrong derivative with respect to input 0",
                     str(error)), str(error)
    row = int(np.argmax(np.abs(v)))  # d(v * a)/da = diag(v)
    assert error.output_element == (row,) and error.input_element == (row,)
    assert error.numerical == pytest.approx(v[row], rel=1e-6) and error.analytical == 0.0


@pytest.mark.parametrize("fast_mode", [False, True], ids=["full", "fast"])
def test_gradgradcheck_returns_false_when_asked(monkeypatch, fast_mode):
    monkeypatch.setattr(rules.tanh, "vjps", (tanh_vjp_detached_output,))
    assert gradgradcheck(lambda x: x.tanh(), leaf(X1), raise_exception=False, fast_mode=fast_mode) is False


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fast_gradgradcheck_catches_the_second_order_bug_with_any_seed(monkeypatch, seed):
    fn = lambda x: (x.tanh() * x).sum()  # noqa: E731
    assert gradgradcheck(fn, leaf(X1), fast_mode=True, seed=seed)
    monkeypatch.setattr(rules.tanh, "vjps", (tanh_vjp_detached_output,))
    assert gradcheck(fn, leaf(X1), fast_mode=True, seed=seed)
    with pytest.raises(GradcheckError, match=r"^gradgradcheck.*input 0"):
        gradgradcheck(fn, leaf(X1), fast_mode=True, seed=seed)


def test_gradgradcheck_passes_a_linear_function():
    # the first derivative does not depend on x at all, only on the grad_outputs
    assert gradgradcheck(lambda x: x * 3.0 + 1.0, leaf([0.5, -1.0]))
    assert gradgradcheck(lambda x: x * 3.0 + 1.0, leaf([0.5, -1.0]), fast_mode=True)
