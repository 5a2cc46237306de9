"""The reverse walk: fan-out, accumulation, graph freeing, deep graphs, seeds, grad modes, dtypes."""

import gc
import re
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor, autograd, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_mnist.core import rules
from tinygrad_mnist.core.graph import toposort

from mlp_oracle import mlp_grads

FLOATS = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
ARRAYS = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=4), elements=FLOATS)


@pytest.fixture(autouse=True)
def _grad_mode_is_restored():
    assert is_grad_enabled()
    yield
    assert is_grad_enabled()


# ---- fan-out and accumulation ---------------------------------------------------------------
@given(ARRAYS)
def test_fan_out_sums_the_contributions(arr):
    x = Tensor(arr, requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * arr + 1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("arr", [np.array(1.5), np.array([0.5, -1.0, 2.0])], ids=["0-d", "1-d"])
def test_fan_out_through_many_uses_of_one_tensor(arr):
    # x used six times through different paths: d/dx (x*x*x + x + x + x/x) = 3x^2 + 2
    x = Tensor(arr, requires_grad=True)
    (x * x * x + x + x + x / x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * arr**2 + 2, rtol=1e-12)


def test_grads_accumulate_across_backward_calls_with_retain_graph():
    arr = np.array([1.0, -2.0, 3.0])
    x = Tensor(arr, requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.data, 2 * arr)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 4 * arr)


def test_grads_accumulate_across_separate_graphs():
    arr = np.array([1.0, -2.0])
    x = Tensor(arr, requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3.0 + 2 * arr)


def _shared_subgraph_second_loss():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    (h * 2.0).sum().backward()
    return (h * 3.0).sum()  # a new node on top of the freed node of h


def _same_loss_again():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    return loss


@pytest.mark.parametrize("make", [_same_loss_again, _shared_subgraph_second_loss], ids=["same-root", "shared-subgraph"])
def test_backward_through_a_freed_graph_raises(make):
    loss = make()
    with pytest.raises(RuntimeError, match="retain_graph") as info:
        loss.backward()
    assert "freed" in str(info.value)


# ---- graph lifetime --------------------------------------------------------------------------
def test_backward_releases_saved_inputs():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 2.0
    loss = (h * h).sum()
    nodes = [t._ctx for t in toposort([loss]) if t._ctx is not None]
    assert len(nodes) == 3 and all(n.inputs is not None for n in nodes)
    loss.backward()
    assert all(n.inputs is None and n.params is None for n in nodes)


def test_retain_graph_keeps_saved_inputs():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    assert loss._ctx.inputs is not None


def test_intermediate_tensors_are_garbage_collected_after_backward():
    x = Tensor(np.ones(1000), requires_grad=True)
    h1 = x.exp()
    h2 = h1 * x
    loss = h2.sum()
    refs = [weakref.ref(h1), weakref.ref(h2)]
    del h1, h2
    gc.collect()
    assert all(r() is not None for r in refs)  # kept alive by the graph of loss
    loss.backward()
    gc.collect()
    assert all(r() is None for r in refs)
    np.testing.assert_allclose(x.grad.data, np.e * 2)  # d/dx x e^x = e^x (1 + x) at x = 1


# ---- deep graphs -----------------------------------------------------------------------------
def test_a_100000_node_chain_backpropagates_without_recursion_error():
    steps, factor, start = 100_000, 1.0001, 1.5
    x = Tensor(np.array(start), requires_grad=True)
    y = x
    for _ in range(steps):
        y = y * factor
    y.backward()
    expected = np.exp(steps * np.log(factor))  # factor ** steps, computed another way
    np.testing.assert_allclose(x.grad.item(), expected, rtol=1e-9)
    np.testing.assert_allclose(y.item(), start * expected, rtol=1e-9)


