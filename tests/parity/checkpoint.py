"""Cases for ``utils.checkpoint``: results and gradients as with ``torch.utils.checkpoint``."""

from __future__ import annotations

from typing import Any

from parity import case, raises


def _leaf(T: Any, values: Any) -> Any:
    return T.tensor(values, dtype=T.float64, requires_grad=True)


@case
def checkpoint_gradients_reach_the_inputs_and_the_captured_weights(T):
    w, x = _leaf(T, [[1., -2.], [0.5, 3.]]), _leaf(T, [[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]])
    y = T.utils.checkpoint.checkpoint(lambda a: (a @ w).tanh() * a.sum(), x, use_reentrant=False)
    (y ** 2).sum().backward()
    return y, x.grad, w.grad, y.requires_grad


@case
def checkpoint_several_outputs_keyword_arguments_and_other_values(T):
    a, b = _leaf(T, [1., 2., 3.]), _leaf(T, [0.5, -1., 2.])
    out = T.utils.checkpoint.checkpoint(lambda p, q, scale: (p * q, [p.sin() * scale, 7]), a, b, scale=3.0,
                                        use_reentrant=False)
    (out[0].sum() + (out[1][0] ** 2).sum()).backward()
    return out[0], out[1][0], out[1][1], a.grad, b.grad


@case
def checkpoint_with_no_input_requiring_grad(T):
    w = _leaf(T, [2., 3.])
    x = T.tensor([1., 4.], dtype=T.float64)
    y = T.utils.checkpoint.checkpoint(lambda a: a * w, x, use_reentrant=False)
    y.sum().backward()
    return y.requires_grad, w.grad


@case
def checkpoint_unused_input_and_returned_input(T):
    x, z = _leaf(T, [1., 2.]), _leaf(T, [3., 4.])
    y, same = T.utils.checkpoint.checkpoint(lambda a, b: (a.exp(), a), x, z, use_reentrant=False)
    (y.sum() + same.sum()).backward()
    return same is x, z.grad is None, x.grad


@case
def checkpoint_double_backward(T):
    x = _leaf(T, [0.5, -1.5, 2.])
    y = T.utils.checkpoint.checkpoint(lambda a: (a ** 3).sin().sum(), x, use_reentrant=False)
    (g,) = T.autograd.grad(y, [x], create_graph=True)
    (h,) = T.autograd.grad((g * g).sum(), [x])
    return g, h


@case
def checkpoint_under_no_grad(T):
    x = _leaf(T, [1., 2.])
    with T.no_grad():
        y = T.utils.checkpoint.checkpoint(lambda a: a * 2, x, use_reentrant=False)
    return y, y.requires_grad


@case
def checkpoint_sequential_of_a_list(T):
    x = _leaf(T, [[0.1, -0.2, 0.3]])
    functions = [lambda a: a.tanh(), lambda a: a * 2, lambda a: a.exp(), lambda a: a.sin(), lambda a: a ** 2]
    y = T.utils.checkpoint.checkpoint_sequential(functions, 2, x, use_reentrant=False)
    y.sum().backward()
    return y, x.grad


@raises
def checkpoint_reentrant_refuses_keyword_arguments(T):
    T.utils.checkpoint.checkpoint(lambda a, scale: a * scale, _leaf(T, [1.]), scale=2.0, use_reentrant=True)


@raises
def checkpoint_unknown_determinism_check(T):
    T.utils.checkpoint.checkpoint(lambda a: a, _leaf(T, [1.]), use_reentrant=False, determinism_check="always")


@raises
def checkpoint_backward_twice_without_retain_graph(T):
    y = T.utils.checkpoint.checkpoint(lambda a: a.exp(), _leaf(T, [1.]), use_reentrant=False).sum()
    y.backward()
    y.backward()
