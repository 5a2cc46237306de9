"""The Tensor class: constructor dtype rules, properties, operators and error messages."""

import operator
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor

FLOAT_DTYPES = [np.float16, np.float32, np.float64]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8]


def _names_shapes(message, *shapes):
    return all(str(tuple(s)) in message for s in shapes)


# ---- constructor: dtype and copying rules ------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_float_array_keeps_dtype_and_is_not_copied(dtype):
    arr = np.arange(6, dtype=dtype).reshape(2, 3)
    t = Tensor(arr)
    assert t.dtype == dtype
    assert t.data is arr


@given(hnp.arrays(st.sampled_from(FLOAT_DTYPES), hnp.array_shapes(min_dims=0, max_dims=3)))
def test_any_float_array_is_wrapped_as_is(arr):
    t = Tensor(arr)
    assert t.data is arr
    assert t.shape == arr.shape and t.dtype == arr.dtype


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_array_keeps_integer_dtype(dtype):
    arr = np.array([[1, 2], [3, 4]], dtype=dtype)
    t = Tensor(arr)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, arr)


def test_bool_array_keeps_bool_dtype():
    arr = np.array([True, False])
    assert Tensor(arr).dtype == np.bool_


@pytest.mark.parametrize(
    "data, shape",
    [
        (3, ()),
        (-2.5, ()),
        (0, ()),
        ([1, 2, 3], (3,)),
        ([1.5, -2.0], (2,)),
        ((1, 2), (2,)),
        ([[1, 2, 3], [4, 5, 6]], (2, 3)),
        ([[[1.0], [2.0]]], (1, 2, 1)),
        ([], (0,)),
    ],
)
def test_python_numbers_and_lists_become_float32(data, shape):
    t = Tensor(data)
    assert t.dtype == np.float32
    assert t.shape == shape
    np.testing.assert_array_equal(t.data, np.array(data, dtype=np.float64))


def test_python_bool_scalar_and_bool_list_get_the_same_dtype():
    assert Tensor(True).dtype == Tensor([True, False]).dtype


@pytest.mark.parametrize("scalar", [np.float16(1.5), np.float64(1.5), np.int32(7)])
def test_numpy_scalar_keeps_its_dtype(scalar):
    t = Tensor(scalar)
    assert t.dtype == scalar.dtype
    assert t.shape == ()
    assert t.item() == scalar


def test_tensor_from_tensor_shares_data_but_not_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    t = Tensor(y)
    assert t.data is y.data
    assert t.is_leaf and not t.requires_grad and t.grad_fn is None


@pytest.mark.parametrize("data", ["a", None, {"a": 1}, {1.0}, object()])
def test_non_numeric_python_objects_raise_type_error_naming_the_type(data):
    with pytest.raises(TypeError, match=rf"\b{type(data).__name__}\b"):
        Tensor(data)


@pytest.mark.parametrize(
    "data",
    [
        np.array([object(), object()]),
        np.array([1 + 2j]),
        np.array(["a", "b"]),
        np.array([b"a"]),
        1j,
        [1j, 2.0],
        ["a", "b"],
        [1.0, None],
    ],
    ids=[
        "object-array", "complex-array", "str-array", "bytes-array", "complex", "complex-list", "str-list", "none-list",
    ],
)
def test_non_numeric_arrays_raise_type_error(data):
    with pytest.raises(TypeError):
        Tensor(data)


@pytest.mark.parametrize("data", [[[1, 2], [3]], [1, [2, 3]], [[[1.0, 2.0]], [[1.0]]]])
def test_ragged_lists_raise_value_error(data):
    with pytest.raises(ValueError):
        Tensor(data)