def test_a_100000_node_additive_chain_with_retained_graph_is_collected():
    x = Tensor(np.array([2.0, 3.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 0.0
    y.backward(np.array([1.0, -1.0]), retain_graph=True)
    np.testing.assert_array_equal(x.grad.data, [1.0, -1.0])
    del y  # freeing a deep retained graph must not overflow the stack
    gc.collect()


# ---- seeds --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3,), (2, 2), (1, 2)])
def test_backward_on_a_non_scalar_without_gradient_names_the_shape(shape):
    x = Tensor(np.ones(shape), requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(str(shape))):
        (x * 2.0).backward()


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_backward_on_a_one_element_tensor_seeds_with_one(shape):
    x = Tensor(np.full(shape, 3.0), requires_grad=True)
    (x * x).backward()
    np.testing.assert_allclose(x.grad.data, np.full(shape, 6.0))


@given(
    st.integers(1, 4).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, (n, 3), elements=FLOATS),
            hnp.arrays(np.float64, (3, 2), elements=FLOATS),
            hnp.arrays(np.float64, (n, 2), elements=FLOATS),
        )
    )
)
def test_backward_with_explicit_gradient_is_a_vector_jacobian_product(arrays):
    a, w, v = arrays
    x = Tensor(a, requires_grad=True)
    W = Tensor(w, requires_grad=True)
    (x @ W).tanh().backward(v)
    dz = v * (1 - np.tanh(a @ w) ** 2)
    np.testing.assert_allclose(x.grad.data, dz @ w.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(W.grad.data, a.T @ dz, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("gradient", [np.ones(2), np.ones((3, 1)), np.ones((1, 3)), np.ones(()), Tensor(np.ones(4))])
def test_backward_with_a_wrongly_shaped_gradient_raises(gradient):
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=re.escape("(3,)")):
        (x * 2.0).backward(gradient)
    assert x.grad is None


def test_backward_on_a_tensor_without_graph_raises():
    with pytest.raises(RuntimeError):
        Tensor(np.ones(())).backward()


# ---- grad modes ---------------------------------------------------------------------------------
def _assert_not_recorded(t):
    assert not t.requires_grad
    assert t.grad_fn is None and t.is_leaf


def _assert_recorded(t):
    assert t.requires_grad and t.grad_fn is not None


def test_no_grad_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * x).exp().sum()
    _assert_not_recorded(y)
    np.testing.assert_allclose(y.item(), np.exp(1.0) + np.exp(4.0), rtol=1e-6)


def test_no_grad_as_a_decorator():
    @no_grad()
    def double(t):
        assert not is_grad_enabled()
        return t * 2

    x = Tensor([1.0], requires_grad=True)
    _assert_not_recorded(double(x))
    _assert_recorded(x * 2)
    assert double.__name__ == "double"


def test_enable_grad_inside_no_grad_and_back():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        p = x * 2
        with enable_grad():
            q = x * 2
            with no_grad():
                r = x * 2
        s = x * 2
    _assert_not_recorded(p)
    _assert_recorded(q)
    _assert_not_recorded(r)
    _assert_not_recorded(s)


def test_enable_grad_decorator_inside_no_grad():
    @enable_grad()
    def square(t):
        return t * t

    x = Tensor([3.0], requires_grad=True)
    with no_grad():
        y = square(x)
    _assert_recorded(y)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [6.0])


@pytest.mark.parametrize("switch", [no_grad, enable_grad, lambda: set_grad_enabled(False)])
def test_grad_mode_is_restored_after_an_exception_in_a_block(switch):
    with pytest.raises(KeyError):
        with no_grad():
            with switch():
                raise KeyError("boom")
    assert is_grad_enabled()
    with pytest.raises(KeyError):
        with switch():
            raise KeyError("boom")
    assert is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception_in_a_decorated_function():
    @no_grad()
    def fail():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        fail()
    assert is_grad_enabled()


