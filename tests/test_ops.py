"""Every op against independent oracles.

* values against numpy, called directly on the arrays;
* first derivatives against central finite differences (``gradcheck``, float64);
* second derivatives (``create_graph=True``) against finite differences of the
  first-derivative map;
* float32 in, float32 out (values and gradients);
* softmax, log_softmax and logsumexp on logits of +-1e4.

Each op is one row of a table; the tests are parametrized over the table.
"""

import operator
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mnist as tg
from tinygrad_mnist import Tensor, autograd, testing
from tinygrad_mnist.autograd import gradcheck

# ---- shapes (0-d included unless said otherwise) and element domains ------------------------
SHAPES = testing.shapes(max_dims=3, max_side=4)
NONSCALAR_SHAPES = testing.shapes(min_dims=1, max_dims=3, max_side=4)
SMALL_SHAPES = testing.shapes(max_dims=2, max_side=3)
SMALL_NONSCALAR_SHAPES = testing.shapes(min_dims=1, max_dims=2, max_side=3)

# Element domains keep finite differences meaningful: away from poles (log, division),
# from kinks (relu, abs, maximum, clip, max) and from ties (max, maximum).
ANY = testing.elements(low=-2.0, high=2.0)
POSITIVE = testing.elements(low=0.5, high=3.0)  # log, sqrt, pow bases
NONZERO = testing.elements(low=-2.0, high=2.0, avoid=0.0, margin=0.5)  # denominators: |b| >= 0.5
# Odd multiples of 0.1: never 0 (relu, abs), never an even multiple of 0.1 such as the
# clip bounds or scalar thresholds the tests use, and distinct values are >= 0.2 apart.
ODD_TENTHS = testing.grid(0.2, offset=0.1, low=-7.9, high=7.9)
# Even multiples of 0.1: always at least 0.1 away from any ODD_TENTHS value (maximum).
EVEN_TENTHS = testing.grid(0.2, low=-8.0, high=7.8)


def one_array(shapes, values, unique=False):
    """1-tuples of arrays (the ``arrays`` of a :class:`Case`), shaped by ``shapes``."""
    return testing.operands(shapes.map(lambda s: (s,)), values, unique=unique)


# ---- numpy oracles for the composites ---------------------------------------------------
def np_logsumexp(a, axis=None, keepdims=False):
    top = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def np_softmax(a, axis=-1):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_log_softmax(a, axis=-1):
    return a - np_logsumexp(a, axis=axis, keepdims=True)


