"""The factories beyond what PyTorch can be compared on: seeded randomness, memory sharing, messages.

(Values, dtypes and misuse compared with PyTorch are in ``tests/parity/factories.py``.)
"""

import numpy as np
import pytest

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor

RANDOM = {
    "rand": lambda: tm.rand(3, 4),
    "randn": lambda: tm.randn((5,), dtype=tm.float64),
    "randint": lambda: tm.randint(2, 9, (6,)),
    "rand_like": lambda: tm.rand_like(tm.zeros(2, 2)),
    "randn_like": lambda: tm.randn_like(tm.zeros(3, dtype=tm.float64)),
}


@pytest.fixture
def default_float64():
    tm.set_default_dtype(tm.float64)
    try:
        yield
    finally:
        tm.set_default_dtype(tm.float32)


# ---- randomness -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RANDOM))
def test_manual_seed_reproduces_random_factories(name):
    make = RANDOM[name]
    tm.manual_seed(123)
    first = make().numpy().copy()
    tm.manual_seed(123)
    again = make().numpy()
    tm.manual_seed(124)
    other = make().numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_random_factories_draw_from_the_framework_generator():
    tm.manual_seed(7)
    expected = tm.random.generator().standard_normal(4)
    tm.manual_seed(7)
    np.testing.assert_array_equal(tm.randn(4, dtype=tm.float64).numpy(), expected)


def test_successive_draws_differ_and_sequence_is_reproducible():
    tm.manual_seed(0)
    a, b = tm.rand(8).numpy().copy(), tm.rand(8).numpy().copy()
    tm.manual_seed(0)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(tm.rand(8).numpy(), a)
    np.testing.assert_array_equal(tm.rand(8).numpy(), b)


def test_rand_float16_stays_below_one():
    tm.manual_seed(0)
    x = tm.rand(200_000, dtype=tm.float16).numpy()
    assert x.dtype == np.float16 and x.min() >= 0 and x.max() < 1


def test_randint_covers_its_range_and_honours_dtype():
    tm.manual_seed(1)
    x = tm.randint(-2, 3, (2000,), dtype=tm.int32)
    assert x.dtype == np.int32 and set(np.unique(x.numpy())) == {-2, -1, 0, 1, 2}
    assert tm.randint(0, 2, (10,), dtype=tm.bool).dtype == np.bool_


def test_random_requires_grad_makes_leaves():
    x = tm.randn(3, requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())


# ---- copying and sharing ----------------------------------------------------------------------
def test_tensor_copies_numpy_and_tensor_data():
    a = np.arange(3.0)
    t = tm.tensor(a)
    u = tm.tensor(t)
    assert not np.shares_memory(t.numpy(), a) and not np.shares_memory(u.numpy(), t.numpy())
    assert u.is_leaf and not u.requires_grad


def test_tensor_of_graph_tensor_is_cut_from_the_graph():
    x = tm.tensor([1.0, 2.0], requires_grad=True)
    y = tm.tensor(x * 2)
    assert y.is_leaf and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])


def test_from_numpy_and_as_tensor_share_memory():
    a = np.zeros(3, dtype=np.int16)
    assert np.shares_memory(tm.from_numpy(a).numpy(), a)
    assert np.shares_memory(tm.as_tensor(a).numpy(), a)
    assert np.shares_memory(tm.as_tensor(a, dtype=tm.int16).numpy(), a)
    assert not np.shares_memory(tm.as_tensor(a, dtype=tm.float32).numpy(), a)


def test_as_tensor_conversion_of_a_tensor_is_differentiable():
    x = tm.tensor([1.0, 2.0], requires_grad=True)
    y = tm.as_tensor(x, dtype=tm.float64)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


# ---- dtypes -------------------------------------------------------------------------------------
def test_dtype_names_are_numpy_dtypes():
    assert tm.float64 == np.dtype("float64") and isinstance(tm.float32, np.dtype)
    assert (tm.half, tm.float, tm.double, tm.int, tm.long, tm.bool) == (
        np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_)
    assert np.zeros(2, dtype=tm.int64).dtype == tm.long
    assert tm.zeros(2, dtype=tm.float64).dtype == tm.float64


