"""Elementwise methods: math (``exp`` ... ``round``, with the zero gradients of the piecewise-constant
ones), ``pow``, ``clamp``/``clip`` with number and tensor bounds, ``maximum``/``minimum`` and their
ties, ``where``, comparisons, logical operations, ``isnan``/``isfinite``/``nan_to_num``."""

from __future__ import annotations

import numpy as np

from parity import case, raises, value_and_grad

V = np.array([[0.3, -1.2, 2.5], [0.5, -0.5, 1.5]])
POS = np.array([[0.3, 1.2, 2.5], [0.5, 0.75, 1.5]])


def _run(T, f, array=V):
    return value_and_grad(T, f, array)


@case
def smooth_unary(T):
    return [_run(T, lambda x, name=name: getattr(x, name)()) for name in
            ("erf", "exp", "expm1", "sin", "cos", "tanh", "sigmoid", "relu", "abs")]


@case
def positive_domain_unary(T):
    return [_run(T, lambda x, name=name: getattr(x, name)(), POS) for name in ("log", "log1p", "sqrt", "rsqrt")]


@case
def piecewise_constant_have_zero_gradient(T):
    return [_run(T, lambda x, name=name: getattr(x, name)()) for name in ("sign", "floor", "ceil", "round")]


@case
def abs_and_sign_at_zero(T):
    return _run(T, lambda x: x.abs() + x.sign(), np.array([0.0, -0.0, 1.0]))


@case
def pow_number_and_tensor(T):
    e = T.tensor(np.array([[2.0, 1.0, 0.5], [3.0, 2.0, -1.0]]), dtype=T.float64, requires_grad=True)
    y, g = _run(T, lambda x: x.pow(e), POS)
    return y, g, e.grad, _run(T, lambda x: x.pow(3))


@case
def clamp_numbers(T):
    return (_run(T, lambda x: x.clamp(-0.5, 1.5)), _run(T, lambda x: x.clamp(min=0.3)),
            _run(T, lambda x: x.clip(max=0.5)))


@case
def clamp_tensor_bounds(T):
    low = T.tensor(np.array([[0.3, 0.0, 0.0], [1.0, -1.0, 2.0]]), dtype=T.float64, requires_grad=True)
    high = T.tensor(np.array([[1.0, 1.0, 2.0], [2.0, -0.75, 3.0]]), dtype=T.float64, requires_grad=True)
    y, g = _run(T, lambda x: x.clamp(low, high))
    return y, g, low.grad, high.grad


@raises
def clamp_without_bounds(T):
    T.zeros(2).clamp()


@case
def maximum_minimum_ties_split(T):
    other = T.tensor(np.array([[0.3, 0.0, 2.5], [1.0, -0.5, 0.0]]), dtype=T.float64, requires_grad=True)
    y, g = _run(T, lambda x: x.maximum(other) + 2 * x.minimum(other))
    return y, g, other.grad


@case
def where_chooses(T):
    cond = T.tensor([[True, False, True], [False, False, True]])
    y, g = _run(T, lambda x: T.where(cond, x, x * 3))
    return y, g, _run(T, lambda x: x.where(cond, 0.5))


@case
def comparisons(T):
    a = T.tensor(V)
    b = T.tensor(np.array([[0.3, 0.0, 2.5], [1.0, -0.5, 0.0]]))
    return a.eq(b), a.ne(b), a.lt(b), a.le(b), a.gt(b), a.ge(b), a.gt(0.4), a == b, a < 0.5


@case
def logical_operations(T):
    a = T.tensor([True, True, False, False])
    b = T.tensor([True, False, True, False])
    return a.logical_and(b), a.logical_or(b), a.logical_xor(b), a.logical_not(), T.tensor([0.0, 2.0]).logical_not()


@case
def nan_and_inf(T):
    x = T.tensor(np.array([np.nan, np.inf, -np.inf, 1.5]), dtype=T.float64, requires_grad=True)
    y = x.nan_to_num()
    z = x.nan_to_num(nan=0.5, posinf=9.0, neginf=-9.0)
    (y * 0.5 + z).sum().backward()
    return x.isnan(), x.isfinite(), y, z, x.grad


@case
def new_primitives_pass_gradgradcheck(T):
    x = T.tensor(POS, dtype=T.float64, requires_grad=True)
    check = T.autograd.gradgradcheck
    return [check(lambda t, name=name: getattr(t, name)(), (x,))
            for name in ("sin", "cos", "log1p", "expm1", "floor", "sign", "round", "ceil")]


@case
def selections_pass_gradgradcheck(T):
    x = T.tensor(V, dtype=T.float64, requires_grad=True)
    check = T.autograd.gradgradcheck
    return [check(lambda t: t.max(dim=1).values ** 2, (x,)), check(lambda t: t.prod(1) ** 2, (x,)),
            check(lambda t: t.gather(1, T.tensor([[2, 0], [1, 1]])) ** 3, (x,)),
            check(lambda t: t.cumsum(0) ** 2, (x,)), check(lambda t: t.std(1) ** 2, (x,))]
