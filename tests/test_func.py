"""``tinygrad_mnist.func`` against independent oracles: central finite differences, the other mode
(jacfwd == jacrev, hessian == jacrev(jacrev)), the plain reverse mode, and the errors it words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_mnist as tm
from tinygrad_mnist import nn
from tinygrad_mnist.autograd import forward_ad
from tinygrad_mnist.func import functional_call, grad, hessian, jacfwd, jacrev, jvp, vjp
from tinygrad_mnist.nn import functional as F

RNG = np.random.default_rng(17)


def t(array: Any) -> tm.Tensor:
    return tm.tensor(np.asarray(array, dtype=np.float64))


def numeric_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, shaped f(x).shape + x.shape."""
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        jac[(..., *index)] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
    return jac


FUNCTIONS: dict[str, Callable[[tm.Tensor], tm.Tensor]] = {
    "elementwise": lambda x: (x.sin() * x.exp()).tanh(),
    "matmul": lambda x: x.reshape(2, 3) @ t(np.arange(6.0).reshape(3, 2) / 5),
    "reductions": lambda x: tm.stack([x.mean(), x.amax(), (x * x).sum().sqrt()]),
    "softmax": lambda x: x.reshape(2, 3).softmax(dim=1) + x.reshape(2, 3).log_softmax(dim=0),
}