@pytest.mark.parametrize("dtype", [float, int, bool, np.float64, np.int32])
def test_python_and_numpy_types_are_accepted_as_dtype(dtype):
    assert tm.zeros(1, dtype=dtype).dtype == np.dtype(dtype)


@pytest.mark.usefixtures("default_float64")
def test_default_dtype_reaches_factories_and_constructor():
    assert tm.get_default_dtype() == np.float64
    for t in (tm.tensor([1.5]), tm.zeros(1), tm.ones(1), tm.full((1,), 0.5), tm.arange(0.0, 1.0),
              tm.linspace(0, 1, 2), tm.eye(1), tm.rand(1), tm.randn(1), Tensor([1.0]), Tensor([1, 2])):
        assert t.dtype == np.float64, t
    assert tm.tensor([1]).dtype == np.int64 and tm.arange(2).dtype == np.int64
    assert tm.tensor(np.float32(1.0)).dtype == np.float32  # numpy scalars keep their dtype


def test_default_dtype_restored_by_fixture_shape():
    assert tm.get_default_dtype() == np.float32 and tm.tensor([0.5]).dtype == np.float32


# ---- error messages: argument name, what was received, what was expected ----------------------------
@pytest.mark.parametrize("call, error, words", [
    (lambda: tm.tensor([1, 2], requires_grad=True), TypeError, ["requires_grad", "int64"]),
    (lambda: tm.tensor([1.0], dtype="float32"), TypeError, ["tensor", "dtype", "'float32'"]),
    (lambda: tm.tensor({"a": 1}), TypeError, ["tensor", "dict"]),
    (lambda: tm.tensor([[1, 2], [3]]), ValueError, ["tensor", "[[1, 2], [3]]"]),
    (lambda: tm.tensor([300], dtype=tm.int8), ValueError, ["tensor", "int8"]),
    (lambda: tm.zeros(2, -1), ValueError, ["zeros", "non-negative", "(2, -1)"]),
    (lambda: tm.ones(2.0), TypeError, ["ones", "size", "float"]),
    (lambda: tm.full(2, 1.0), TypeError, ["full", "size", "tuple"]),
    (lambda: tm.full((2,), "x"), TypeError, ["full", "fill_value", "str"]),
    (lambda: tm.arange(0, 1, 0), ValueError, ["arange", "step", "nonzero"]),
    (lambda: tm.arange(0, 5, -1), ValueError, ["arange", "-1", "5"]),
    (lambda: tm.linspace(0, 1, -2), ValueError, ["linspace", "steps", "-2"]),
    (lambda: tm.eye(-1), ValueError, ["eye", "-1"]),
    (lambda: tm.rand(2, dtype=tm.int64), TypeError, ["rand", "floating", "int64"]),
    (lambda: tm.randint(5, 2, (2,)), ValueError, ["randint", "low=5", "high=2"]),
    (lambda: tm.randint(5, 3), TypeError, ["randint", "size"]),
    (lambda: tm.randint(300, (2,), dtype=tm.uint8), ValueError, ["randint", "uint8"]),
    (lambda: tm.zeros_like(np.zeros(2)), TypeError, ["zeros_like", "Tensor", "ndarray"]),
    (lambda: tm.from_numpy([1, 2]), TypeError, ["from_numpy", "list"]),
    (lambda: tm.set_default_dtype(tm.int64), TypeError, ["set_default_dtype", "float32", "float64", "int64"]),
    (lambda: tm.set_default_dtype(tm.float16), TypeError, ["set_default_dtype", "float16"]),
    (lambda: tm.set_default_dtype("float64"), TypeError, ["set_default_dtype", "'float64'"]),
])
def test_errors_name_the_argument_and_the_value(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert all(w in message for w in words), message
    assert tm.get_default_dtype() == np.float32


def test_size_accepts_numpy_and_one_element_tensor_integers():
    assert tm.zeros(np.int64(2), tm.tensor(3)).shape == (2, 3)
    assert tm.full([np.int32(2)], 1).shape == (2,)