@pytest.mark.parametrize("dtype", [*INT_DTYPES, np.bool_])
def test_requires_grad_on_non_float_data_raises_type_error_naming_the_dtype(dtype):
    arr = np.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match=re.escape(str(arr.dtype))):
        Tensor(arr, requires_grad=True)
    t = Tensor(arr)
    with pytest.raises(TypeError, match=re.escape(str(arr.dtype))):
        t.requires_grad_()
    assert not t.requires_grad


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_requires_grad_on_float_data(dtype):
    t = Tensor(np.zeros(3, dtype=dtype), requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None


# ---- properties -----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 1, 3)])
def test_shape_dtype_ndim_size_match_numpy(shape):
    arr = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    t = Tensor(arr)
    assert t.shape == arr.shape
    assert t.dtype == arr.dtype
    assert t.ndim == arr.ndim
    assert t.numel() == arr.size and t.size() == arr.shape


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
def test_T_reverses_the_axes(shape):
    arr = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    np.testing.assert_array_equal(Tensor(arr).T.data, np.transpose(arr))


def test_numpy_returns_the_shared_array():
    arr = np.ones((2, 2), dtype=np.float32)
    t = Tensor(arr)
    assert t.numpy() is arr


@pytest.mark.parametrize(
    "data, expected, kind",
    [(np.array(2.5), 2.5, float), (np.array([[7.0]], dtype=np.float32), 7.0, float), (np.array([3]), 3, int)],
)
def test_item_returns_a_python_number(data, expected, kind):
    value = Tensor(data).item()
    assert value == expected
    assert type(value) is kind


@pytest.mark.parametrize("shape", [(2,), (2, 3), (0,)])
def test_item_on_a_non_single_element_tensor_names_the_shape(shape):
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        Tensor(np.zeros(shape)).item()


def test_detach_shares_data_and_has_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    for source in (x, y):
        d = source.detach()
        assert d.data is source.data
        assert d.is_leaf and d.grad_fn is None
        assert not d.requires_grad
    assert y.requires_grad and y.grad_fn.name() == "mul"  # the original keeps its graph


def test_requires_grad_underscore_sets_the_flag_in_place_and_returns_self():
    t = Tensor([1.0, 2.0])
    assert t.requires_grad_() is t
    assert t.requires_grad
    assert t.requires_grad_(False) is t
    assert not t.requires_grad


def test_requires_grad_cannot_be_turned_off_on_a_non_leaf():
    y = Tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)
    assert y.requires_grad


def test_is_leaf_and_grad_fn():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    assert x.is_leaf and x.grad_fn is None
    assert (x * c).grad_fn.name() == "mul" and not (x * c).is_leaf
    assert (x + c).grad_fn.name() == "add"
    assert x.exp().grad_fn.name() == "exp"
    constant = c * c  # nothing requires grad: no graph is recorded
    assert constant.is_leaf and constant.grad_fn is None and not constant.requires_grad


# ---- repr ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Tensor([1.0, 2.0]), "Tensor([1., 2.])"),
        (lambda: Tensor(5.0), "Tensor(5.)"),
        (lambda: Tensor(np.array([1.0, 2.0])), "Tensor([1., 2.], dtype=float64)"),
        (lambda: Tensor(np.array([1, 2], dtype=np.int64)), "Tensor([1, 2], dtype=int64)"),
        (lambda: Tensor([1.0, 2.0], requires_grad=True), "Tensor([1., 2.], requires_grad=True)"),
        (lambda: Tensor([1.0, 2.0], requires_grad=True) * 2, "Tensor([2., 4.], grad_fn=mul)"),
        (lambda: Tensor([[1.0, 2.0], [3.0, 4.0]]), "Tensor([[1., 2.],\n        [3., 4.]])"),
    ],
)
def test_repr(make, expected):
    assert repr(make()) == expected


# ---- comparisons ------------------------------------------------------------------------------
COMPARISONS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda op: op.__name__)
@pytest.mark.parametrize("other_kind", ["tensor", "array", "scalar"])
def test_comparisons_return_bool_tensors_without_graph(op, other_kind):
    a = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    b = np.array([4.0, 2.0, 1.0, 4.0], dtype=np.float32)
    other = {"tensor": Tensor(b, requires_grad=True), "array": b, "scalar": 2.0}[other_kind]
    x = Tensor(a, requires_grad=True)
    result = op(x, other)
    assert isinstance(result, Tensor)
    assert result.dtype == np.bool_
    assert not result.requires_grad
    assert result.grad_fn is None and result.is_leaf
    expected = op(a, b if other_kind != "scalar" else 2.0)
    np.testing.assert_array_equal(result.data, expected)


# ---- reflected operators and scalar dtypes -------------------------------------------------
REFLECTED = [
    ("add", lambda arr, t: arr + t, lambda a, b: a + b),
    ("sub", lambda arr, t: arr - t, lambda a, b: a - b),
    ("mul", lambda arr, t: arr * t, lambda a, b: a * b),
    ("div", lambda arr, t: arr / t, lambda a, b: a / b),
    ("pow", lambda arr, t: arr**t, lambda a, b: a**b),
]


@pytest.mark.parametrize("name, apply, reference", REFLECTED, ids=[r[0] for r in REFLECTED])
def test_numpy_array_on_the_left_gives_a_tensor(name, apply, reference):
    arr = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    t_data = np.array([0.5, 1.5, 2.0], dtype=np.float32)
    result = apply(arr, Tensor(t_data))
    assert isinstance(result, Tensor)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result.data, reference(arr, t_data), rtol=1e-6)