def np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# ---- the table --------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """``fn(*tensors, **params)`` should equal ``oracle(*arrays, **params)``.

    ``inputs`` draws ``(arrays, params)``: a tuple of float64 arrays and keyword parameters.
    """

    name: str
    fn: Callable
    oracle: Callable
    inputs: st.SearchStrategy

    def __repr__(self):  # keeps hypothesis' falsifying-example reports short
        return f"Case({self.name!r})"


def plain(arrays):
    return arrays.map(lambda arrs: (arrs, {}))


def with_params(arrays, params_for):
    """Draw arrays, then parameters that depend on them (an axis needs the rank)."""
    return arrays.flatmap(lambda arrs: params_for(*arrs).map(lambda params: (arrs, params)))


def unary(values, shapes=SHAPES):
    return one_array(shapes, values)


CASES = []


def add_cases(prefix, rows):
    for name, fn, oracle, inputs in rows:
        case_id = f"{prefix}{name}"
        CASES.append(pytest.param(Case(case_id, fn, oracle, inputs), id=case_id))


# elementwise with one tensor (and sometimes a Python number)
add_cases("", [
    ("neg", operator.neg, np.negative, plain(unary(ANY))),
    ("exp", Tensor.exp, np.exp, plain(unary(ANY))),
    ("log", Tensor.log, np.log, plain(unary(POSITIVE))),
    ("sqrt", Tensor.sqrt, np.sqrt, plain(unary(POSITIVE))),
    ("tanh", Tensor.tanh, np.tanh, plain(unary(ANY))),
    ("sigmoid", Tensor.sigmoid, np_sigmoid, plain(unary(ANY))),
    ("relu", Tensor.relu, lambda a: np.where(a > 0, a, 0.0), plain(unary(ODD_TENTHS))),
    ("abs", Tensor.abs, np.abs, plain(unary(ODD_TENTHS))),
    ("x+2", lambda x: x + 2, lambda a: a + 2, plain(unary(ANY))),
    ("2+x", lambda x: 2 + x, lambda a: 2 + a, plain(unary(ANY))),
    ("x-2", lambda x: x - 2, lambda a: a - 2, plain(unary(ANY))),
    ("2-x", lambda x: 2 - x, lambda a: 2 - a, plain(unary(ANY))),
    ("x*3", lambda x: x * 3, lambda a: a * 3, plain(unary(ANY))),
    ("3*x", lambda x: 3 * x, lambda a: 3 * a, plain(unary(ANY))),
    ("x/4", lambda x: x / 4, lambda a: a / 4, plain(unary(ANY))),
    ("2/x", lambda x: 2 / x, lambda a: 2 / a, plain(unary(NONZERO))),
    ("x**3", lambda x: x ** 3, lambda a: a ** 3, plain(unary(ANY))),
    ("x**1.5", lambda x: x ** 1.5, lambda a: a ** 1.5, plain(unary(POSITIVE))),
    ("x**-2", lambda x: x ** -2, lambda a: a ** -2.0, plain(unary(NONZERO))),
    ("2**x", lambda x: 2 ** x, lambda a: 2.0 ** a, plain(unary(ANY))),
    ("clip", lambda x: x.clip(-0.4, 0.4), lambda a: np.clip(a, -0.4, 0.4), plain(unary(ODD_TENTHS))),
    ("clip_min", lambda x: x.clip(min=-0.4), lambda a: np.maximum(a, -0.4), plain(unary(ODD_TENTHS))),
    ("clip_max", lambda x: x.clip(max=0.4), lambda a: np.minimum(a, 0.4), plain(unary(ODD_TENTHS))),
    ("maximum_number", lambda x: x.maximum(0.2), lambda a: np.maximum(a, 0.2), plain(unary(ODD_TENTHS))),
    ("tg.maximum_number_first", lambda x: tg.maximum(0.2, x), lambda a: np.maximum(0.2, a),
     plain(unary(ODD_TENTHS))),
    ("minimum_number", lambda x: x.minimum(-0.2), lambda a: np.minimum(a, -0.2), plain(unary(ODD_TENTHS))),
])

# elementwise with two broadcasting tensors; each op on generated shape pairs and on two fixed ones
BINARY = [
    ("add", operator.add, np.add, (ANY, ANY)),
    ("sub", operator.sub, np.subtract, (ANY, ANY)),
    ("mul", operator.mul, np.multiply, (ANY, ANY)),
    ("div", operator.truediv, np.divide, (ANY, NONZERO)),
    ("pow", operator.pow, np.power, (POSITIVE, ANY)),
    ("maximum", Tensor.maximum, np.maximum, (ODD_TENTHS, EVEN_TENTHS)),
    ("tg.maximum", tg.maximum, np.maximum, (ODD_TENTHS, EVEN_TENTHS)),
    ("minimum", Tensor.minimum, np.minimum, (ODD_TENTHS, EVEN_TENTHS)),
]
BINARY_SHAPES = {
    "broadcast": testing.broadcastable_shapes(2, max_dims=3, max_side=4),
    "(3,1,4)&(2,4)": st.just(((3, 1, 4), (2, 4))),
    "()&(2,3)": st.just(((), (2, 3))),
}
for shape_id, shapes in BINARY_SHAPES.items():
    add_cases(f"{shape_id}-", [
        (name, fn, oracle, plain(testing.operands(shapes, *values))) for name, fn, oracle, values in BINARY
    ])


# where: a boolean condition (a parameter) broadcasting with both branches
def where_inputs(n_tensors):
    def build(shapes):
        cond_shape, *tensor_shapes = shapes
        arrays = st.tuples(*(testing.arrays(s, elements=ANY) for s in tensor_shapes[:n_tensors]))
        conds = hnp.arrays(np.bool_, cond_shape)
        return st.tuples(arrays, conds.map(lambda c: {"cond": c}))
    return testing.broadcastable_shapes(1 + n_tensors, max_dims=3, max_side=4).flatmap(build)


add_cases("", [
    ("where", lambda x, y, cond: tg.where(cond, x, y), lambda a, b, cond: np.where(cond, a, b),
     where_inputs(2)),
    ("where_number", lambda x, cond: tg.where(cond, x, 0.5), lambda a, cond: np.where(cond, a, 0.5),
     where_inputs(1)),
    ("where_method", lambda x, y, cond: x.where(cond, y), lambda a, b, cond: np.where(cond, a, b),
     where_inputs(2)),
])


# reductions: axis None / int / negative int / tuple, keepdims drawn
def axis_strategy(kind, ndim):
    return {
        "None": lambda: st.just(None),
        "int": lambda: st.integers(0, ndim - 1),
        "neg": lambda: st.integers(-ndim, -1),
        "tuple": lambda: hnp.valid_tuple_axes(ndim, min_size=1),
    }[kind]()


def reduction_inputs(kind, values, unique, shapes):
    return with_params(one_array(shapes, values, unique=unique), lambda a: st.fixed_dictionaries(
        {"axis": axis_strategy(kind, a.ndim), "keepdims": st.booleans()}))


REDUCTIONS = [
    # name, method, numpy, elements, distinct values, 0-d allowed with axis=None
    ("sum", Tensor.sum, np.sum, ANY, False, True),
    ("mean", Tensor.mean, np.mean, ANY, False, True),
    ("max", Tensor.amax, np.max, ODD_TENTHS, True, True),
    ("min", Tensor.amin, np.min, ODD_TENTHS, True, True),
    ("logsumexp", lambda x, axis, keepdims: x.logsumexp(tuple(range(x.ndim)) if axis is None else axis, keepdims),
     np_logsumexp, ANY, False, True),
]
for kind in ("None", "int", "neg", "tuple"):
    add_cases(f"axis={kind}-", [
        (name, fn, oracle, reduction_inputs(
            kind, values, unique, SHAPES if kind == "None" and scalar_ok else NONSCALAR_SHAPES))
        for name, fn, oracle, values, unique, scalar_ok in REDUCTIONS
    ])


def softmax_inputs(values=testing.elements(low=-5.0, high=5.0)):
    return with_params(unary(values, NONSCALAR_SHAPES),
                       lambda a: st.fixed_dictionaries({"axis": st.integers(-a.ndim, a.ndim - 1)}))


add_cases("", [
    ("softmax", Tensor.softmax, np_softmax, softmax_inputs()),
    ("log_softmax", Tensor.log_softmax, np_log_softmax, softmax_inputs()),
])


# shape ops
def reshape_targets(a):
    s, n = a.shape, a.size
    candidates = [(-1,), (n,), (1, -1), s[::-1], (*s, 1), (1, *s)]
    if a.ndim >= 2:
        candidates += [(s[0], -1), (-1, s[-1]), (s[0], -1, 1)]
    return st.sampled_from(candidates).map(lambda t: {"shape": t})


def permutations(a):
    return st.permutations(range(a.ndim)).map(lambda p: {"axes": tuple(p)})


def swap_axes(a):
    axis = st.integers(-a.ndim, a.ndim - 1)
    return st.fixed_dictionaries({"axis1": axis, "axis2": axis})


def broadcast_to_inputs():
    def build(pair):
        target = np.broadcast_shapes(*pair)
        return st.tuples(testing.arrays(pair[0], elements=ANY)).map(lambda arrs: (arrs, {"shape": target}))
    return testing.broadcastable_shapes(2, max_dims=3, max_side=4).flatmap(build)


add_cases("", [
    ("reshape", lambda x, shape: x.reshape(*shape), lambda a, shape: a.reshape(shape),
     with_params(unary(ANY), reshape_targets)),
    ("reshape_tuple", lambda x, shape: x.reshape(shape), lambda a, shape: a.reshape(shape),
     with_params(unary(ANY), reshape_targets)),
    ("permute_reversed", lambda x: x.permute(*reversed(range(x.ndim))), np.transpose, plain(unary(ANY))),
    ("permute", lambda x, axes: x.permute(*axes), lambda a, axes: np.transpose(a, axes),
     with_params(unary(ANY), permutations)),
    ("permute_tuple", lambda x, axes: x.permute(axes), lambda a, axes: np.transpose(a, axes),
     with_params(unary(ANY), permutations)),
    (".T", lambda x: x.T, lambda a: a.T, plain(unary(ANY))),
    ("swapaxes", Tensor.swapaxes, np.swapaxes, with_params(unary(ANY, NONSCALAR_SHAPES), swap_axes)),
    ("broadcast_to", Tensor.broadcast_to, np.broadcast_to, broadcast_to_inputs()),
])


# indexing: the index is a parameter
def take(x, index):
    return x[index]


def index_inputs(shapes, index_for):
    return with_params(unary(ANY, shapes), lambda a: index_for(a).map(lambda i: {"index": i}))


MIXED_INDICES = [
    (slice(None), [2, 0, 2]),
    ([1, 1, 0], Ellipsis, None),
    (np.array([[0, 2], [1, 1]]), slice(None, None, -1)),
    (Ellipsis, np.array([1, 0, 1])),
    (np.array([True, False, True]), 1),
    (-1, slice(3, 0, -2), None, np.array([0, 0])),
    [2, -1, 2],
]

add_cases("getitem-", [
    ("basic", take, take, index_inputs(
        SHAPES, lambda a: hnp.basic_indices(a.shape, allow_newaxis=True, allow_ellipsis=True))),
    ("integer_arrays", take, take, index_inputs(
        NONSCALAR_SHAPES, lambda a: hnp.integer_array_indices(
            a.shape, result_shape=testing.shapes(min_dims=1, max_dims=2, max_side=4)))),
    ("bool_mask", take, take, index_inputs(
        NONSCALAR_SHAPES, lambda a: hnp.arrays(np.bool_, a.shape))),
    ("bool_mask_first_axis", take, take, index_inputs(
        NONSCALAR_SHAPES, lambda a: hnp.arrays(np.bool_, a.shape[:1]))),
    ("list", lambda x, index: x[list(index)], lambda a, index: a[list(index)], index_inputs(
        NONSCALAR_SHAPES, lambda a: st.lists(
            st.integers(-len(a), len(a) - 1), min_size=1, max_size=5).map(tuple))),
    ("mixed", take, take, index_inputs(
        st.just((3, 4, 2)), lambda a: st.sampled_from(MIXED_INDICES))),
])


# matmul: every rank combination numpy allows, fixed and generated
MATMUL_SHAPES = testing.matmul_shapes(max_batch_dims=2, max_side=3)
MATMUL_SHAPE_PAIRS = {
    "1d@1d": ((3,), (3,)),
    "1d@2d": ((3,), (3, 2)),
    "2d@1d": ((2, 3), (3,)),
    "2d@2d": ((2, 3), (3, 4)),
    "3d@3d": ((2, 2, 3), (2, 3, 4)),
    "4d@3d_broadcast_batch": ((2, 1, 3, 4), (5, 4, 2)),
    "3d@2d": ((2, 2, 3), (3, 4)),
    "2d@3d": ((2, 3), (2, 3, 4)),
    "1d@3d": ((3,), (2, 3, 4)),
    "3d@1d": ((2, 4, 3), (3,)),
}
add_cases("matmul-", [
    (name, operator.matmul, np.matmul, plain(testing.operands(shapes, ANY, ANY)))
    for name, shapes in MATMUL_SHAPE_PAIRS.items()
] + [
    ("generated", operator.matmul, np.matmul, plain(testing.operands(MATMUL_SHAPES, ANY, ANY))),
    ("method", Tensor.matmul, np.matmul, plain(testing.operands(MATMUL_SHAPES, ANY, ANY))),
])


# ---- the generic tests ------------------------------------------------------------------
def leaves(arrays, dtype=np.float64):
    return [Tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]


@pytest.mark.parametrize("case", CASES)
@given(data=st.data())
def test_value_matches_numpy(case, data):
    arrays, params = data.draw(case.inputs)
    out = case.fn(*[Tensor(a) for a in arrays], **params)
    expected = case.oracle(*[a.copy() for a in arrays], **params)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
@given(data=st.data())
def test_gradient_matches_finite_differences(case, data):
    arrays, params = data.draw(case.inputs)
    assert gradcheck(lambda *ts: case.fn(*ts, **params), leaves(arrays))


@pytest.mark.parametrize("case", CASES)
@settings(max_examples=10)
@given(data=st.data())
def test_float32_in_float32_out(case, data):
    arrays, params = data.draw(case.inputs)
    tensors = leaves(arrays, np.float32)
    out = case.fn(*tensors, **params)
    assert out.dtype == np.float32
    expected = case.oracle(*[t.data.astype(np.float64) for t in tensors], **params)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    grads = autograd.grad(out, tensors, grad_outputs=np.ones(out.shape, np.float32))
    assert [g.dtype for g in grads] == [np.float32] * len(tensors)


# ---- second derivatives -----------------------------------------------------------------
SMALL_PAIRS = testing.broadcastable_shapes(2, max_dims=2, max_side=3)
SMALL_MATMUL = testing.matmul_shapes(max_batch_dims=1, max_side=3)
SMALL = one_array(SMALL_SHAPES, ANY)
SMALL_NONSCALAR = one_array(SMALL_NONSCALAR_SHAPES, ANY)

SECOND_ORDER = {
    "exp": (Tensor.exp, SMALL),
    "log": (Tensor.log, one_array(SMALL_SHAPES, POSITIVE)),
    "tanh": (Tensor.tanh, SMALL),
    "sigmoid": (Tensor.sigmoid, SMALL),
    "mul": (operator.mul, testing.operands(SMALL_PAIRS, ANY, ANY)),
    "x*x": (lambda x: x * x, SMALL),
    "div": (operator.truediv, testing.operands(SMALL_PAIRS, ANY, NONZERO)),
    "pow": (operator.pow, testing.operands(SMALL_PAIRS, POSITIVE, ANY)),
    "x**3": (lambda x: x ** 3, SMALL),
    "sqrt": (Tensor.sqrt, one_array(SMALL_SHAPES, POSITIVE)),
    "softmax": (lambda x: x.softmax(axis=-1), SMALL_NONSCALAR),
    "log_softmax": (lambda x: x.log_softmax(axis=0), SMALL_NONSCALAR),
    "logsumexp": (lambda x: x.logsumexp(axis=-1), SMALL_NONSCALAR),
    "matmul": (operator.matmul, testing.operands(SMALL_MATMUL, ANY, ANY)),
    # the backward of structural and piecewise ops must be recorded too
    "getitem": (lambda x: x[[0, 0, -1]] ** 3, SMALL_NONSCALAR),
    "broadcast_to": (lambda x: x.broadcast_to((2, *x.shape)) ** 3, SMALL),
    "reshape_transpose": (lambda x: x.T.reshape(-1) ** 3, SMALL),
    "sum_mean": (lambda x: x.sum(axis=0) * x.mean(), SMALL_NONSCALAR),
    "max": (lambda x: x.amax(dim=-1) ** 3,
            one_array(SMALL_NONSCALAR_SHAPES, ODD_TENTHS, unique=True)),
    "relu": (lambda x: x.relu() * x, one_array(SMALL_SHAPES, ODD_TENTHS)),
    "where": (lambda x: tg.where(x.data > 0, x ** 3, x.exp()), one_array(SMALL_SHAPES, ODD_TENTHS)),
}


def first_derivatives(fn, arrays, v, create_graph):
    """The gradients of ``sum(fn(*x) * v)`` with respect to every input."""
    tensors = leaves(arrays)
    loss = (fn(*tensors) * Tensor(v)).sum()
    return tensors, autograd.grad(loss, tensors, create_graph=create_graph)


def finite_difference_of_gradients(fn, arrays, v, weights, eps=1e-6):
    """d/dx_k of sum_i <grad_i(x), w_i>, by central differences of the (engine's) first derivatives."""
    def directional(arrs):
        _, grads = first_derivatives(fn, arrs, v, create_graph=False)
        return sum(float(np.sum(g.data * w)) for g, w in zip(grads, weights))

    result = []
    for i, a in enumerate(arrays):
        d = np.zeros_like(a)
        for k in range(a.size):
            plus, minus = [x.copy() for x in arrays], [x.copy() for x in arrays]
            plus[i].flat[k] += eps
            minus[i].flat[k] -= eps
            d.flat[k] = (directional(plus) - directional(minus)) / (2 * eps)
        result.append(d)
    return result


@pytest.mark.parametrize("fn, inputs", list(SECOND_ORDER.values()), ids=list(SECOND_ORDER))
@given(data=st.data())
def test_second_derivative_matches_finite_differences_of_gradient(fn, inputs, data):
    arrays = data.draw(inputs)
    out_shape = fn(*[Tensor(a) for a in arrays]).shape
    v = data.draw(testing.arrays(out_shape, elements=ANY), label="v")
    weights = [data.draw(testing.arrays(a.shape, elements=ANY), label="w") for a in arrays]

    tensors, grads = first_derivatives(fn, arrays, v, create_graph=True)
    directional = sum((g * Tensor(w)).sum() for g, w in zip(grads, weights))
    second = autograd.grad(directional, tensors, allow_unused=True)

    expected = finite_difference_of_gradients(fn, arrays, v, weights)
    for s, e in zip(second, expected):
        actual = np.zeros_like(e) if s is None else s.data
        np.testing.assert_allclose(actual, e, rtol=1e-5, atol=1e-6)


@given(pair=testing.operands(SMALL_PAIRS, ANY, ANY), data=st.data())
def test_mixed_second_derivative_of_product(pair, data):
    """d/dy of <d(sum x*y)/dx, w>, against finite differences in y."""
    x_arr, y_arr = pair
    w = data.draw(testing.arrays(x_arr.shape, elements=ANY))

    def dx(y_values, create_graph):
        x, y = Tensor(x_arr, requires_grad=True), Tensor(y_values, requires_grad=True)
        (gx,) = autograd.grad((x * y).sum(), x, create_graph=create_graph)
        return y, gx

    y, gx = dx(y_arr, create_graph=True)
    (mixed,) = autograd.grad((gx * Tensor(w)).sum(), y)

    eps, expected = 1e-6, np.zeros_like(y_arr)
    for k in range(y_arr.size):
        plus, minus = y_arr.copy(), y_arr.copy()
        plus.flat[k] += eps
        minus.flat[k] -= eps
        expected.flat[k] = (np.sum(dx(plus, False)[1].data * w) - np.sum(dx(minus, False)[1].data * w)) / (2 * eps)
    np.testing.assert_allclose(mixed.data, expected, rtol=1e-5, atol=1e-6)


# ---- index gradients scatter-add ----------------------------------------------------------
def test_repeated_list_index_counts_in_gradient():
    x = Tensor(np.linspace(-1.0, 1.0, 4), requires_grad=True)
    index = [0, 0, 2]
    x[index].sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.bincount(index, minlength=4))


