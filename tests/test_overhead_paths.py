"""The short paths of the engine's hot loop give the same results as the general ones.

Constructing from an ndarray, seeding one-element roots, the backward walk's own handling
of the grad and anomaly switches, and a root given twice: each test states the value the
general path gives, worked out by hand.
"""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, autograd, is_grad_enabled, no_grad
from tinygrad_mnist.core.grad_mode import STATE


# ---- Tensor(ndarray) ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8, np.bool_])
def test_an_ndarray_of_a_numeric_dtype_is_kept_as_it_is(dtype):
    array = np.zeros((2, 3), dtype=dtype)
    t = Tensor(array)
    assert t.data is array  # no copy, no conversion
    assert t.dtype == np.dtype(dtype)
    assert t.requires_grad is False and t.grad is None and t.is_leaf and t.name is None
    assert t._version == 0 and t._changed_at == 0


@pytest.mark.parametrize("array", [np.array(["a", "b"]), np.array([1 + 2j]), np.array([object()], dtype=object)],
                         ids=["str", "complex", "object"])
def test_an_ndarray_of_another_dtype_is_refused_naming_it(array):
    with pytest.raises(TypeError, match=f"got dtype {array.dtype}"):
        Tensor(array)


def test_an_ndarray_subclass_goes_through_the_general_checks():
    class Marked(np.ndarray):
        pass

    marked = np.arange(3.0).view(Marked)
    assert Tensor(marked).data is marked
    with pytest.raises(TypeError, match="complex128"):
        Tensor(np.array([1j]).view(Marked))


@pytest.mark.parametrize("flag", [True, 1, np.bool_(True)])
def test_requires_grad_accepts_a_true_value_and_stores_a_bool(flag):
    t = Tensor(np.ones(2, dtype=np.float32), requires_grad=flag)
    assert t.requires_grad is True


@pytest.mark.parametrize("flag", [False, 0, None])
def test_a_false_requires_grad_leaves_the_tensor_untracked(flag):
    assert Tensor(np.ones(2, dtype=np.int64), requires_grad=flag).requires_grad is False


def test_requires_grad_on_integers_is_refused_naming_the_dtype():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        Tensor(np.arange(3), requires_grad=True)


# ---- seeds of one-element roots ------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (1, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_one_element_root_is_seeded_with_one_of_its_shape_and_dtype(shape, dtype):
    x = Tensor(np.full(shape, 3.0, dtype=dtype), requires_grad=True)
    y = x * x  # d/dx x^2 = 2x = 6
    seen = []
    y.register_hook(lambda g: seen.append(g.data.copy()))
    y.backward()
    assert seen[0].shape == shape and seen[0].dtype == np.dtype(dtype) and seen[0].item() == 1.0
    assert x.grad.shape == shape and x.grad.dtype == np.dtype(dtype)
    assert x.grad.item() == 6.0


def test_the_seed_of_a_leaf_root_becomes_a_grad_of_its_own():
    x = Tensor(np.full((1, 1), 2.0, dtype=np.float32), requires_grad=True)
    x.backward()
    x.backward()
    assert x.grad.tolist() == [[2.0]]  # two seeds of 1 summed: neither was a shared or read-only array
    x.grad.data[...] = 0.0  # writeable
    x.backward()
    assert x.grad.tolist() == [[1.0]]


# ---- the switches around the walk -----------------------------------------------------------------
def test_backward_inside_no_grad_leaves_recording_off_and_records_nothing():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    with no_grad():
        y.backward()
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert x.grad.tolist() == [2.0, 4.0] and x.grad.is_leaf


def test_create_graph_records_the_gradients_even_inside_no_grad():
    x = Tensor(np.array(3.0), requires_grad=True)
    y = x * x * x
    with no_grad():
        (g,) = autograd.grad(y, x, create_graph=True)
        assert not is_grad_enabled()
    assert g.item() == 27.0 and g.requires_grad  # 3 x^2, recorded
    (h,) = autograd.grad(g, x)
    assert h.item() == 18.0  # 6 x


def test_a_failing_rule_leaves_the_switches_as_they_were():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2

    def broken(g):
        raise ValueError("broken hook")

    y.register_hook(broken)
    anomaly_before = STATE.anomaly
    with pytest.raises(ValueError, match="broken hook"):
        y.sum().backward()
    assert is_grad_enabled() and STATE.anomaly == anomaly_before
    assert x.grad is None


def test_inside_the_walk_recording_is_off_unless_create_graph():
    seen = []
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: seen.append(is_grad_enabled()))
    y.sum().backward(retain_graph=True)
    y.sum().backward(create_graph=True)
    assert seen == [False, True]
    assert is_grad_enabled()


# ---- roots ----------------------------------------------------------------------------------------
def test_a_root_given_twice_counts_twice():
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = (x * x).sum()
    (g,) = autograd.grad([y, y], [x])
    assert g.tolist() == [4.0, -8.0]  # 2 * 2x


def test_a_tensor_reached_by_several_paths_gets_each_contribution_once():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 5.0]), requires_grad=True)
    ((a * b) + a).sum().backward()
    assert a.grad.tolist() == [4.0, 6.0]  # b + 1
    assert b.grad.tolist() == [1.0, 2.0]  # a