def test_one_switch_object_can_be_nested_and_reused():
    switch = no_grad()
    with switch:
        with switch:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()
    with switch:
        assert not is_grad_enabled()


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled(mode):
    x = Tensor([1.0], requires_grad=True)
    with set_grad_enabled(mode):
        assert is_grad_enabled() is mode
        y = x * 2
    assert y.requires_grad is mode
    assert (y.grad_fn is not None) is mode

    @set_grad_enabled(mode)
    def f(t):
        return t * 2

    with no_grad() if mode else enable_grad():
        assert f(x).requires_grad is mode


def test_set_grad_enabled_rejects_non_bool():
    with pytest.raises(TypeError):
        set_grad_enabled(1)


# ---- detach, requires_grad_, which leaves get .grad -------------------------------------------
def test_detach_cuts_the_graph():
    arr = np.array([1.0, -2.0, 3.0])
    x = Tensor(arr, requires_grad=True)
    (x * x.detach()).sum().backward()  # only the first factor is differentiated
    np.testing.assert_allclose(x.grad.data, arr)


def test_no_gradient_flows_through_a_detached_branch_only():
    x = Tensor(np.array([2.0]), requires_grad=True)
    y = x.detach() * 5.0 + x.detach().exp()
    assert not y.requires_grad
    with pytest.raises(RuntimeError):
        y.backward()
    assert x.grad is None


def test_requires_grad_underscore_turns_gradients_on_and_off():
    a = Tensor(np.array([1.0, 2.0]))
    b = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    a.requires_grad_()
    b.requires_grad_(False)
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [3.0, 4.0])
    assert b.grad is None


def test_leaves_that_do_not_require_grad_get_no_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = Tensor(np.array([3.0, 4.0]))
    k = Tensor(np.array([1, 2]))
    (x * c + k).sum().backward()
    assert c.grad is None and k.grad is None
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])


def test_non_leaf_tensors_get_no_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 2.0
    (h * h).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(x.grad.data, 8 * np.array([1.0, 2.0]))


# ---- .grad: dtype, writeability, aliasing -------------------------------------------------------
LEAF_GRAPHS = {
    "mul": lambda x: (x * x).sum(),
    "sum-broadcast": lambda x: x.sum(),  # the gradient is a read-only broadcast view
    "broadcast-add": lambda x: (x + Tensor(np.ones((2, 3), dtype=x.dtype))).sum(),
    "float64-constant": lambda x: (x * np.array([1.0, 2.0, 3.0])).sum(),  # promotes to float64
    "reshape": lambda x: x.reshape(3, 1).sum(),
}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("graph", LEAF_GRAPHS.values(), ids=LEAF_GRAPHS.keys())
def test_leaf_grad_has_the_leaf_dtype_and_is_writeable(graph, dtype):
    x = Tensor(np.array([1.0, 2.0, 3.0], dtype=dtype), requires_grad=True)
    graph(x).backward()
    assert x.grad.dtype == dtype
    assert x.grad.data.flags.writeable
    x.grad.data += 1  # must not raise


def test_leaf_grad_has_the_leaf_dtype_with_create_graph():
    x = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), requires_grad=True)
    (x * np.array([1.0, 2.0, 3.0])).sum().backward(create_graph=True)
    assert x.grad.dtype == np.float32


def test_leaf_grad_is_writeable_with_create_graph():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x.sum().backward(create_graph=True)
    assert x.grad.data.flags.writeable


def _add_scalars(create_graph):
    a, b = Tensor(np.array(1.0), requires_grad=True), Tensor(np.array(2.0), requires_grad=True)
    (a + b).backward(create_graph=create_graph)
    return a, b


def _add_vectors_with_gradient(create_graph):
    a, b = Tensor(np.full(3, 1.0), requires_grad=True), Tensor(np.full(3, 2.0), requires_grad=True)
    (a + b).backward(np.ones(3), create_graph=create_graph)
    return a, b


