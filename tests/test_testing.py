"""The public testing helpers: strategies deliver what they promise, the gradient assertion
passes correct ops and catches wrong ones, and the guide's code runs."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from markdown_code import run_page

import tinygrad_mnist as tg
from tinygrad_mnist import Tensor
from tinygrad_mnist.core import rules
from tinygrad_mnist.autograd import GradcheckError, gradcheck
from tinygrad_mnist.testing import (
    arrays,
    assert_grads_close,
    broadcastable_shapes,
    elements,
    shapes,
    tensors,
)

ROOT = Path(__file__).resolve().parents[1]
DTYPES = st.sampled_from([np.float32, np.float64])
SMALL = shapes(max_dims=2, max_side=3)
FIND = settings(max_examples=2000, database=None, derandomize=True)  # find(): search long enough, the same way each run


# ---- shapes -----------------------------------------------------------------------------------
def dims_and_sides(data):
    min_dims = data.draw(st.integers(0, 3), label="min_dims")
    max_dims = data.draw(st.integers(min_dims, 4), label="max_dims")
    min_side = data.draw(st.integers(1, 3), label="min_side")
    max_side = data.draw(st.integers(min_side, 5), label="max_side")
    return dict(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def within(shape, bounds):
    return (bounds["min_dims"] <= len(shape) <= bounds["max_dims"]
            and all(bounds["min_side"] <= n <= bounds["max_side"] for n in shape))


@given(st.data())
def test_shapes_stay_within_bounds(data):
    bounds = dims_and_sides(data)
    shape = data.draw(shapes(**bounds), label="shape")
    assert isinstance(shape, tuple) and all(isinstance(n, int) for n in shape)
    assert within(shape, bounds)


@given(shapes())
def test_default_shapes(shape):
    assert len(shape) <= 4 and all(1 <= n <= 5 for n in shape)


def test_shapes_reach_0d_and_the_largest_rank():
    assert find(shapes(), lambda s: s == (), settings=FIND) == ()
    assert len(find(shapes(), lambda s: len(s) == 4 and max(s) == 5, settings=FIND)) == 4


@given(st.data())
def test_broadcastable_shapes_broadcast_together(data):
    bounds = dims_and_sides(data)
    n = data.draw(st.integers(1, 4), label="n")
    drawn = data.draw(broadcastable_shapes(n, **bounds), label="shapes")
    assert isinstance(drawn, tuple) and len(drawn) == n
    for shape in drawn:
        assert within(shape, bounds)
    result = np.broadcast_shapes(*drawn)  # raises if they do not broadcast
    assert len(result) == max(len(s) for s in drawn)


@pytest.mark.parametrize("description, condition", [
    ("a 0-d operand", lambda p: () in p and any(len(s) > 0 for s in p)),
    ("ranks differ and a 1 stretches, like (3, 1, 4) with (2, 4)",
     lambda p: len(p[0]) == 3 and len(p[1]) == 2 and p[0][1] == 1 and p[1][0] > 1),
    ("equal ranks, each stretching the other (an outer product)",
     lambda p: len(p[0]) == len(p[1]) and any(a == 1 < b for a, b in zip(*p)) and any(b == 1 < a for a, b in zip(*p))),
])
def test_broadcastable_shapes_cover_the_broadcasting_patterns(description, condition):
    pair = find(broadcastable_shapes(2), condition, settings=FIND)
    np.broadcast_shapes(*pair)


@pytest.mark.parametrize("n", [0, -1, 2.0])
def test_broadcastable_shapes_need_a_positive_count(n):
    with pytest.raises(ValueError, match="n must be a positive int"):
        broadcastable_shapes(n)


# ---- arrays: dtype, shape, bounds ---------------------------------------------------------------
@given(st.data())
def test_arrays_have_the_dtype_shape_and_bounds_asked_for(data):
    dtype = data.draw(DTYPES, label="dtype")
    low = data.draw(st.floats(-100, 100), label="low")
    high = low + data.draw(st.floats(0.01, 50), label="width")
    shape = data.draw(shapes(max_dims=3), label="shape")
    x = data.draw(arrays(shape, dtype, low=low, high=high), label="x")
    assert isinstance(x, np.ndarray)
    assert x.dtype == dtype and x.shape == shape
    assert np.isfinite(x).all()
    assert (x >= low).all() and (x <= high).all()


@given(arrays())
def test_default_arrays(x):
    assert x.dtype == np.float64
    assert x.ndim <= 4 and all(1 <= n <= 5 for n in x.shape)
    assert np.isfinite(x).all() and (np.abs(x) <= 10).all()


@pytest.mark.parametrize("shape, expected", [(3, (3,)), ((2, 1), (2, 1)), ((), ())])
def test_fixed_shapes(shape, expected):
    @settings(max_examples=5, database=None)
    @given(arrays(shape))
    def check(x):
        assert x.shape == expected

    check()


@given(arrays(st.just((4, 2)), np.float32))
def test_shape_strategy(x):
    assert x.shape == (4, 2) and x.dtype == np.float32


def test_dtype_given_as_string():
    assert find(arrays(2, "float32"), lambda x: True, settings=FIND).dtype == np.float32


def test_edges_of_the_bounds_are_drawn():
    assert find(elements(low=-3.0, high=2.0), lambda v: v == -3.0, settings=FIND) == -3.0
    assert find(elements(np.float32, low=-3.0, high=2.0), lambda v: v == 2.0, settings=FIND) == 2.0


def test_repeated_values_are_drawn_unless_unique():
    x = find(arrays(shapes(min_dims=1)), lambda a: a.size >= 2 and a.flat[0] == a.flat[1], settings=FIND)
    assert x.flat[0] == x.flat[1]


# ---- domain shifts: avoid, positive ---------------------------------------------------------------
@given(st.data())
def test_avoid_keeps_every_element_a_margin_away(data):
    dtype = data.draw(DTYPES, label="dtype")
    points = data.draw(st.lists(st.floats(-5, 5), max_size=3), label="avoid")
    margin = data.draw(st.floats(0.01, 1.0), label="margin")
    x = data.draw(arrays(SMALL, dtype, avoid=points, margin=margin), label="x")
    values = x.astype(np.float64).reshape(-1, 1)
    assert (np.abs(values - np.array(points).reshape(1, -1)) >= margin).all()
    assert (np.abs(values) <= 10).all()


@given(elements(np.float32, avoid=[0.1, 0.3, -3.0], margin=0.1))
def test_avoid_in_float32_holds_in_float64_arithmetic(v):
    # 0.1 + 0.1 and 0.3 - 0.1 are not float32 numbers: the domain's ends are rounded inwards
    assert isinstance(v, float) and v == float(np.float32(v))
    assert all(abs(v - p) >= 0.1 for p in (0.1, 0.3, -3.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avoid_does_not_cut_more_than_the_margin(dtype):
    # values right at the edge of each gap are drawn: hypothesis looks at the ends of every range
    strategy = elements(dtype, avoid=[0.0, 2.0], margin=0.25)
    for edge in (-0.25, 0.25, 1.75, 2.25):
        found = find(strategy, lambda v: abs(v - edge) < 1e-6, settings=FIND)
        assert min(abs(found), abs(found - 2.0)) >= 0.25


def test_avoid_accepts_one_number():
    @settings(max_examples=30, database=None)
    @given(arrays(SMALL, avoid=0.0))
    def check(x):
        assert (np.abs(x) >= 0.1).all()

    check()


@given(st.data())
def test_positive_keeps_elements_a_margin_above_zero(data):
    dtype = data.draw(DTYPES, label="dtype")
    margin = data.draw(st.floats(0.001, 1.0), label="margin")
    low = data.draw(st.floats(-5.0, 2.0), label="low")
    x = data.draw(arrays(SMALL, dtype, positive=True, margin=margin, low=low), label="x")
    assert (x > 0).all()
    assert (x.astype(np.float64) >= max(margin, low)).all() and (x <= 10).all()


@given(tensors(SMALL, np.float32, positive=True))
def test_positive_tensors_are_in_the_domain_of_log(x):
    assert (x.data >= 0.1).all()
    assert np.isfinite(x.log().data).all()


# ---- unique -------------------------------------------------------------------------------------
@given(st.data())
def test_unique_elements_are_distinct_and_gap_apart(data):
    dtype = data.draw(DTYPES, label="dtype")
    gap = data.draw(st.sampled_from([1e-3, 0.01, 0.3]), label="gap")
    avoid = data.draw(st.sampled_from([None, [0.0], [-1.0, 1.0]]), label="avoid")
    x = data.draw(arrays(shapes(max_dims=3, max_side=4), dtype, unique=True, gap=gap, avoid=avoid), label="x")
    assert x.dtype == dtype and np.isfinite(x).all() and (np.abs(x) <= 10).all()
    flat = np.sort(x.astype(np.float64), axis=None)
    assert len(np.unique(flat)) == x.size
    assert (np.diff(flat) >= gap).all()
    for p in avoid or []:
        assert (np.abs(flat - p) >= 0.1).all()


def test_unique_shapes_are_limited_to_what_the_domain_holds():
    @settings(max_examples=30, database=None, suppress_health_check=[HealthCheck.filter_too_much])
    @given(arrays(shapes(min_dims=1, max_dims=1), low=0.0, high=0.5, unique=True, gap=0.25))
    def check(x):
        assert x.size <= 3  # 0, 0.25 and 0.5 are all there is
        assert len(set(x.tolist())) == x.size

    check()
    with pytest.raises(ValueError, match="needs 4 distinct values"):
        arrays((2, 2), low=0.0, high=0.5, unique=True, gap=0.25)


# ---- invalid arguments --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    (dict(low=1.0, high=-1.0), "must not exceed"),
    (dict(low=float("nan")), "must be a finite"),
    (dict(high=float("inf")), "must be a finite"),
    (dict(dtype=np.float32, high=1e39), "must be a finite float32"),
    (dict(margin=0.0), "margin"),
    (dict(margin=-1.0), "margin"),
    (dict(avoid=[float("inf")]), "avoid"),
    (dict(low=-1.0, high=1.0, avoid=[0.0], margin=1.5), "no float64 value lies"),
    (dict(high=0.05, positive=True), "no float64 value lies"),
    (dict(dtype=np.int64), "float32 or float64"),
    (dict(dtype=np.float16), "float32 or float64"),
    (dict(dtype="not a dtype"), "float32 or float64"),
    (dict(unique=True, gap=0.0), "gap"),
    (dict(unique=True, low=0.1, high=0.2, gap=1.0), "no multiple"),
])
def test_invalid_arguments_are_refused_at_once(kwargs, message):
    with pytest.raises(ValueError, match=message):
        arrays((2,), **kwargs)


# ---- tensors ------------------------------------------------------------------------------------
@given(st.data())
def test_tensors_wrap_new_leaves(data):
    dtype = data.draw(DTYPES, label="dtype")
    requires_grad = data.draw(st.booleans(), label="requires_grad")
    x = data.draw(tensors(SMALL, dtype, requires_grad=requires_grad, avoid=[0.0]), label="x")
    assert isinstance(x, Tensor)
    assert x.dtype == dtype and x.requires_grad is requires_grad and x.is_leaf and x.grad is None
    assert (np.abs(x.data) >= 0.1).all() and (np.abs(x.data) <= 10).all()


# ---- assert_grads_close on correct functions -----------------------------------------------------
CORRECT = {
    "exp": (Tensor.exp, [arrays(SMALL, low=-3, high=3)]),
    "tanh": (Tensor.tanh, [arrays(SMALL)]),
    "sigmoid": (Tensor.sigmoid, [arrays(SMALL)]),
    "log": (Tensor.log, [arrays(SMALL, positive=True)]),
    "sqrt": (Tensor.sqrt, [arrays(SMALL, positive=True)]),
    "reciprocal": (lambda x: 1 / x, [arrays(SMALL, avoid=[0.0])]),
    "relu": (Tensor.relu, [arrays(SMALL, avoid=[0.0])]),
    "abs": (Tensor.abs, [arrays(SMALL, avoid=[0.0])]),
    "clip": (lambda x: x.clip(-1.0, 2.0), [arrays(SMALL, avoid=[-1.0, 2.0])]),
    "max": (lambda x: x.amax(dim=-1), [arrays(shapes(1, 2, max_side=3), unique=True)]),
    "softmax": (lambda x: x.softmax(axis=-1), [arrays(shapes(1, 2, max_side=3))]),
    "logsumexp": (lambda x: x.logsumexp(tuple(range(x.ndim))), [arrays(SMALL)]),
    "mul": (lambda a, b: a * b, "broadcast"),
    "div": (lambda a, b: a / b, "broadcast"),
    "matmul": (lambda a, b: a @ b, [arrays((2, 3)), arrays((3,))]),
}


@pytest.mark.parametrize("name", list(CORRECT))
@given(data=st.data())
def test_correct_gradients_pass(name, data):
    fn, inputs = CORRECT[name]
    if inputs == "broadcast":
        first, second = data.draw(broadcastable_shapes(2, max_dims=3, max_side=3), label="shapes")
        inputs = [arrays(first), arrays(second, avoid=[0.0])]
    values = [data.draw(strategy, label=f"input {i}") for i, strategy in enumerate(inputs)]
    assert assert_grads_close(fn, *values) is None


# ---- assert_grads_close on wrong gradients -------------------------------------------------------
def wrong_tanh_vjp(g, out, a):
    return g * out  # the derivative of tanh is 1 - tanh², not tanh


def worst_element(analytical, numerical, atol=1e-5, rtol=1e-3):
    excess = np.abs(analytical - numerical) - (atol + rtol * np.abs(numerical))
    return tuple(int(i) for i in np.unravel_index(np.argmax(excess), excess.shape))


def test_wrong_vjp_is_caught_and_the_worst_element_named_with_tolerances(monkeypatch):
    monkeypatch.setattr(rules.tanh, "vjps", (wrong_tanh_vjp,))
    x = np.array([0.1, 0.5, -1.2, 3.0])
    with pytest.raises(AssertionError) as caught:
        assert_grads_close(Tensor.tanh, x, atol=1e-5)
    error = caught.value
    assert isinstance(error, GradcheckError)
    t = np.tanh(x)
    k = worst_element(np.diag(t), np.diag(1 - t * t))[1]
    assert k == 2  # |tanh - (1 - tanh²)| is largest at -1.2
    assert error.input_index == 0 and error.output_index == 0
    assert error.input_element == (k,) and error.output_element == (k,)
    assert error.analytical == pytest.approx(t[k]) and error.numerical == pytest.approx(1 - t[k] ** 2, rel=1e-6)
    message = str(error)
    assert "with respect to input 0" in message and "output 0" in message
    assert f"input element ({k},)" in message and f"output element ({k},)" in message


def test_wrong_vjp_is_caught_by_default_with_the_element_named(monkeypatch):
    monkeypatch.setattr(rules.tanh, "vjps", (wrong_tanh_vjp,))
    x = np.array([0.1, 0.5, -1.2, 3.0])
    with pytest.raises(AssertionError) as caught:
        assert_grads_close(Tensor.tanh, x)
    error = caught.value
    assert isinstance(error, GradcheckError)
    (k,) = error.input_element
    assert error.output_element == (k,) and error.input_index == 0 and error.output_index == 0
    t = np.tanh(x[k])
    assert error.analytical == pytest.approx(t) and error.numerical == pytest.approx(1 - t * t, rel=1e-9)
    assert str(error).startswith("check_gradients:") and f"input 0 element ({k},)" in str(error)


def test_the_default_check_sees_an_error_the_tolerances_let_through(monkeypatch):
    monkeypatch.setattr(rules.tanh, "vjps", (lambda g, out, a: g * (1 - out * out) * (1 + 1e-6),))
    x = np.array([0.1, 0.5, -1.2])
    assert_grads_close(Tensor.tanh, x, rtol=1e-3)  # PyTorch's tolerances: one part in a million passes
    with pytest.raises(GradcheckError, match="outside their error bound"):
        assert_grads_close(Tensor.tanh, x)


def test_kinks_are_skipped_by_default_but_something_must_be_checked():
    assert_grads_close(lambda t: t.relu(), np.array([0.0, 1.0]))  # element 0 skipped, element 1 checked
    with pytest.raises(GradcheckError, match="no derivative could be checked; 1 skipped, first: non-differentiable"):
        assert_grads_close(lambda t: t.relu(), np.array(0.0))
    with pytest.raises(GradcheckError, match="analytical 0, numerical 0.5"):  # fixed tolerances judge the kink
        assert_grads_close(lambda t: t.relu(), np.array(0.0), atol=1e-5)


@given(arrays(SMALL, low=-2.0, high=2.0))
def test_a_wrong_vjp_is_caught_on_every_drawn_input(x):
    # doubling the derivative: a difference of at least 2 * (1 - tanh(2)²) > 0.1 everywhere in [-2, 2]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rules.tanh, "vjps", (lambda g, out, a: 2 * g * (1 - out * out),))
        with pytest.raises(GradcheckError, match="input 0 element"):
            assert_grads_close(Tensor.tanh, x)


def test_the_failing_input_is_named(monkeypatch):
    right_for_a, _ = rules.mul.vjps
    monkeypatch.setattr(rules.mul, "vjps", (right_for_a, lambda g, out, a, b: g * b))  # should be g * a
    with pytest.raises(GradcheckError, match="input 1 element") as caught:
        assert_grads_close(lambda a, b: a * b, np.array([1.0, 2.0]), np.array([[3.0], [-0.5]]))
    assert caught.value.input_index == 1


def test_the_failing_output_is_named(monkeypatch):
    monkeypatch.setattr(rules.tanh, "vjps", (wrong_tanh_vjp,))
    with pytest.raises(GradcheckError, match=r"\(output 1 element") as caught:
        assert_grads_close(lambda x: (x.exp(), x.tanh()), np.array([0.2, -0.4]))
    assert caught.value.output_index == 1


def test_tolerances_and_step_are_passed_on(monkeypatch):
    cube = np.array([1.0, -2.0])
    assert_grads_close(lambda x: x ** 3, cube)
    with pytest.raises(GradcheckError):  # the central difference is off by eps² = 0.25 for x³
        assert_grads_close(lambda x: x ** 3, cube, eps=0.5)
    assert_grads_close(lambda x: x ** 3, cube, eps=0.5, atol=0.3)

    monkeypatch.setattr(rules.exp, "vjps", (lambda g, out, a: 1.01 * g * out,))  # 1 % too large
    x = np.array([0.3, 1.1])
    with pytest.raises(GradcheckError):
        assert_grads_close(Tensor.exp, x)
    assert_grads_close(Tensor.exp, x, rtol=0.05)


# ---- assert_grads_close: what it accepts -------------------------------------------------------------
def test_float32_inputs_are_checked_in_float64():
    x32 = np.array([[0.5, -1.5], [2.0, 0.25]], dtype=np.float32)
    before = x32.copy()
    with pytest.raises(TypeError, match="float64"):  # the checker itself refuses float32
        gradcheck(Tensor.tanh, Tensor(x32, requires_grad=True))

    seen = []

    def fn(t):
        seen.append(t.dtype)
        return t.tanh()

    assert_grads_close(fn, x32)
    assert set(seen) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(x32, before)
    assert x32.dtype == np.float32


@given(arrays(SMALL, np.float32))
def test_float32_arrays_pass_when_the_gradient_is_right(x):
    assert_grads_close(lambda t: (t * t.sigmoid()).sum(), x)


def test_float32_input_still_fails_on_a_wrong_gradient(monkeypatch):
    monkeypatch.setattr(rules.tanh, "vjps", (wrong_tanh_vjp,))
    with pytest.raises(GradcheckError):
        assert_grads_close(Tensor.tanh, np.array([0.1, 2.0], dtype=np.float32))


def test_tensor_inputs_are_copied_not_touched():
    x = Tensor(np.array([0.3, -0.8], dtype=np.float32))
    w = Tensor(np.array([1.5, 2.0]), requires_grad=True)
    before = x.data.copy()
    assert_grads_close(lambda a, b: (a * b).exp(), x, w)
    assert x.grad is None and not x.requires_grad and w.grad is None
    np.testing.assert_array_equal(x.data, before)


def test_other_inputs_reach_fn_unchanged():
    mask = np.array([True, False, True])
    received = []

    def fn(x, cond, scale, index):
        received.append((cond, scale, index))
        return tg.where(cond, x * scale, x.exp())[index]

    assert_grads_close(fn, np.array([0.5, -1.0, 2.0]), mask, 3, np.array([2, 0]))
    assert all(cond is mask and scale == 3 for cond, scale, _ in received)


def test_numpy_scalars_are_checked():
    assert_grads_close(lambda x: x.exp() * x, np.float64(0.7))
    assert_grads_close(lambda x: x.exp() * x, np.float32(0.7))


def test_an_input_to_check_is_required():
    with pytest.raises(ValueError, match="no floating-point Tensor or numpy array"):
        assert_grads_close(lambda x: x, [1.0, 2.0])
    with pytest.raises(ValueError, match="no floating-point"):
        assert_grads_close(lambda x: Tensor(x * 2.0), np.arange(3))


# ---- the package does not need hypothesis ------------------------------------------------------
def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_importing_the_package_does_not_import_hypothesis():
    result = run_python(
        "import sys, tinygrad_mnist, tinygrad_mnist.autograd, tinygrad_mnist.nn, tinygrad_mnist.core.rules\n"
        "print('hypothesis' in sys.modules)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_testing_module_says_how_to_get_hypothesis():
    result = run_python(
        "import sys\n"
        "sys.modules['hypothesis'] = None  # as if it were not installed\n"
        "import tinygrad_mnist.testing"
    )
    assert result.returncode != 0
    assert "ImportError: tinygrad_mnist.testing needs hypothesis" in result.stderr
    assert "pip install hypothesis" in result.stderr


# ---- the guide runs ------------------------------------------------------------------------------
GUIDE = ROOT / "docs" / "testing.md"
GUIDE_TESTS = {
    "test_softplus_matches_numpy",
    "test_softplus_keeps_float32",
    "test_softplus_gradient",
    "test_soft_threshold",
    "test_x_log_x",
    "test_max_over_rows",
    "test_hypot_broadcasts",
}


def guide_namespace():
    """Run every python block of the guide in page order, as a reader would, in one namespace."""
    return run_page(GUIDE, "testing_guide")


@pytest.fixture(scope="module")
def guide():
    return guide_namespace()


def test_the_guide_defines_its_tests(guide):
    assert {name for name in guide if name.startswith("test_")} == GUIDE_TESTS


@pytest.mark.parametrize("name", sorted(GUIDE_TESTS))
def test_the_guides_tests_pass(guide, name):
    guide[name]()


def test_the_guides_gradient_test_catches_softplus_written_with_relu():
    guide = guide_namespace()  # a fresh copy: softplus is replaced in it
    guide["softplus"] = lambda x: x.relu() + (1 + (-x.abs()).exp()).log()
    test = settings(database=None)(guide["test_softplus_gradient"])
    with pytest.raises(GradcheckError) as caught:
        test()
    # the only input where this version is wrong is 0, where relu's slope is taken as 0
    assert caught.value.analytical == 0.0
    assert caught.value.numerical == pytest.approx(0.5)