@given(data=st.data())
def test_repeated_integer_indices_add_up(data):
    x_arr = data.draw(testing.arrays((data.draw(st.integers(1, 4)), 2), elements=ANY))
    n = len(x_arr)
    index = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8))
    as_array = data.draw(st.booleans())
    w = data.draw(testing.arrays((len(index), 2), elements=ANY))

    x = Tensor(x_arr, requires_grad=True)
    (x[np.array(index) if as_array else index] * Tensor(w)).sum().backward()

    expected = np.zeros_like(x_arr)
    np.add.at(expected, index, w)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-12)


# ---- large logits ---------------------------------------------------------------------------
NEAR_BIG = st.sampled_from([-1e4, 1e4]).flatmap(
    lambda big: testing.elements(low=-3.0, high=3.0).map(lambda t: big + t))
LARGE_LOGITS = st.sampled_from([-1e4, 1e4]) | testing.elements(low=-1e4, high=1e4) | NEAR_BIG

STABLE = {
    # name: (numpy reference, output is a log-value of the logits' magnitude)
    "softmax": (np_softmax, False),
    "log_softmax": (np_log_softmax, True),
    "logsumexp": (np_logsumexp, True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(STABLE))
@given(data=st.data())
def test_large_logits_stay_finite(name, dtype, data):
    logits = data.draw(testing.arrays(data.draw(NONSCALAR_SHAPES), elements=LARGE_LOGITS)).astype(dtype)
    axis = data.draw(st.integers(-logits.ndim, logits.ndim - 1))
    reference, log_scale = STABLE[name]

    x = Tensor(logits, requires_grad=True)
    out = getattr(x, name)(axis=axis)
    expected = reference(logits.astype(np.float64), axis=axis)
    assert out.dtype == dtype
    assert np.isfinite(out.data).all()
    eps = np.finfo(dtype).eps
    atol = 8 * eps * (1 + np.abs(logits).max()) if log_scale else 8 * eps
    np.testing.assert_allclose(out.data, expected, rtol=8 * eps, atol=atol)

    w = data.draw(testing.arrays(out.shape, elements=ANY)).astype(dtype)
    (g,) = autograd.grad((out * Tensor(w)).sum(), x)
    assert g.dtype == dtype
    assert np.isfinite(g.data).all()


# ---- fan-out: several gradient contributions to one tensor, 0-d included ----------------------
@pytest.mark.parametrize("shape", [(), (1,), (3,)])
@pytest.mark.parametrize("fn, derivative", [
    (lambda x: x * x * x, lambda a: 3 * a ** 2),
    (lambda x: x + x + x, lambda a: np.full_like(a, 3.0)),
    (lambda x: x * x * x * x, lambda a: 4 * a ** 3),
], ids=["x*x*x", "x+x+x", "x*x*x*x"])
def test_gradient_of_tensor_used_several_times(shape, fn, derivative):
    a = np.full(shape, 1.5)
    x = Tensor(a, requires_grad=True)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, derivative(a))
    assert x.grad.shape == shape


