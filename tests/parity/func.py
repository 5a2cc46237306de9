"""Cases for the function transforms (``T.func``): grad, grad_and_value, vjp, jacrev, jvp, jacfwd,
hessian and functional_call, with argnums tuples, has_aux, nested containers and nesting.

Everything is float64 and built from plain numbers, so values compare to the default tolerances.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_mnist.func  # noqa: F401  (``T.func`` on our side)
from parity import case, raises


def _t(T: Any, values: Any) -> Any:
    return T.tensor(np.asarray(values, dtype=np.float64))


def _x(T: Any, *shape: int) -> Any:
    n = int(np.prod(shape))
    return _t(T, (np.sin(np.arange(1, n + 1)) * 1.5).reshape(shape))


def _mlp(T: Any) -> Any:
    return T.nn.Sequential(T.nn.Linear(3, 4), T.nn.Tanh(), T.nn.Linear(4, 2))


def _mlp_params(T: Any) -> dict[str, Any]:
    shapes = {"0.weight": (4, 3), "0.bias": (4,), "2.weight": (2, 4), "2.bias": (2,)}
    return {name: _t(T, np.cos(np.arange(np.prod(s)) + k).reshape(s) * 0.7)
            for k, (name, s) in enumerate(shapes.items())}


# ---- grad, grad_and_value -----------------------------------------------------------------------
@case
def grad_of_an_elementwise_function(T):
    return T.func.grad(lambda x: (x.sin() * x + x.exp()).sum())(_x(T, 2, 3))


@case
def grad_and_value_with_aux(T):
    def f(x):
        y = x.tanh()
        return (y * y).mean(), {"y": y, "n": [x.sum()]}
    return T.func.grad_and_value(f, has_aux=True)(_x(T, 4))


@case
def grad_with_argnums_tuple_and_negative(T):
    f = lambda a, b, c: (a @ b * c).sum()  # noqa: E731
    a, b, c = _x(T, 2, 3), _x(T, 3, 2) * 0.5, _t(T, 2.0)
    return T.func.grad(f, argnums=(0, 2))(a, b, c), T.func.grad(f, argnums=-2)(a, b, c)


@case
def grad_of_a_dict_and_list_argument(T):
    def f(p, scale):
        return ((p["w"] @ p["bs"][0]).sum() + p["bs"][1].pow(2).sum()) * scale
    params = {"w": _x(T, 2, 3), "bs": [_x(T, 3), _x(T, 2) + 1.0]}
    return T.func.grad(f)(params, _t(T, 3.0))


@case
def grad_of_softmax_and_log_softmax(T):
    weights = _t(T, [1.0, -2.0, 0.5])
    f = lambda x: (x.softmax(dim=-1) * weights).sum() + x.log_softmax(dim=0)[1, 2]  # noqa: E731
    return T.func.grad(f)(_x(T, 2, 3))


@case
def grad_of_reductions(T):
    f = lambda x: x.mean() + x.amax(dim=1).sum() + (x * x).sum(dim=0).sqrt().sum()  # noqa: E731
    return T.func.grad(f)(_x(T, 3, 4))


@case
def grad_of_grad_is_the_second_derivative(T):
    f = lambda x: x.sin() * x ** 3  # noqa: E731
    x = _t(T, 0.7)
    return T.func.grad(T.func.grad(f))(x), T.func.grad(T.func.grad(T.func.grad(f)))(x)


@case
def nested_grad_keeps_the_variables_apart(T):
    x = _t(T, 3.0)
    inner = T.func.grad(lambda x: T.func.grad(lambda y: x * y)(x))(x)
    shifted = T.func.grad(lambda x: x * T.func.grad(lambda y: x + y)(x))(x)
    return inner, shifted


@case
def grad_through_a_captured_tensor_that_requires_grad(T):
    w = T.tensor([2.0, -1.0], dtype=T.float64, requires_grad=True)
    g = T.func.grad(lambda x: (w * x * x).sum())(_x(T, 2))
    g.sum().backward()
    return g, w.grad


# ---- vjp, jacrev ------------------------------------------------------------------------------
@case
def vjp_of_two_outputs_called_twice(T):
    out, vjp_fn = T.func.vjp(lambda x, y: (x @ y, (x * 2).sum()), _x(T, 2, 3), _x(T, 3, 2))
    first = vjp_fn((_x(T, 2, 2), _t(T, 1.0)))
    second = vjp_fn((_x(T, 2, 2) * 0, _t(T, -3.0)))
    return out, first, second


@case
def vjp_with_aux(T):
    out, vjp_fn, aux = T.func.vjp(lambda x: (x.exp(), x.sum()), _x(T, 3), has_aux=True)
    return out, aux, vjp_fn(_t(T, [1.0, 2.0, 3.0]))


@case
def jacrev_of_a_matrix_product(T):
    return T.func.jacrev(lambda a, b: a @ b, argnums=(0, 1))(_x(T, 2, 3), _x(T, 3, 2))


@case
def jacrev_of_a_dict_output_and_dict_input(T):
    def f(p):
        return {"s": (p["u"] * p["v"].sum()).tanh(), "t": [p["u"].sum()]}
    return T.func.jacrev(f)({"u": _x(T, 3), "v": _x(T, 2)})


@case
def jacrev_with_aux(T):
    return T.func.jacrev(lambda x: (x.log_softmax(dim=0), x.max()), has_aux=True)(_x(T, 4))


# ---- jvp, jacfwd, hessian -----------------------------------------------------------------------
@case
def jvp_of_softmax(T):
    return T.func.jvp(lambda x: x.softmax(dim=1), (_x(T, 2, 3),), (_x(T, 2, 3) + 0.5,))


@case
def jvp_of_two_primals_with_aux(T):
    f = lambda x, y: ((x @ y).tanh(), {"s": x.sum()})  # noqa: E731
    return T.func.jvp(f, (_x(T, 2, 3), _x(T, 3)), (_x(T, 2, 3) * 0.1, _x(T, 3) - 1.0), has_aux=True)


@case
def jvp_of_a_list_primal(T):
    f = lambda xs: {"p": xs[0] * xs[1], "q": xs[0].exp().sum()}  # noqa: E731
    return T.func.jvp(f, ([_x(T, 3), _x(T, 3) + 1],), ([_x(T, 3), _t(T, [1.0, 0.0, -1.0])],))


@case
def jacfwd_of_log_softmax_and_matmul(T):
    w = _x(T, 3, 2)
    return T.func.jacfwd(lambda x, b: (x @ w + b).log_softmax(dim=-1), argnums=(0, 1))(_x(T, 2, 3), _x(T, 2))


@case
def jacfwd_with_aux(T):
    return T.func.jacfwd(lambda x: (x.sin() * x.sum(), x.cos()), has_aux=True)(_x(T, 3))


@case
def hessian_of_a_scalar(T):
    return T.func.hessian(lambda x: (x.exp() * x.sum()).sum() + x.logsumexp(dim=0))(_x(T, 4))


@case
def hessian_with_argnums_tuple(T):
    return T.func.hessian(lambda x, y: (x * x * y.sin()).sum() + (x @ y), argnums=(0, 1))(_x(T, 3), _x(T, 3) + 1)


@case
def hessian_equals_jacrev_of_jacrev(T):
    f = lambda x: (x.tanh() @ x.sigmoid()) * x.mean()  # noqa: E731
    x = _x(T, 3)
    return T.func.hessian(f)(x), T.func.jacrev(T.func.jacrev(f))(x)


# ---- functional_call ---------------------------------------------------------------------------
@case
def functional_call_output_and_parameter_gradients(T):
    model = _mlp(T)
    params = _mlp_params(T)
    x, y = _x(T, 5, 3), T.tensor([0, 1, 1, 0, 1])

    def loss(p, x, y):
        return T.nn.functional.cross_entropy(T.func.functional_call(model, p, (x,)), y)

    grads, value = T.func.grad_and_value(loss)(params, x, y)
    return T.func.functional_call(model, params, x), value, grads


@case
def functional_call_jacobian_of_the_output(T):
    model = _mlp(T)
    params = _mlp_params(T)
    jac = T.func.jacrev(lambda p: T.func.functional_call(model, p, (_x(T, 1, 3),)))(params)
    return jac, [tuple(w.shape) for w in model.parameters()]


@case
def functional_call_with_tied_weights(T):
    layer = T.nn.Linear(2, 2, bias=False)
    model = T.nn.Sequential(layer, layer)
    w = _t(T, [[1.0, 2.0], [-1.0, 0.5]])
    return T.func.functional_call(model, {"1.weight": w}, (_x(T, 1, 2),))


@raises
def functional_call_strict_with_a_missing_name(T):
    T.func.functional_call(_mlp(T), {"0.weight": _x(T, 4, 3)}, (_x(T, 1, 3),), strict=True)


@raises
def functional_call_with_a_name_in_two_dicts(T):
    w = _x(T, 4, 3)
    T.func.functional_call(_mlp(T), [{"0.weight": w}, {"0.weight": w}], (_x(T, 1, 3),))


# ---- mistakes ----------------------------------------------------------------------------------
@raises
def grad_of_a_non_scalar_output(T):
    T.func.grad(lambda x: x * 2)(_x(T, 3))


@raises
def grad_of_a_one_element_vector_output(T):
    T.func.grad(lambda x: x * 2)(_x(T, 1))


@raises
def grad_argnums_out_of_range(T):
    T.func.grad(lambda x: x.sum(), argnums=1)(_x(T, 3))


@raises
def grad_argnums_repeated(T):
    T.func.grad(lambda x, y: (x * y).sum(), argnums=(0, 0))(_x(T, 3), _x(T, 3))


@raises
def grad_has_aux_without_a_pair(T):
    T.func.grad(lambda x: x.sum(), has_aux=True)(_x(T, 3))


@raises
def grad_of_a_number_argument(T):
    T.func.grad(lambda x: x * 2.0)(3.0)


@raises
def vjp_fn_with_the_wrong_structure(T):
    _, vjp_fn = T.func.vjp(lambda x: (x, x * 2), _x(T, 2))
    vjp_fn(_x(T, 2))


@raises
def vjp_fn_with_the_wrong_shape(T):
    _, vjp_fn = T.func.vjp(lambda x: x * 2, _x(T, 2))
    vjp_fn(_x(T, 3))


@raises
def jvp_with_a_tangent_of_another_shape(T):
    T.func.jvp(lambda x: x * 2, (_x(T, 2),), (_x(T, 3),))


@raises
def jvp_with_primals_not_a_tuple(T):
    T.func.jvp(lambda x: x * 2, _x(T, 2), _x(T, 2))


@raises
def jacrev_chunk_size_zero(T):
    T.func.jacrev(lambda x: x, chunk_size=0)(_x(T, 2))