def _alias_cases():
    for name, run in [("scalar-add", _add_scalars), ("add-with-gradient", _add_vectors_with_gradient)]:
        yield pytest.param(run, False, id=name)
        yield pytest.param(run, True, id=f"{name}-create-graph")


@pytest.mark.parametrize("run, create_graph", list(_alias_cases()))
def test_two_leaves_never_share_a_grad_array(run, create_graph):
    a, b = run(create_graph)
    before = b.grad.data.copy()
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.data, before)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(
    "graph", [lambda x: x, lambda x: x + 0.0, lambda x: x.reshape(3)], ids=["leaf", "add", "reshape"]
)
def test_leaf_grad_does_not_alias_the_callers_gradient_array(graph, create_graph):
    x = Tensor(np.zeros(3), requires_grad=True)
    g = np.ones(3)
    graph(x).backward(g, create_graph=create_graph)
    g[:] = 5.0
    np.testing.assert_array_equal(x.grad.data, np.ones(3))


# ---- higher order ---------------------------------------------------------------------------------
@given(hnp.arrays(np.float64, st.integers(1, 5), elements=FLOATS))
def test_create_graph_makes_grad_differentiable(arr):
    x = Tensor(arr, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    first = x.grad
    np.testing.assert_allclose(first.data, 3 * arr**2, rtol=1e-12)
    assert first.requires_grad and first.grad_fn is not None
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * arr, rtol=1e-12, atol=1e-12)


def test_without_create_graph_grad_is_a_constant():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x**3).sum().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None


# ---- float32 end to end -----------------------------------------------------------------------------
def _mlp_graph(rng):
    n, d, hidden, classes = 8, 5, 6, 3
    x = Tensor(rng.normal(size=(n, d)).astype(np.float32))
    labels = rng.integers(0, classes, size=n)
    w1 = Tensor((rng.normal(size=(d, hidden)) * 0.5).astype(np.float32), requires_grad=True)
    b1 = Tensor(np.full(hidden, 0.1, dtype=np.float32), requires_grad=True)
    w2 = Tensor((rng.normal(size=(hidden, classes)) * 0.5).astype(np.float32), requires_grad=True)
    b2 = Tensor(np.zeros(classes, dtype=np.float32), requires_grad=True)
    h = (x @ w1 + b1).relu()
    log_probs = (h @ w2 + b2).log_softmax(axis=-1)
    loss = -log_probs[np.arange(n), labels].mean()
    return x, labels, (w1, b1, w2, b2), loss


def test_float32_training_graph_has_float32_gradients_everywhere():
    x, labels, params, loss = _mlp_graph(np.random.default_rng(0))
    assert loss.dtype == np.float32
    graph = toposort([loss])
    assert all(t.dtype == np.float32 for t in graph), [(t.grad_fn, t.dtype) for t in graph]
    # gradients of every tensor in the graph, intermediates included, as the engine computes them
    grads = autograd.grad(loss, graph, retain_graph=True)
    bad = [(t.grad_fn, g.dtype) for t, g in zip(graph, grads) if g.dtype != np.float32]
    assert not bad
    loss.backward()
    expected = mlp_grads(x.data, labels, *(p.data for p in params))
    for p, ref in zip(params, expected):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.data, ref, rtol=1e-4, atol=1e-6)


def test_a_primitive_hands_what_its_forward_saved_to_its_vjps():
    received = []

    def forward(a):
        return a * 2, a.sum()  # the output, then what the VJP will want

    def vjp(g, out, a, total):
        received.append(total)
        return g * 2

    double = rules.Primitive("double_saving_sum", forward, vjp, saves=("total",))
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = double(x)
    np.testing.assert_array_equal(y.data, [2.0, 4.0])
    y.sum().backward()
    assert received == [3.0]
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    with no_grad():
        untracked = double(x)
    assert untracked.grad_fn is None and untracked.data.tolist() == [2.0, 4.0]