# ---- regressions: edge cases that once failed ------------------------------------------------
def test_logsumexp_of_0d_tensor():
    a = np.array(0.7)
    x = Tensor(a, requires_grad=True)
    np.testing.assert_allclose(x.logsumexp(()).data, np_logsumexp(a))
    assert gradcheck(lambda t: t.logsumexp(()), [x])


@pytest.mark.parametrize("axes", [(-1, 0, 1), (1, 0, -1)])
def test_permute_with_negative_dims(axes):
    a = np.arange(24.0).reshape(2, 3, 4)
    out = Tensor(a).permute(*axes)
    np.testing.assert_array_equal(out.data, np.transpose(a, axes))
    assert gradcheck(lambda t: t.permute(*axes), leaves([a]))


def test_empty_list_index():
    a = np.arange(3.0)
    x = Tensor(a, requires_grad=True)
    out = x[[]]
    np.testing.assert_array_equal(out.data, a[[]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(3))


def test_pow_gradients_at_zero_are_zero_not_nan():
    # d(x^0)/dx = 0 everywhere, also at x = 0; d(0^e)/de = 0 for e > 0
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    e = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (Tensor(np.zeros(2)) ** e).sum().backward()
    np.testing.assert_array_equal(e.grad.data, [0.0, 0.0])


# ---- large sums over leading and trailing axes (a conv bias gradient's pattern) ---------------------------
LARGE_SUMS = [((64, 32, 13, 13), (0, 2, 3)), ((64, 32, 13, 13), (2, 3)), ((64, 32, 13, 13), (0,)),
              ((64, 32, 13, 13), (-4, -1, -2)), ((32, 8, 4, 5, 6), (0, 1, 4)), ((4096, 3), (0,)),
              ((3, 4096), (1,)), ((64, 32, 13, 13), (0, 1, 2, 3)), ((64, 32, 13, 13), (1, 3))]


@pytest.mark.parametrize(("shape", "dims"), LARGE_SUMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_sums_match_the_float64_sum(shape, dims, keepdim, dtype):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    exact = a.astype(np.float64).sum(axis=dims, keepdims=keepdim)
    out = Tensor(a).sum(dim=dims, keepdim=keepdim)
    assert out.shape == exact.shape and out.dtype == dtype
    # a few ulps of the summed magnitudes: what any summation order of these terms is held to
    bound = 8 * np.finfo(dtype).eps * np.abs(a).sum(axis=dims, keepdims=keepdim, dtype=np.float64)
    assert np.all(np.abs(out.numpy() - exact) <= bound)


@pytest.mark.parametrize("layout", ["transposed", "float16", "int32", "broadcast"])
def test_large_sums_of_any_layout_and_dtype_are_numpys(layout):
    rng = np.random.default_rng(1)
    a = {"transposed": rng.standard_normal((13, 13, 32, 64)).astype(np.float32).T,
         "float16": rng.standard_normal((64, 32, 13, 13)).astype(np.float16),
         "int32": rng.integers(-5, 5, (64, 32, 13, 13)).astype(np.int32),
         "broadcast": np.broadcast_to(rng.standard_normal((1, 32, 13, 13)).astype(np.float32), (64, 32, 13, 13))}[layout]
    np.testing.assert_array_equal(Tensor(a).sum(dim=(0, 2, 3)).numpy(), a.sum(axis=(0, 2, 3), dtype=None if layout != "int32" else np.int64))


def test_the_conv_bias_gradient_is_the_sum_over_images_and_pixels():
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((16, 3, 12, 12)).astype(np.float32))
    w = Tensor(rng.standard_normal((8, 3, 3, 3)).astype(np.float32))
    b = Tensor(np.zeros(8, np.float32), requires_grad=True)
    g = rng.standard_normal((16, 8, 10, 10)).astype(np.float32)
    tg.nn.functional.conv2d(x, w, b).backward(Tensor(g))
    np.testing.assert_allclose(b.grad.numpy(), g.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-4)