def as_numpy(f: Callable[[tm.Tensor], tm.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda a: f(t(a)).numpy()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jacobians_match_finite_differences_and_each_other(name: str) -> None:
    f, x = FUNCTIONS[name], RNG.normal(size=6)
    expected = numeric_jacobian(as_numpy(f), x)
    backward, forward = jacrev(f)(t(x)), jacfwd(f)(t(x))
    np.testing.assert_allclose(backward.numpy(), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(forward.numpy(), backward.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_grad_jvp_and_vjp_match_finite_differences(name: str) -> None:
    f, x, v = FUNCTIONS[name], RNG.normal(size=6), RNG.normal(size=6)
    expected = numeric_jacobian(as_numpy(f), x)
    scalar = lambda y: (f(y) * f(y)).sum()  # noqa: E731
    np.testing.assert_allclose(grad(scalar)(t(x)).numpy(), numeric_jacobian(as_numpy(scalar), x),
                               rtol=1e-6, atol=1e-8)
    out, product = jvp(f, (t(x),), (t(v),))
    np.testing.assert_allclose(product.numpy(), expected @ v, rtol=1e-6, atol=1e-8)
    u = RNG.normal(size=out.shape)
    _, vjp_fn = vjp(f, t(x))
    (pulled,) = vjp_fn(t(u))
    np.testing.assert_allclose(pulled.numpy(), np.tensordot(u, expected, axes=u.ndim), rtol=1e-6, atol=1e-8)
    # u . (J v) == (J^T u) . v exactly up to rounding: the two modes agree with each other
    assert float((t(u) * product).sum().item()) == pytest.approx(float(pulled.numpy() @ v), rel=1e-12, abs=1e-12)


def test_hessian_is_forward_over_reverse_and_matches_reverse_over_reverse() -> None:
    f = lambda x: (x.tanh() * x.sum()).sum() + x.logsumexp(dim=0)  # noqa: E731
    x = RNG.normal(size=4)
    h = hessian(f)(t(x)).numpy()
    np.testing.assert_allclose(h, jacrev(jacrev(f))(t(x)).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, numeric_jacobian(lambda a: grad(f)(t(a)).numpy(), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h, h.T, atol=1e-12)


def test_grad_nests_to_any_order_without_mixing_variables() -> None:
    x = t(0.3)
    f = lambda x: x.sin() * x ** 3  # noqa: E731
    d1, d2, d3 = grad(f), grad(grad(f)), grad(grad(grad(f)))
    v = 0.3
    assert d1(x).item() == pytest.approx(np.cos(v) * v ** 3 + 3 * v ** 2 * np.sin(v), rel=1e-12)
    assert d2(x).item() == pytest.approx(numeric_jacobian(lambda a: d1(t(a)).numpy(), np.array(v)), rel=1e-7)
    assert d3(x).item() == pytest.approx(numeric_jacobian(lambda a: d2(t(a)).numpy(), np.array(v)), rel=1e-6)
    # d/dx [x * d/dy (x + y)] = 1 (a mix-up of x and y would give 2)
    assert grad(lambda x: x * grad(lambda y: x + y)(x))(x).item() == 1.0
    assert grad(lambda x: grad(lambda y: x * y)(t(5.0)))(x).item() == 1.0  # the inner input is unrelated


def test_transforms_compose_across_modes() -> None:
    f = lambda x: (x.exp() * x.sum()).sum()  # noqa: E731
    x, v = RNG.normal(size=3), RNG.normal(size=3)
    h = jacrev(jacrev(f))(t(x)).numpy()
    _, hv = jvp(grad(f), (t(x),), (t(v),))  # forward over reverse
    np.testing.assert_allclose(hv.numpy(), h @ v, rtol=1e-12)
    vh = grad(lambda y: jvp(f, (y,), (t(v),))[1])(t(x))  # reverse over forward
    np.testing.assert_allclose(vh.numpy(), h @ v, rtol=1e-12)
    third = jacrev(hessian(f))(t(x)).numpy()  # reverse over forward over reverse
    np.testing.assert_allclose(third, numeric_jacobian(lambda a: hessian(f)(t(a)).numpy(), x), rtol=1e-6, atol=1e-6)


def test_results_are_cut_from_the_graph_unless_someone_outside_needs_them() -> None:
    x = t([1.0, 2.0])
    assert not grad(lambda x: (x * x).sum())(x).requires_grad
    assert not hessian(lambda x: (x ** 3).sum())(x).requires_grad
    assert not any(r.requires_grad for r in jvp(grad(lambda y: (y ** 3).sum()), (x,), (x,)))
    w = tm.tensor([3.0, 4.0], dtype=tm.float64, requires_grad=True)
    g = grad(lambda x: (w * x * x).sum())(x)
    assert g.requires_grad  # d/dw of the gradient is reachable, as in PyTorch
    g.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * x.numpy())
    leaf = tm.tensor(2.0, dtype=tm.float64, requires_grad=True)
    g = grad(lambda x: x ** 3)(leaf)
    g.backward()
    assert leaf.grad.item() == 12.0
    with tm.no_grad():  # recording is switched off outside, not inside the transform
        assert grad(lambda x: (x * x).sum())(x).numpy().tolist() == [2.0, 4.0]


def test_functional_call_gradients_equal_backward_and_the_module_is_restored() -> None:
    tm.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = tm.randn(5, 3, dtype=tm.float64), tm.tensor([0, 1, 1, 0, 1])
    g = grad(lambda p, x, y: F.cross_entropy(functional_call(model, p, (x,)), y))(params, x, y)
    F.cross_entropy(model(x), y).backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(g[name].numpy(), p.grad.numpy(), rtol=1e-12)
        assert isinstance(p, nn.Parameter)
    before = dict(model.named_parameters())
    with pytest.raises(ValueError):  # the call raises: the module's own parameters are back all the same
        functional_call(model, {"0.weight": tm.ones(9, 9, dtype=tm.float64)}, (x,))
    assert list(before) == [k for k, _ in model.named_parameters()]
    assert all(before[k] is v for k, v in model.named_parameters())


def test_functional_call_replaces_buffers_and_adds_no_state() -> None:
    norm = nn.BatchNorm1d(2).eval()
    mean = tm.tensor([1.0, -1.0])
    out = functional_call(norm, {"running_mean": mean}, tm.zeros(3, 2))
    np.testing.assert_allclose(out.numpy(), np.tile([-1.0, 1.0], (3, 1)) / np.sqrt(1 + 1e-5), rtol=1e-6)
    assert norm.running_mean.numpy().tolist() == [0.0, 0.0]


def test_forward_mode_does_not_nest() -> None:
    with pytest.raises(RuntimeError, match="jacfwd: forward mode does not nest"):
        jacfwd(jacfwd(lambda x: x.sin()))(t([1.0]))
    with forward_ad.dual_level(), pytest.raises(RuntimeError, match="jvp: forward mode does not nest"):
        jvp(lambda x: x, (t(1.0),), (t(1.0),))


def test_jacfwd_randomness_policies() -> None:
    noisy = lambda x: x * tm.randn(2, dtype=tm.float64)  # noqa: E731
    with pytest.raises(RuntimeError, match="jacfwd: func draws random numbers"):
        jacfwd(noisy)(t([1.0, 2.0]))
    same = jacfwd(noisy, randomness="same")(t([1.0, 2.0])).numpy()
    assert same[0, 1] == same[1, 0] == 0.0  # each column saw the same draws: a diagonal Jacobian
    with pytest.raises(ValueError, match="jacfwd: randomness must be one of"):
        jacfwd(noisy, randomness="sometimes")


ERRORS = [
    (lambda: grad(3), TypeError, "grad: func must be callable, got int 3"),
    (lambda: grad(lambda x: x, argnums="0"), TypeError, "grad: argnums must be an int or a tuple of ints, got '0'"),
    (lambda: grad(lambda x: x, argnums=()), ValueError, r"grad: argnums must be an int or a non-empty tuple"),
    (lambda: grad(lambda x: x.sum(), argnums=2)(t(1.0)), ValueError,
     r"grad: argnums 2 is out of range for a call with 1 positional argument"),
    (lambda: jacrev(lambda x, y: x, argnums=(1, -1))(t(1.0), t(1.0)), ValueError,
     r"jacrev: argnums must be unique, got \(1, -1\)"),
    (lambda: grad(lambda x: x * 2)(t([1.0, 2.0])), RuntimeError,
     r"grad: func must return a scalar \(0-dimensional\) Tensor, got shape \(2,\)"),
    (lambda: grad(lambda x: 3.0)(t(1.0)), TypeError, "grad: func's output must be a Tensor, got float 3.0"),
    (lambda: grad(lambda x: x.sum(), has_aux=True)(t([1.0])), TypeError,
     "grad: with has_aux=True, func must return a tuple \\(output, aux\\), got Tensor"),
    (lambda: grad(lambda x: (x.sum(), 3), has_aux=True)(t([1.0])), TypeError,
     "grad: the aux output must hold only Tensors, got int 3"),
    (lambda: grad(lambda x: x.sum())([t(1.0), 2.0]), TypeError,
     r"grad: argument 0 \(leaf 1 of \[\*, \*\]\) must be a Tensor .* got float 2.0"),
    (lambda: grad(lambda x: x.sum())(tm.tensor([1, 2])), TypeError,
     "grad: argument 0 must be floating point to be differentiated, got dtype int64"),
    (lambda: vjp(lambda x: x, t([1.0]))[1](t([1.0, 2.0])), ValueError,
     r"vjp_fn: cotangent 0 has shape \(2,\), expected the output's shape \(1,\)"),
    (lambda: vjp(lambda x: (x, x), t([1.0]))[1](t([1.0])), ValueError,
     r"vjp_fn: cotangents must have the structure of func's output, \(\*, \*\), got \*"),
    (lambda: jvp(lambda x: x, (t([1.0]),), (t([1.0, 2.0]),)), ValueError,
     r"jvp: tangent 0 has shape \(2,\), expected its primal's shape \(1,\)"),
    (lambda: jvp(lambda x: x, (t([1.0]),), (tm.tensor([1.0]),)), TypeError,
     "jvp: tangent 0 has dtype float32, expected its primal's dtype float64"),
    (lambda: jvp(lambda x: x, [t(1.0)], [t(1.0)]), TypeError, "jvp: primals must be a tuple"),
    (lambda: jvp(lambda x: x, (t(1.0),), (t(1.0), t(1.0))), ValueError,
     r"jvp: tangents must have the structure of primals, \(\*,\), got \(\*, \*\)"),
    (lambda: jvp(lambda x: x, (t(1.0),), (t(1.0),), strict=True), NotImplementedError, "jvp: strict=True"),
    (lambda: jacrev(lambda x: x, chunk_size=0), ValueError, "jacrev: chunk_size must be a positive int or None, got 0"),
    (lambda: functional_call(3, {}, ()), TypeError, "functional_call: module must be an nn.Module, got int"),
    (lambda: functional_call(nn.Linear(1, 1), {"weight": 3.0}, ()), TypeError,
     "functional_call: the value for 'weight' must be a Tensor, got float 3.0"),
    (lambda: functional_call(nn.Linear(1, 1), {"x.weight": t(1.0)}, ()), AttributeError,
     "functional_call: Linear has no submodule 'x'"),
    (lambda: functional_call(nn.Linear(1, 1), {"weight": t([[1.0]])}, (), strict=True), RuntimeError,
     "functional_call: with strict=True .* missing key\\(s\\): 'bias'"),
]


@pytest.mark.parametrize("call, kind, message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_errors_name_the_function_the_argument_and_the_value(call: Callable[[], Any], kind: type,
                                                             message: str) -> None:
    with pytest.raises(kind, match=message):
        call()
