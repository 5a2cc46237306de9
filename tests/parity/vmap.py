"""Cases for ``T.func.vmap``: values, in_dims/out_dims, nesting, vmap of grad, jacrev and jvp, per-example
gradients of a small MLP and CNN through functional_call, and the calls PyTorch refuses.

Everything is float64 and built from plain numbers, so values compare to the default tolerances.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_mnist.func  # noqa: F401  (``T.func`` on our side)
from parity import case, raises


def _x(T: Any, *shape: int, k: int = 1) -> Any:
    n = int(np.prod(shape))
    return T.tensor((np.sin(np.arange(k, n + k)) * 1.5).reshape(shape).astype(np.float64))


@case
def vmap_of_elementwise_and_reductions(T):
    f = lambda v: (v.exp() * v.sin() + v.tanh()).sum() + v.max() - v.logsumexp(0)  # noqa: E731
    return T.func.vmap(f)(_x(T, 5, 3))


@case
def vmap_in_dims_and_out_dims(T):
    w = _x(T, 4, 3, k=7)
    f = lambda v, s: (w @ v) * s  # noqa: E731
    return T.func.vmap(f, in_dims=(1, None), out_dims=1)(_x(T, 3, 6), _x(T, 4))


@case
def vmap_of_a_tuple_output_with_two_out_dims(T):
    f = lambda a, b: (a.unsqueeze(1) * b, a.softmax(dim=0))  # noqa: E731
    return T.func.vmap(f, in_dims=(0, 1), out_dims=(2, 0))(_x(T, 4, 3), _x(T, 2, 4))


@case
def vmap_nested_two_levels(T):
    f = lambda a, b: (a * b).sum()  # noqa: E731
    return T.func.vmap(T.func.vmap(f, in_dims=(None, 0)), in_dims=(0, None))(_x(T, 3, 4), _x(T, 5, 4, k=3))


@case
def vmap_of_indexing_reshape_and_cat(T):
    def f(v):
        m = v.reshape(2, 3)
        return T.cat([m[:, 1:], m.t()[::2]], dim=0).permute(1, 0).flatten()
    return T.func.vmap(f)(_x(T, 4, 6))


@case
def vmap_of_grad(T):
    f = lambda v: (v.sin() * v).sum()  # noqa: E731
    return T.func.vmap(T.func.grad(f))(_x(T, 4, 3))


@case
def vmap_of_jacrev(T):
    f = lambda v: v.tanh() * v.sum()  # noqa: E731
    return T.func.vmap(T.func.jacrev(f))(_x(T, 3, 4))


@case
def vmap_of_jvp(T):
    f = lambda v: (v * v).sin()  # noqa: E731
    return T.func.vmap(lambda x, t: T.func.jvp(f, (x,), (t,)))(_x(T, 3, 4), _x(T, 3, 4, k=5))


def _onehot(T: Any, n: int) -> Any:
    return T.tensor(np.eye(3)[np.arange(n) % 3])


def _per_example(T: Any, model: Any, x: Any, y: Any) -> Any:
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p: Any, xi: Any, yi: Any) -> Any:
        out = T.func.functional_call(model, p, (xi.unsqueeze(0),))
        return -(out.log_softmax(dim=1) * yi.unsqueeze(0)).sum()
    grads = T.func.vmap(T.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
    return [grads[k] for k in sorted(grads)]


@case
def per_example_gradients_of_a_small_mlp(T):
    model = T.nn.Sequential(T.nn.Linear(6, 5), T.nn.ReLU(), T.nn.Linear(5, 3)).double()
    params = dict(model.named_parameters())
    with T.no_grad():
        for k, name in enumerate(sorted(params)):
            p = params[name]
            p.copy_(T.tensor(np.cos(np.arange(p.numel()) + k).reshape(tuple(p.shape)) * 0.4))
    return _per_example(T, model, _x(T, 4, 6), _onehot(T, 4))


@case
def per_example_gradients_of_a_small_cnn(T):
    model = T.nn.Sequential(T.nn.Conv2d(1, 2, 3), T.nn.MaxPool2d(2), T.nn.ReLU(), T.nn.Flatten(),
                            T.nn.Linear(2 * 3 * 3, 3)).double()
    params = dict(model.named_parameters())
    with T.no_grad():
        for k, name in enumerate(sorted(params)):
            p = params[name]
            p.copy_(T.tensor(np.cos(np.arange(p.numel()) + k).reshape(tuple(p.shape)) * 0.4))
    return _per_example(T, model, _x(T, 3, 1, 8, 8), _onehot(T, 3))


@raises
def vmap_with_no_batched_input(T):
    T.func.vmap(lambda v: v * 2, in_dims=None)(_x(T, 3))


@raises
def vmap_with_batch_sizes_that_differ(T):
    T.func.vmap(lambda a, b: a + b)(_x(T, 3), _x(T, 4))


@raises
def vmap_with_an_in_dim_out_of_range(T):
    T.func.vmap(lambda v: v, in_dims=2)(_x(T, 3, 2))


@raises
def vmap_of_a_random_draw_under_randomness_error(T):
    T.func.vmap(lambda v: v + T.rand(3).double())(_x(T, 2, 3))
