"""Forward mode against reverse mode and finite differences, for every primitive.

For a function f with Jacobian J at x, forward mode gives ``J v`` and reverse
mode ``J^T u``; the two agree exactly when ``u . (J v) == (J^T u) . v`` for any
u and v (float64, to 1e-12 relative), and ``J v`` must match central finite
differences of f along v. Checked on every row of the op table of
``test_ops.py`` (hypothesis-drawn shapes and values) and on a list of programs
that between them call every primitive of the rule table with a tangent (the
last test makes sure none is missed). Second order: forward-over-reverse
Hessian-vector products equal reverse-over-reverse ones, and reverse mode
through a tangent (reverse-over-forward) equals the same derivative taken
twice in reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutants import random_program
from test_ops import CASES, SECOND_ORDER

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, autograd
from tinygrad_mnist.autograd import forward_ad as fwAD
from tinygrad_mnist.core import graph, rules
from tinygrad_mnist.nn import functional as F


def jvp(f: Callable[..., Tensor], xs: Sequence[np.ndarray], vs: Sequence[np.ndarray],
        requires_grad: bool = False) -> tuple[Tensor, Tensor, list[Tensor]]:
    """f(xs) and J v by forward mode, and the leaves (which require grad when asked)."""
    leaves = [Tensor(np.array(x, dtype=np.float64), requires_grad=requires_grad) for x in xs]
    with fwAD.dual_level():
        duals = [fwAD.make_dual(x, Tensor(np.array(v, dtype=np.float64))) for x, v in zip(leaves, vs, strict=True)]
        out = f(*duals)
        primal, tangent = fwAD.unpack_dual(out)
    assert tangent is not None, "no tangent reached the output"
    return primal, tangent, leaves


def vjp(f: Callable[..., Tensor], xs: Sequence[np.ndarray], u: np.ndarray) -> list[np.ndarray]:
    leaves = [Tensor(np.array(x, dtype=np.float64), requires_grad=True) for x in xs]
    out = f(*leaves)
    grads = autograd.grad(out, leaves, grad_outputs=Tensor(u), allow_unused=True)
    return [np.zeros_like(x) if g is None else g.data for g, x in zip(grads, xs, strict=True)]


def central_difference(f: Callable[..., Tensor], xs: Sequence[np.ndarray], vs: Sequence[np.ndarray],
                       eps: float = 1e-6) -> np.ndarray:
    plus = f(*[Tensor(np.asarray(x, dtype=np.float64) + eps * v) for x, v in zip(xs, vs, strict=True)]).data
    minus = f(*[Tensor(np.asarray(x, dtype=np.float64) - eps * v) for x, v in zip(xs, vs, strict=True)]).data
    return (plus - minus) / (2 * eps)


def check_forward_against_reverse(f: Callable[..., Tensor], xs: Sequence[np.ndarray], seed: int,
                                  finite_differences: bool = True, tolerance: float = 1e-12) -> None:
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(np.shape(x)) for x in xs]
    primal, tangent, _ = jvp(f, xs, vs)
    expected = f(*[Tensor(np.array(x, dtype=np.float64)) for x in xs])
    np.testing.assert_array_equal(primal.data, expected.data)  # forward mode changes no value
    assert tangent.shape == primal.shape and tangent.dtype == np.float64
    u = rng.standard_normal(primal.shape)
    forward = float(np.sum(u * tangent.data))
    reverse = sum(float(np.sum(g * v)) for g, v in zip(vjp(f, xs, u), vs, strict=True))
    scale = max(1.0, float(np.sum(np.abs(u * tangent.data))))
    assert abs(forward - reverse) <= tolerance * scale, (forward, reverse)
    if finite_differences:
        np.testing.assert_allclose(tangent.data, central_difference(f, xs, vs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
@settings(max_examples=5)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_forward_mode_agrees_with_reverse_mode_and_finite_differences(case, data, seed):
    arrays, params = data.draw(case.inputs)
    check_forward_against_reverse(lambda *ts: case.fn(*ts, **params), arrays, seed)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_forward_mode_on_random_programs(seed):
    """Random composites of several ops (broadcasting, reductions, reshapes, matmuls), every output at once."""
    program = random_program(seed)

    def flat(*inputs):
        return tm.cat([out.reshape(-1) for out in program.fn(*inputs)])

    check_forward_against_reverse(flat, program.arrays, seed)


# ---- programs that call every primitive with a tangent ----------------------------------------
def _pool_params() -> dict:
    x = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)
    node = F.max_pool2d(x, 2)._ctx
    return {**node.params, "position": node.saved["position"]}


def _conv_params() -> dict:
    return {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1), "groups": 1}


R = np.random.default_rng(0)
X4 = R.standard_normal((2, 2, 4, 4))
W4 = R.standard_normal((3, 2, 3, 3))
G4 = R.standard_normal((2, 3, 4, 4))
POS = R.uniform(0.5, 2.0, (2, 3))
AB = (R.standard_normal((2, 3)), R.standard_normal((2, 3)))
POOL = _pool_params()
PROGRAMS: dict[str, tuple[Callable[..., Tensor], tuple[np.ndarray, ...]]] = {
    "unary": (lambda x: x.exp() + x.tanh() + x.sin() * x.cos() + x.erf() + x.sigmoid() + x.relu() - x.expm1()
              + x.abs().log1p() + (-x), (AB[0],)),
    "log_and_pow": (lambda x, y: x.log() + x ** y + x / y.abs().exp(), (POS, AB[1])),
    "piecewise_constant": (lambda x: x.sign() + x.floor() + x.ceil() + x.round() + x, (AB[0],)),
    "maximum_where": (lambda a, b: a.maximum(b) + tm.where(a.data > 0, a, b) * 2, AB),
    "reductions": (lambda x: x.sum(dim=0) + x.amax(dim=0) + x.log_softmax(dim=1).sum(dim=0), (AB[0],)),
    "shapes": (lambda x: x.reshape(3, 2).T.broadcast_to((4, 2, 3))[1:, :, [0, 2, 2]].sum(dim=0), (AB[0],)),
    "pad_scatter": (lambda x: F.pad(x, (1, 2)) * 3, (AB[0],)),
    "matmul_linear": (lambda x, w, b: x @ w.T + F.linear(x, w, b), (AB[0], R.standard_normal((4, 3)),
                                                                    R.standard_normal(4))),
    "stack_cat_cast": (lambda a, b: tm.cat([a, tm.stack([a, b]).sum(dim=0)]).float().double(), AB),
    "conv_pool": (lambda x, w: F.max_pool2d(F.conv2d(x, w, padding=1, stride=1), 2), (X4, W4)),
    "conv_bias": (lambda x, w, b: F.conv2d(x, w, b, padding=1) * 2, (X4, W4, R.standard_normal(3))),
    "conv_grads": (lambda x, g, w: rules.conv2d_weight_grad(x, g, w_shape=W4.shape, **_conv_params()).sum()
                   + rules.conv2d_input_grad(g, w, x_shape=X4.shape, **_conv_params()).sum(), (X4, G4, W4)),
    "window_scatter_gather": (lambda g, x: rules.window_scatter(g, shape=(1, 1, 4, 4), **POOL)
                              + rules.window_gather(x, **POOL).sum(),
                              (R.standard_normal((1, 1, 2, 2)), R.standard_normal((1, 1, 4, 4)))),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_programs_forward_against_reverse(name):
    f, xs = PROGRAMS[name]
    float32 = name == "stack_cat_cast"  # a round trip through float32: that precision, both ways
    check_forward_against_reverse(f, xs, seed=len(name), finite_differences=name != "piecewise_constant"
                                  and not float32,
                                  tolerance=1e-6 if float32 else 1e-12)


def test_every_primitive_has_a_jvp_rule_that_the_programs_reach(monkeypatch):
    reached = set()
    push = graph.push_tangents

    def logging_push(prim, inputs, out, params, saved):
        if any(fwAD.unpack_dual(t).tangent is not None for t in inputs):
            reached.add(prim.name)
        push(prim, inputs, out, params, saved)

    monkeypatch.setattr(graph, "push_tangents", logging_push)
    for f, xs in PROGRAMS.values():
        jvp(f, xs, [np.ones(np.shape(x)) for x in xs])
    assert set(rules.PRIMITIVES) - reached == set()
    assert all(p.jvp is not None for p in rules.PRIMITIVES.values())


# ---- second order -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SECOND_ORDER))
@settings(max_examples=5)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_forward_over_reverse_equals_reverse_over_reverse(name, data, seed):
    fn, inputs = SECOND_ORDER[name]
    arrays = data.draw(inputs)
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(np.shape(a)) for a in arrays]
    u = rng.standard_normal(fn(*[Tensor(a) for a in arrays]).shape)

    def gradients(*ts):  # J^T u, recorded so that it can be differentiated again
        return autograd.grad((fn(*ts) * Tensor(u)).sum(), list(ts), create_graph=True, allow_unused=True)

    leaves = [Tensor(np.array(a), requires_grad=True) for a in arrays]
    with fwAD.dual_level():
        duals = [fwAD.make_dual(t, Tensor(v)) for t, v in zip(leaves, vs, strict=True)]
        forward = [fwAD.unpack_dual(g).tangent if g is not None else None for g in gradients(*duals)]
    leaves = [Tensor(np.array(a), requires_grad=True) for a in arrays]
    grads = gradients(*leaves)
    directional = sum((g * Tensor(v)).sum() for g, v in zip(grads, vs, strict=True) if g is not None)
    reverse = autograd.grad(directional, leaves, allow_unused=True)
    for f, r, a in zip(forward, reverse, arrays, strict=True):
        f_data = np.zeros(np.shape(a)) if f is None else f.data
        r_data = np.zeros(np.shape(a)) if r is None else r.data
        np.testing.assert_allclose(f_data, r_data, rtol=1e-12, atol=1e-12)


def test_reverse_over_forward_equals_reverse_over_reverse():
    x0, v = AB
    u = R.standard_normal((2, 3))

    def f(t):
        return (t.tanh() * t.exp()).log_softmax(dim=1)

    # d/dx [u . (J(x) v)]: reverse mode through the tangent ...
    _, tangent, (leaf,) = jvp(f, [x0], [v], requires_grad=True)
    (through_tangent,) = autograd.grad((tangent * Tensor(u)).sum(), [leaf])
    # ... and twice in reverse: J^T u by reverse mode, dotted with v, differentiated again
    leaf2 = Tensor(x0.copy(), requires_grad=True)
    (jtu,) = autograd.grad(f(leaf2), [leaf2], grad_outputs=Tensor(u), create_graph=True)
    (twice_reverse,) = autograd.grad((jtu * Tensor(v)).sum(), [leaf2])
    np.testing.assert_allclose(through_tangent.data, twice_reverse.data, rtol=1e-12, atol=1e-12)


# ---- the API's contract -------------------------------------------------------------------------
def test_tangents_are_dropped_when_the_level_closes_and_levels_do_not_nest():
    with fwAD.dual_level():
        x = fwAD.make_dual(tm.tensor([1.0]), tm.tensor([2.0]))
        with pytest.raises(RuntimeError, match="nested dual levels"), fwAD.dual_level():
            pass
    assert fwAD.unpack_dual(x).tangent is None
    assert fwAD.unpack_dual(x * 2).tangent is None  # outside a level nothing is pushed


def test_make_dual_checks_its_arguments():
    x = tm.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no dual level is open"):
        fwAD.make_dual(x, x)
    with fwAD.dual_level():
        with pytest.raises(ValueError, match=r"tangent has shape \(3,\), expected .*\(2,\)"):
            fwAD.make_dual(x, tm.tensor([1.0, 2.0, 3.0]))
        with pytest.raises(ValueError, match="dtype"):
            fwAD.make_dual(x, tm.tensor([1.0, 2.0], dtype=tm.float64))
        with pytest.raises(ValueError, match="floating point"):
            fwAD.make_dual(tm.tensor([1, 2]), tm.tensor([1, 2]))
        with pytest.raises(TypeError, match="tangent must be a Tensor"):
            fwAD.make_dual(x, [1.0, 2.0])


def test_gradients_flow_through_make_dual_to_the_primal():
    x = tm.tensor([1.0, 2.0], requires_grad=True)
    with fwAD.dual_level():
        y = fwAD.make_dual(x, tm.tensor([1.0, 1.0]))
        (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    assert fwAD.unpack_dual(x).tangent is None