def test_numpy_array_on_the_left_of_matmul_gives_a_tensor():
    m = np.arange(6, dtype=np.float64).reshape(2, 3)
    v = np.array([1.0, -1.0, 2.0])
    result = m @ Tensor(v)
    assert isinstance(result, Tensor)
    np.testing.assert_allclose(result.data, m @ v)


def test_gradient_flows_through_a_reflected_multiplication():
    arr = np.array([2.0, -3.0, 0.5])
    t = Tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    (arr * t).sum().backward()
    np.testing.assert_allclose(t.grad.data, arr)


SCALAR_OPS = {
    "t+2": lambda t: t + 2,
    "2+t": lambda t: 2 + t,
    "t-1.5": lambda t: t - 1.5,
    "1.5-t": lambda t: 1.5 - t,
    "t*2.5": lambda t: t * 2.5,
    "2.5*t": lambda t: 2.5 * t,
    "t/3": lambda t: t / 3,
    "3/t": lambda t: 3 / t,
    "t**2": lambda t: t**2,
    "2.0**t": lambda t: 2.0**t,
    "maximum": lambda t: t.maximum(1.5),
    "mean": lambda t: t.mean(),
    "sqrt": lambda t: t.sqrt(),
}


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("fn", SCALAR_OPS.values(), ids=SCALAR_OPS.keys())
def test_python_scalars_keep_the_tensor_float_dtype(fn, dtype):
    t = Tensor(np.array([1.0, 2.0, 4.0], dtype=dtype), requires_grad=True)
    out = fn(t)
    assert out.dtype == dtype
    out.sum().backward()
    assert t.grad.dtype == dtype


def test_integer_tensor_with_python_float_follows_numpy_promotion():
    arr = np.array([1, 2, 3], dtype=np.int32)
    out = Tensor(arr) * 0.5
    expected = arr * 0.5
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out.data, expected)


# ---- error messages -----------------------------------------------------------------------------
def test_matmul_shape_mismatch_names_matmul_and_both_shapes():
    a, b = Tensor(np.ones((3, 4))), Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match="matmul") as info:
        a @ b
    assert _names_shapes(str(info.value), (3, 4), (5, 2))


BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
    "maximum": lambda a, b: a.maximum(b),
}


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((2, 3), (3, 2)), ((2, 1, 5), (3, 4))])
@pytest.mark.parametrize("name", BINARY)
def test_non_broadcastable_binary_op_names_the_op_and_both_shapes(name, shapes):
    a = Tensor(np.ones(shapes[0]), requires_grad=True)
    b = Tensor(np.ones(shapes[1]))
    with pytest.raises(ValueError, match=rf"\b{name}\b") as info:
        BINARY[name](a, b)
    assert _names_shapes(str(info.value), *shapes)


@pytest.mark.parametrize("target", [(4,), (5, -1), (4, 2)])
def test_bad_reshape_names_reshape(target):
    with pytest.raises(ValueError, match="reshape") as info:
        Tensor(np.ones((2, 3))).reshape(*target)
    assert _names_shapes(str(info.value), (2, 3))


AXIS_OPS = {
    "sum": lambda t, ax: t.sum(axis=ax),
    "mean": lambda t, ax: t.mean(axis=ax),
    "max": lambda t, ax: t.amax(axis=ax),
    "min": lambda t, ax: t.amin(axis=ax),
    "logsumexp": lambda t, ax: t.logsumexp(axis=ax),
    "softmax": lambda t, ax: t.softmax(axis=ax),
    "log_softmax": lambda t, ax: t.log_softmax(axis=ax),
    "transpose": lambda t, ax: t.transpose(0, ax),
    "swapaxes": lambda t, ax: t.swapaxes(0, ax),
    "flatten": lambda t, ax: t.flatten(ax),
}


@pytest.mark.parametrize("axis", [2, 5, -3])
@pytest.mark.parametrize("fn", AXIS_OPS.values(), ids=AXIS_OPS.keys())
def test_axis_out_of_range_raises_value_error(fn, axis):
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError):
        fn(t, axis)


def test_in_range_negative_axis_is_accepted():
    arr = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Tensor(arr).sum(axis=-1).data, arr.sum(axis=-1))
    np.testing.assert_array_equal(Tensor(arr).swapaxes(0, -1).data, arr.swapaxes(0, -1))


def test_truth_value_of_a_multi_element_tensor_is_ambiguous():
    with pytest.raises(ValueError, match=re.escape("(2,)")):
        bool(Tensor([1.0, 2.0]))
    assert bool(Tensor([1.0])) is True
