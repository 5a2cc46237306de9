"""``jacobian``, ``hessian``, ``vjp``, ``jvp`` and ``hvp`` against closed forms and finite differences.

Expected values are closed forms written here in numpy (x^T A x, softmax,
cross-entropy, tanh layers) or central differences of numpy reimplementations;
nothing is copied from the implementation.
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor, autograd, manual_seed, nn
from tinygrad_mnist.autograd import hessian, hvp, jacobian, jvp, vjp
from tinygrad_mnist.nn import functional as F

FLOATS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


def arrays(shape, elements=FLOATS):
    return hnp.arrays(np.float64, shape, elements=elements)


def np_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def finite_difference_jacobian(fn, xs, eps=1e-6):
    """Central differences of a numpy function ``fn(*xs) -> tuple of arrays``: J[o][i] of shape
    out_o.shape + in_i.shape."""
    outs = fn(*xs)
    blocks = [[np.zeros(o.shape + x.shape) for x in xs] for o in outs]
    for i, x in enumerate(xs):
        for k in np.ndindex(x.shape):
            plus, minus = [a.copy() for a in xs], [a.copy() for a in xs]
            plus[i][k] += eps
            minus[i][k] -= eps
            for o, (p, m) in enumerate(zip(fn(*plus), fn(*minus))):
                blocks[o][i][(...,) + k] = (p - m) / (2 * eps)
    return blocks


# ---- Hessians: closed forms ---------------------------------------------------------------------
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(arrays((n, n)), arrays((n,)))))
def test_hessian_of_a_quadratic_form_is_a_plus_a_transpose(data):
    a_arr, x_arr = data
    A = Tensor(a_arr)
    H = hessian(lambda x: x @ (A @ x), Tensor(x_arr))
    assert H.shape == (len(x_arr), len(x_arr))
    np.testing.assert_allclose(H.data, a_arr + a_arr.T, rtol=1e-12, atol=1e-12)


@given(st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
    lambda s: st.tuples(arrays(s), arrays((s[0],)), arrays((s[1],)))
))
def test_hessian_of_a_bilinear_form_has_a_in_the_off_diagonal_blocks(data):
    a_arr, x_arr, y_arr = data
    A = Tensor(a_arr)
    (hxx, hxy), (hyx, hyy) = hessian(lambda x, y: x @ (A @ y), (Tensor(x_arr), Tensor(y_arr)))
    n, m = a_arr.shape
    assert (hxx.shape, hxy.shape, hyx.shape, hyy.shape) == ((n, n), (n, m), (m, n), (m, m))
    np.testing.assert_allclose(hxy.data, a_arr, rtol=1e-12)
    np.testing.assert_allclose(hyx.data, a_arr.T, rtol=1e-12)
    np.testing.assert_array_equal(hxx.data, np.zeros((n, n)))
    np.testing.assert_array_equal(hyy.data, np.zeros((m, m)))


def tanh_layer_energy_hessian(a_arr, x_arr):
    """Hessian of f(x) = sum(tanh(A x)) + (x.x)^2 / 4."""
    t = np.tanh(a_arr @ x_arr)
    return a_arr.T @ np.diag(-2 * t * (1 - t**2)) @ a_arr + (x_arr @ x_arr) * np.eye(len(x_arr)) + 2 * np.outer(
        x_arr, x_arr
    )


def tanh_layer_energy(A):
    return lambda x: (A @ x).tanh().sum() + (x @ x) * (x @ x) * 0.25


HVP_CASES = st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
    lambda s: st.tuples(arrays(s), arrays((s[1],)), arrays((s[1],)))
)


@given(HVP_CASES)
def test_hessian_of_a_tanh_layer_matches_the_closed_form(data):
    a_arr, x_arr, _ = data
    H = hessian(tanh_layer_energy(Tensor(a_arr)), Tensor(x_arr))
    np.testing.assert_allclose(H.data, tanh_layer_energy_hessian(a_arr, x_arr), rtol=1e-10, atol=1e-12)


@given(HVP_CASES)
def test_hvp_equals_hessian_times_v(data):
    a_arr, x_arr, v_arr = data
    fn = tanh_layer_energy(Tensor(a_arr))
    value, product = hvp(fn, Tensor(x_arr), Tensor(v_arr))
    expected_value = np.tanh(a_arr @ x_arr).sum() + (x_arr @ x_arr) ** 2 / 4
    assert value.item() == pytest.approx(expected_value, rel=1e-12, abs=1e-12)
    assert not value.requires_grad and not product.requires_grad
    H = hessian(fn, Tensor(x_arr)).data
    np.testing.assert_allclose(product.data, H @ v_arr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(product.data, tanh_layer_energy_hessian(a_arr, x_arr) @ v_arr, rtol=1e-9, atol=1e-12)


def test_hvp_with_several_inputs_uses_every_block():
    # f(x, y) = sum(x^2 y): H = [[2 diag(y), 2 diag(x)], [2 diag(x), 0]]
    x_arr, y_arr = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    vx, vy = np.array([1.0, -2.0]), np.array([0.25, 4.0])
    _, (hx, hy) = hvp(lambda x, y: (x * x * y).sum(), (Tensor(x_arr), Tensor(y_arr)), (vx, vy))
    np.testing.assert_allclose(hx.data, 2 * y_arr * vx + 2 * x_arr * vy)
    np.testing.assert_allclose(hy.data, 2 * x_arr * vx)


# ---- softmax and cross-entropy ------------------------------------------------------------------
@given(st.integers(1, 6).flatmap(lambda n: arrays((n,), st.floats(-5.0, 5.0))))
def test_jacobian_of_softmax_is_diag_s_minus_s_s_transpose(z):
    s = np_softmax(z)
    J = jacobian(lambda t: t.softmax(axis=0), Tensor(z))
    np.testing.assert_allclose(J.data, np.diag(s) - np.outer(s, s), rtol=1e-9, atol=1e-12)


@given(st.tuples(st.integers(1, 3), st.integers(1, 4)).flatmap(lambda s: arrays(s, st.floats(-5.0, 5.0))))
def test_jacobian_of_a_row_softmax_is_block_diagonal(z):
    n, k = z.shape
    s = np_softmax(z, axis=1)
    J = jacobian(lambda t: F.softmax(t, axis=1), Tensor(z))
    assert J.shape == (n, k, n, k)
    for a in range(n):
        for b in range(n):
            expected = np.diag(s[a]) - np.outer(s[a], s[a]) if a == b else np.zeros((k, k))
            np.testing.assert_allclose(J.data[a, :, b, :], expected, rtol=1e-9, atol=1e-12)


def cross_entropy_hessian(z):
    """Hessian of mean CE with respect to vec(z): block diagonal, blocks (diag(s_n) - s_n s_n^T) / N."""
    n, k = z.shape
    s = np_softmax(z, axis=1)
    H = np.zeros((n * k, n * k))
    for row in range(n):
        H[row * k:(row + 1) * k, row * k:(row + 1) * k] = (np.diag(s[row]) - np.outer(s[row], s[row])) / n
    return H


@given(
    st.tuples(st.integers(1, 4), st.integers(2, 4)).flatmap(
        lambda s: st.tuples(
            arrays(s, st.floats(-4.0, 4.0)), hnp.arrays(np.int64, (s[0],), elements=st.integers(0, s[1] - 1))
        )
    )
)
def test_hessian_of_mean_cross_entropy_with_respect_to_the_logits(data):
    z, y = data
    n, k = z.shape
    H = hessian(lambda logits: F.cross_entropy(logits, y), Tensor(z))
    assert H.shape == (n, k, n, k)
    np.testing.assert_allclose(H.data.reshape(n * k, n * k), cross_entropy_hessian(z), rtol=1e-9, atol=1e-12)


def test_hessian_of_an_mlp_loss_with_respect_to_its_logits():
    manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4))
    rng = np.random.default_rng(1)
    inputs = Tensor(rng.standard_normal((5, 6)).astype(np.float32))
    targets = np.array([0, 3, 1, 1, 2])
    z = model(inputs).data.astype(np.float64)
    H = hessian(lambda logits: F.cross_entropy(logits, targets), Tensor(z))
    np.testing.assert_allclose(H.data.reshape(20, 20), cross_entropy_hessian(z), rtol=1e-9, atol=1e-12)
    # positive semi-definite with vec(1)-style null vectors: each row block annihilates ones(K)
    assert np.linalg.eigvalsh(H.data.reshape(20, 20)).min() > -1e-12
    np.testing.assert_allclose(H.data.reshape(20, 20) @ np.ones(20), np.zeros(20), atol=1e-12)


# ---- jvp and vjp against the Jacobian -------------------------------------------------------------
def tanh_layer_times_sum(A):
    return lambda x: (A @ x).tanh() * x.sum()


def tanh_layer_times_sum_jacobian(a_arr, x_arr):
    t = np.tanh(a_arr @ x_arr)
    return np.diag(1 - t**2) @ a_arr * x_arr.sum() + np.outer(t, np.ones(len(x_arr)))


LAYER_CASES = st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
    lambda s: st.tuples(arrays(s), arrays((s[1],)), arrays((s[1],)), arrays((s[0],)))
)


@given(LAYER_CASES)
def test_jacobian_matches_its_closed_form(data):
    a_arr, x_arr, _, _ = data
    J = jacobian(tanh_layer_times_sum(Tensor(a_arr)), Tensor(x_arr))
    assert J.shape == a_arr.shape
    np.testing.assert_allclose(J.data, tanh_layer_times_sum_jacobian(a_arr, x_arr), rtol=1e-10, atol=1e-12)


@given(LAYER_CASES)
def test_jvp_equals_jacobian_times_v(data):
    a_arr, x_arr, v_arr, _ = data
    fn = tanh_layer_times_sum(Tensor(a_arr))
    value, product = jvp(fn, Tensor(x_arr), Tensor(v_arr))
    np.testing.assert_allclose(value.data, np.tanh(a_arr @ x_arr) * x_arr.sum(), rtol=1e-12, atol=1e-15)
    J = jacobian(fn, Tensor(x_arr)).data
    np.testing.assert_allclose(product.data, J @ v_arr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(product.data, tanh_layer_times_sum_jacobian(a_arr, x_arr) @ v_arr, rtol=1e-9, atol=1e-12)


def double_vjp(fn, x, v):
    """J v by two reverse passes: J^T u is linear in u, so its gradient along v with respect to u is J v."""
    leaf = x.detach().requires_grad_()
    out = fn(leaf)
    u = Tensor(np.zeros(out.shape), requires_grad=True)
    (transposed,) = autograd.grad(out, [leaf], grad_outputs=u, create_graph=True)
    (product,) = autograd.grad((transposed * v).sum(), [u])
    return product


@given(LAYER_CASES)
def test_forward_mode_jvp_equals_the_double_vjp_trick(data):
    a_arr, x_arr, v_arr, _ = data
    fn = tanh_layer_times_sum(Tensor(a_arr))
    _, forward = jvp(fn, Tensor(x_arr), Tensor(v_arr))
    np.testing.assert_allclose(forward.data, double_vjp(fn, Tensor(x_arr), Tensor(v_arr)).data,
                               rtol=1e-12, atol=1e-14)


@given(LAYER_CASES)
def test_vjp_equals_v_times_jacobian(data):
    a_arr, x_arr, _, u_arr = data
    fn = tanh_layer_times_sum(Tensor(a_arr))
    value, product = vjp(fn, Tensor(x_arr), u_arr)
    np.testing.assert_allclose(value.data, np.tanh(a_arr @ x_arr) * x_arr.sum(), rtol=1e-12, atol=1e-15)
    J = jacobian(fn, Tensor(x_arr)).data
    np.testing.assert_allclose(product.data, u_arr @ J, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(product.data, u_arr @ tanh_layer_times_sum_jacobian(a_arr, x_arr), rtol=1e-9, atol=1e-12)


@given(st.tuples(st.integers(1, 3), st.integers(1, 3)).flatmap(
    lambda s: st.tuples(arrays(s), arrays(s), arrays((s[1], s[0])))
))
def test_jvp_and_vjp_of_matrix_valued_functions_contract_the_right_axes(data):
    # g(X) = exp(X) @ X.T maps (m, n) to (m, m): J has shape (m, m, m, n)
    x_arr, v_arr, _ = data
    u_arr = np.random.default_rng(0).standard_normal((x_arr.shape[0],) * 2)

    def g(x):
        return x.exp() @ x.T

    J = jacobian(g, Tensor(x_arr)).data
    fd = finite_difference_jacobian(lambda x: (np.exp(x) @ x.T,), [x_arr])[0][0]
    assert J.shape == fd.shape == (x_arr.shape[0],) * 2 + x_arr.shape
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-7)
    _, jv = jvp(g, Tensor(x_arr), v_arr)
    np.testing.assert_allclose(jv.data, np.tensordot(J, v_arr, axes=2), rtol=1e-10, atol=1e-12)
    _, uj = vjp(g, Tensor(x_arr), u_arr)
    np.testing.assert_allclose(uj.data, np.tensordot(u_arr, J, axes=2), rtol=1e-10, atol=1e-12)


def test_vjp_without_v_for_a_scalar_output_is_the_gradient():
    x_arr = np.array([0.5, -1.5, 2.0])
    value, g = vjp(lambda x: (x * x.exp()).sum(), Tensor(x_arr))
    assert value.item() == pytest.approx(np.sum(x_arr * np.exp(x_arr)))
    np.testing.assert_allclose(g.data, (1 + x_arr) * np.exp(x_arr), rtol=1e-12)


# ---- tuples of inputs and outputs ---------------------------------------------------------------------
M = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]])


def several_outputs(a, b):
    """a (2, 3), b (3,) -> tanh(a @ b) (2,), exp(a) * b (2, 3), b * b (3,) (independent of a)."""
    return (a @ b).tanh(), a.exp() * b, b * b, (a @ Tensor(M)).sum()


def several_outputs_np(a, b):
    return np.tanh(a @ b), np.exp(a) * b, b * b, np.array((a @ M).sum())


@given(arrays((2, 3)), arrays((3,)))
def test_jacobian_with_tuples_of_inputs_and_outputs(a_arr, b_arr):
    blocks = jacobian(several_outputs, (Tensor(a_arr), Tensor(b_arr)))
    fd = finite_difference_jacobian(several_outputs_np, [a_arr, b_arr])
    out_shapes, in_shapes = [(2,), (2, 3), (3,), ()], [(2, 3), (3,)]
    assert isinstance(blocks, tuple) and len(blocks) == 4
    for o, row in enumerate(blocks):
        assert isinstance(row, tuple) and len(row) == 2
        for i, block in enumerate(row):
            assert block.shape == out_shapes[o] + in_shapes[i], (o, i)
            np.testing.assert_allclose(block.data, fd[o][i], rtol=1e-6, atol=1e-8, err_msg=f"block ({o}, {i})")
    np.testing.assert_array_equal(blocks[2][0].data, np.zeros((3, 2, 3)))  # b * b ignores a
    np.testing.assert_allclose(blocks[3][0].data, np.broadcast_to(M.sum(axis=1), (2, 3)), rtol=1e-12)
    np.testing.assert_array_equal(blocks[3][1].data, np.zeros(3))


def test_jacobian_with_one_input_and_several_outputs_gives_one_block_per_output():
    x_arr = np.array([0.5, -1.0])
    J0, J1 = jacobian(lambda x: (x * x, x.sum() * 3.0), Tensor(x_arr))
    np.testing.assert_allclose(J0.data, np.diag(2 * x_arr))
    np.testing.assert_allclose(J1.data, [3.0, 3.0])


def test_jacobian_with_a_list_of_one_input_returns_a_tuple():
    x_arr = np.array([0.5, -1.0])
    (J,) = jacobian(lambda x: x.exp(), [Tensor(x_arr)])
    np.testing.assert_allclose(J.data, np.diag(np.exp(x_arr)))


def test_jvp_and_vjp_with_several_inputs():
    a_arr, b_arr = np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.2]]), np.array([0.7, -1.3, 0.4])
    va, vb = np.ones((2, 3)) * 0.5, np.array([1.0, 2.0, -1.0])
    u = np.array([0.3, -2.0])
    fn = lambda a, b: (a @ b).tanh()  # noqa: E731
    ((ja, jb),) = finite_difference_jacobian(lambda a, b: (np.tanh(a @ b),), [a_arr, b_arr])

    _, product = jvp(fn, (Tensor(a_arr), Tensor(b_arr)), (va, vb))
    np.testing.assert_allclose(product.data, np.tensordot(ja, va, axes=2) + jb @ vb, rtol=1e-6)
    _, (ga, gb) = vjp(fn, (Tensor(a_arr), Tensor(b_arr)), u)
    np.testing.assert_allclose(ga.data, np.tensordot(u, ja, axes=1), rtol=1e-6)
    np.testing.assert_allclose(gb.data, u @ jb, rtol=1e-6)


# ---- create_graph: a differentiable Jacobian -----------------------------------------------------------
@given(st.tuples(st.integers(1, 3), st.integers(1, 3)).flatmap(lambda s: st.tuples(arrays(s), arrays((s[1],)))))
def test_jacobian_with_create_graph_is_differentiable(data):
    # J_ij = (1 - t_i^2) A_ij with t = tanh(A x);  dJ_ij/dx_k = -2 t_i (1 - t_i^2) A_ij A_ik
    a_arr, x_arr = data
    A = Tensor(a_arr)
    x = Tensor(x_arr, requires_grad=True)
    J = jacobian(lambda v: (A @ v).tanh(), x, create_graph=True)
    assert J.requires_grad
    t = np.tanh(a_arr @ x_arr)
    np.testing.assert_allclose(J.data, (1 - t**2)[:, None] * a_arr, rtol=1e-12, atol=1e-15)

    def np_jacobian(v):
        tv = np.tanh(a_arr @ v)
        return (1 - tv**2)[:, None] * a_arr

    (fd,) = finite_difference_jacobian(lambda v: (np_jacobian(v),), [x_arr])[0]
    for i, j in np.ndindex(a_arr.shape):
        (dJ,) = autograd.grad(J[i, j], x, retain_graph=True, allow_unused=True)
        closed = -2 * t[i] * (1 - t[i] ** 2) * a_arr[i, j] * a_arr[i]
        got = np.zeros_like(x_arr) if dJ is None else dJ.data
        np.testing.assert_allclose(got, closed, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got, fd[i, j], rtol=1e-5, atol=1e-7)


def test_jacobian_without_create_graph_is_a_constant():
    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    J = jacobian(lambda v: v.tanh() * v, x)
    assert not J.requires_grad and J.grad_fn is None


def test_transforms_leave_the_callers_tensors_alone():
    x_arr = np.array([0.5, -1.0])
    x = Tensor(x_arr.copy(), requires_grad=True)
    c = Tensor(x_arr.copy())
    fn = lambda v: (v * v * v).sum()  # noqa: E731
    for t in (x, c):
        jacobian(fn, t)
        hessian(fn, t)
        vjp(fn, t)
        jvp(fn, t, np.ones(2))
        hvp(fn, t, np.ones(2))
    assert x.grad is None and x.requires_grad and x.is_leaf
    assert c.grad is None and not c.requires_grad
    np.testing.assert_array_equal(x.data, x_arr)
    np.testing.assert_array_equal(c.data, x_arr)


# ---- inputs a function ignores --------------------------------------------------------------------------
def uses_only_a(a, b):
    return (a * a).sum() * 0.5


def test_an_ignored_input_gives_zero_blocks_everywhere():
    a_arr, b_arr = np.array([0.5, -1.0]), np.array([[2.0, 3.0, 4.0]])
    a, b = Tensor(a_arr), Tensor(b_arr)

    ((ja, jb),) = jacobian(lambda p, q: (uses_only_a(p, q),), (a, b))
    np.testing.assert_allclose(ja.data, a_arr)
    assert jb.shape == (1, 3) and not jb.data.any()

    (haa, hab), (hba, hbb) = hessian(uses_only_a, (a, b))
    np.testing.assert_allclose(haa.data, np.eye(2))
    assert hab.shape == (2, 1, 3) and hba.shape == (1, 3, 2) and hbb.shape == (1, 3, 1, 3)
    assert not hab.data.any() and not hba.data.any() and not hbb.data.any()

    _, (ga, gb) = vjp(uses_only_a, (a, b))
    np.testing.assert_allclose(ga.data, a_arr)
    assert gb.shape == (1, 3) and not gb.data.any()

    _, product = jvp(uses_only_a, (a, b), (np.array([1.0, 2.0]), np.ones((1, 3)) * 7.0))
    assert product.item() == pytest.approx(a_arr @ [1.0, 2.0])

    _, (pa, pb) = hvp(uses_only_a, (a, b), (np.array([1.0, 2.0]), np.ones((1, 3))))
    np.testing.assert_allclose(pa.data, [1.0, 2.0])
    assert pb.shape == (1, 3) and not pb.data.any()


def test_a_linear_function_has_a_zero_hessian():
    A = Tensor(np.array([1.0, -2.0, 3.0]))
    H = hessian(lambda x: (A * x).sum(), Tensor(np.array([0.1, 0.2, 0.3])))
    np.testing.assert_array_equal(H.data, np.zeros((3, 3)))
    _, product = hvp(lambda x: (A * x).sum(), Tensor(np.array([0.1, 0.2, 0.3])), np.ones(3))
    np.testing.assert_array_equal(product.data, np.zeros(3))


def test_a_constant_output_has_a_zero_jacobian():
    J = jacobian(lambda x: Tensor(np.ones(2)), Tensor(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_array_equal(J.data, np.zeros((2, 3)))


def _constant_hessian(x):
    return hessian(lambda t: Tensor(np.array(5.0)), x), np.zeros((3, 3))


def _constant_vjp(x):
    return vjp(lambda t: Tensor(np.ones(2)), x, np.ones(2))[1], np.zeros(3)


def _constant_jvp(x):
    return jvp(lambda t: Tensor(np.ones(2)), x, np.ones(3))[1], np.zeros(2)


def _constant_hvp(x):
    return hvp(lambda t: Tensor(np.array(5.0)), x, np.ones(3))[1], np.zeros(3)


@pytest.mark.parametrize("transform", [_constant_hessian, _constant_vjp, _constant_jvp, _constant_hvp],
                         ids=["hessian", "vjp", "jvp", "hvp"])
def test_a_function_ignoring_every_input_gives_zeros_from_every_transform(transform):
    result, expected = transform(Tensor(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_array_equal(result.data, expected)


# ---- errors ---------------------------------------------------------------------------------------------
INTEGER_CALLS = {
    "jacobian": lambda x: jacobian(lambda t: t * 2.0, x),
    "hessian": lambda x: hessian(lambda t: (t * t).sum(), x),
    "vjp": lambda x: vjp(lambda t: (t * t).sum(), x),
    "jvp": lambda x: jvp(lambda t: t * 2.0, x, np.ones(3)),
    "hvp": lambda x: hvp(lambda t: (t * t).sum(), x, np.ones(3)),
    "jacobian-tuple": lambda x: jacobian(lambda a, t: a * t, (Tensor(np.ones(3)), x)),
}


@pytest.mark.parametrize("call", INTEGER_CALLS.values(), ids=INTEGER_CALLS.keys())
def test_integer_inputs_raise_type_error(call):
    with pytest.raises(TypeError, match="int64"):
        call(Tensor(np.array([1, 2, 3], dtype=np.int64)))


@pytest.mark.parametrize("which", ["hessian", "hvp"])
@pytest.mark.parametrize("shape", [(2,), (2, 3)])
def test_hessian_and_hvp_of_a_non_scalar_raise_value_error(which, shape):
    x = Tensor(np.ones(shape))
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        if which == "hessian":
            hessian(lambda t: t * t, x)
        else:
            hvp(lambda t: t * t, x, np.ones(shape))


def test_hessian_accepts_a_one_element_output_of_any_shape():
    x_arr = np.array([0.5, -1.0])
    H = hessian(lambda t: (t * t * t).sum().reshape(1, 1), Tensor(x_arr))
    np.testing.assert_allclose(H.data, np.diag(6 * x_arr))


WRONG_V = {
    "vjp": lambda x, v: vjp(lambda t: t * 2.0, x, v),
    "jvp": lambda x, v: jvp(lambda t: t * 2.0, x, v),
    "hvp": lambda x, v: hvp(lambda t: (t * t).sum(), x, v),
}


@pytest.mark.parametrize("call", WRONG_V.values(), ids=WRONG_V.keys())
@pytest.mark.parametrize("v_shape", [(2,), (2, 1), (1, 3), (), (1, 1, 2)])
def test_v_of_the_wrong_shape_raises_value_error(call, v_shape):
    x = Tensor(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=re.escape(str(v_shape))):
        call(x, np.ones(v_shape))


def test_v_for_a_tuple_input_checks_each_shape():
    a, b = Tensor(np.ones(2)), Tensor(np.ones(3))
    with pytest.raises(ValueError, match=re.escape("(2,)")):
        jvp(lambda p, q: p.sum() * q, (a, b), (np.ones(2), np.ones(2)))
    with pytest.raises(ValueError, match=re.escape("(2,)")):
        hvp(lambda p, q: p.sum() * q.sum(), (a, b), (np.ones(2), np.ones(2)))


def test_vjp_of_a_non_scalar_without_v_raises_naming_the_shape():
    with pytest.raises(ValueError, match=re.escape("(2,)")):
        vjp(lambda t: t * 2.0, Tensor(np.ones(2)))


@pytest.mark.parametrize("which", ["jvp-too-few", "jvp-too-many", "hvp-too-few"])
def test_the_number_of_directions_must_match_the_number_of_inputs(which):
    a, b = Tensor(np.array([1.0, 2.0])), Tensor(np.array([3.0, 4.0]))
    with pytest.raises(ValueError):
        if which == "jvp-too-few":
            jvp(lambda p, q: p * q, (a, b), (np.ones(2),))
        elif which == "jvp-too-many":
            jvp(lambda p, q: p * q, (a, b), (np.ones(2), np.ones(2), np.ones(2)))
        else:
            hvp(lambda p, q: (p * q).sum(), (a, b), (np.ones(2),))
