"""vmap by batching rules: every rule against a loop of the unbatched primitive, per-example gradients
of an MLP and a CNN against a loop of single-example gradients, speed, and the errors."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

import tinygrad_mnist as tm
from tinygrad_mnist import nn
from tinygrad_mnist.core import batching, rules
from tinygrad_mnist.func import functional_call, grad, jacfwd, jacrev, vmap
from tinygrad_mnist.mnist.models import build_model, cnn_architecture, mlp_architecture

RNG = np.random.default_rng(0)
B = 3


def _r(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def _pos(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, shape)


_WINDOW = {"kernel_size": (2, 2), "stride": (2, 2), "dilation": (1, 1)}
_CONV = {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1), "groups": 1}

# name: (per-example inputs, params, which inputs are batched)
CASES: dict[str, tuple[list[np.ndarray], dict[str, Any], tuple[bool, ...]]] = {
    **{name: ([_r(3, 4)], {}, (True,)) for name in
       ("neg", "exp", "tanh", "expm1", "sin", "cos", "erf", "sign", "floor", "ceil", "round", "sigmoid", "relu")},
    "log": ([_pos(3, 4)], {}, (True,)), "log1p": ([_pos(3, 4)], {}, (True,)),
    **{name: ([_r(3, 4), _r(4)], {}, (True, False)) for name in ("add", "sub", "mul", "maximum")},
    "div": ([_r(4), _pos(2, 4)], {}, (False, True)), "pow": ([_pos(3, 4), _r(3, 1)], {}, (True, True)),
    "where": ([_r(3, 4), _r(4)], {"cond": _r(3, 4) > 0}, (True, True)),
    "log_softmax": ([_r(3, 4)], {"axis": 1}, (True,)),
    "sum": ([_r(3, 4)], {"axis": (0,), "keepdims": True}, (True,)),
    "max": ([_r(3, 4)], {"axis": (1,), "keepdims": False}, (True,)),
    "reshape": ([_r(3, 4)], {"shape": (2, 6)}, (True,)),
    "transpose": ([_r(2, 3, 4)], {"axes": (2, 0, 1)}, (True,)),
    "broadcast_to": ([_r(3, 1)], {"shape": (2, 3, 4)}, (True,)),
    "getitem": ([_r(4, 5)], {"index": (slice(None), np.array([0, 2, 2]))}, (True,)),
    "scatter": ([_r(3, 2)], {"index": (np.array([0, 0, 2]), slice(1, 3)), "shape": (4, 3)}, (True,)),
    "matmul": ([_r(3, 4), _r(4)], {}, (False, True)),
    "linear": ([_r(2, 4), _r(3, 4), _r(3)], {}, (True, True, True)),
    "stack": ([_r(3), _r(3)], {"axis": 1}, (True, False)),
    "concatenate": ([_r(2, 3), _r(1, 3)], {"axis": 0}, (False, True)),
    "cast": ([_r(3)], {"dtype": np.dtype(np.float32)}, (True,)),
    "conv2d": ([_r(2, 2, 5, 5), _r(3, 2, 3, 3)], _CONV, (True, True)),
    "conv2d_bias": ([_r(2, 2, 5, 5), _r(3, 2, 3, 3), _r(3)], _CONV, (True, False, True)),
    "conv2d_weight_grad": ([_r(2, 2, 5, 5), _r(2, 3, 5, 5)], {**_CONV, "w_shape": (3, 2, 3, 3)}, (True, True)),
    "conv2d_input_grad": ([_r(2, 3, 5, 5), _r(3, 2, 3, 3)], {**_CONV, "x_shape": (2, 2, 5, 5)}, (True, False)),
    "max_pool2d": ([_r(2, 2, 4, 4)], _WINDOW, (True,)),
    "window_gather": ([_r(2, 2, 4, 4)], {**_WINDOW, "position": np.array(RNG.integers(0, 4, (2, 2, 2, 2)))},
                      (True,)),
    "window_scatter": ([_r(2, 2, 2, 2)], {**_WINDOW, "position": np.array(RNG.integers(0, 4, (2, 2, 2, 2))),
                                          "shape": (2, 2, 4, 4)}, (True,)),
}


def test_every_primitive_has_a_batching_rule_and_a_case() -> None:
    assert set(rules.PRIMITIVES) <= set(batching.RULES)
    assert set(rules.PRIMITIVES) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("unbatched_too", [False, True])
def test_rule_equals_a_loop_of_the_primitive(name: str, unbatched_too: bool) -> None:
    inputs, params, batched = CASES[name]
    batched = tuple(b or not unbatched_too for b in batched)
    prim = rules.PRIMITIVES[name]
    stacks = [np.stack([x + k * 0.25 if x.dtype.kind == "f" else x for k in range(B)]) if b else x
              for x, b in zip(inputs, batched, strict=True)]
    tensors = [tm.Tensor(s) for s in stacks]
    got = vmap(lambda *ts: prim(*ts, **params), in_dims=tuple(0 if b else None for b in batched))(*tensors)
    loop = [prim(*[tm.Tensor(s[k] if b else s) for s, b in zip(stacks, batched, strict=True)], **params).data
            for k in range(B)]
    np.testing.assert_allclose(got.data, np.stack(loop), rtol=1e-12, atol=1e-12)


def test_batched_where_condition_and_index_and_window_position() -> None:
    x = tm.Tensor(_r(B, 5))
    got = vmap(lambda v: rules.where(v, v * 2.0, cond=v.data > 0))(x)  # the condition is batched
    np.testing.assert_allclose(got.data, np.where(x.data > 0, x.data, 2 * x.data))
    labels = tm.Tensor(np.array([1, 4, 0]))
    picked = vmap(lambda v, i: rules.getitem(v, index=(i.data,)))(x, labels)  # a batched integer index
    np.testing.assert_allclose(picked.data, x.data[np.arange(B), labels.data])
    images = tm.Tensor(_r(B, 1, 2, 4, 4))
    pooled = vmap(lambda v: tm.nn.functional.max_pool2d(v, 2))(images)
    np.testing.assert_allclose(pooled.data, np.stack([tm.nn.functional.max_pool2d(tm.Tensor(images.data[k]), 2).data
                                                      for k in range(B)]))


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 10)).double()


def _cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(),
                         nn.Flatten(), nn.Linear(4 * 3 * 3, 10)).double()


def _loss(model: nn.Module) -> Any:
    def loss(params: dict[str, tm.Tensor], x: tm.Tensor, y: tm.Tensor) -> tm.Tensor:
        out = functional_call(model, params, (x.unsqueeze(0),))
        return -(out.log_softmax(dim=1) * y.unsqueeze(0)).sum()
    return loss


@pytest.mark.parametrize("make, shape", [(_mlp, (1, 4, 4)), (_cnn, (1, 8, 8))])
def test_per_example_gradients_equal_a_loop(make: Any, shape: tuple[int, ...]) -> None:
    model = make()
    params = {k: v.detach() for k, v in model.named_parameters()}
    n = 6
    x, y = tm.Tensor(_r(n, *shape)), tm.Tensor(np.eye(10)[RNG.integers(0, 10, n)])
    loss = _loss(model)
    per_example = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for k in range(n):
        single = grad(loss)(params, x[k], y[k])
        for name in params:
            np.testing.assert_allclose(per_example[name].data[k], single[name].data, rtol=1e-10, atol=1e-10)


def test_per_example_gradients_are_faster_than_a_loop() -> None:
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = tm.Tensor(_r(64, 64)), tm.Tensor(np.eye(10)[RNG.integers(0, 10, 64)])
    loss = _loss(model)
    batched, one = vmap(grad(loss), in_dims=(None, 0, 0)), grad(loss)
    fast, slow = [], []
    for _ in range(3):
        start = time.perf_counter()
        batched(params, x, y)
        fast.append(time.perf_counter() - start)
        start = time.perf_counter()
        for k in range(64):
            one(params, x[k], y[k])
        slow.append(time.perf_counter() - start)
    assert min(slow) / min(fast) >= 3


def test_nested_vmap_and_out_dims() -> None:
    a, b = tm.Tensor(_r(3, 4)), tm.Tensor(_r(5, 4))
    got = vmap(vmap(lambda u, v: (u * v).sum(), in_dims=(None, 0)), in_dims=(0, None), out_dims=1)(a, b)
    np.testing.assert_allclose(got.data, (a.data @ b.data.T).T)


def test_errors_name_what_went_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    x = tm.Tensor(_r(B, 3))
    monkeypatch.delitem(batching.RULES, "exp")
    with pytest.raises(NotImplementedError, match="primitive 'exp' has no batching rule"):
        vmap(lambda v: v.exp())(x)
    with pytest.raises(RuntimeError, match=r"randomness='error'"):
        vmap(lambda v: v + tm.rand(3))(x)
    with pytest.raises(ValueError, match="at least one input must be batched"):
        vmap(lambda v: v, in_dims=None)(x)
    w = tm.Tensor(_r(3), requires_grad=True)
    with pytest.raises(NotImplementedError, match="differentiating through vmap"):
        vmap(lambda v: v * w)(x).sum().backward()
    with pytest.raises(NotImplementedError, match=r"numpy\.interp"):
        vmap(lambda v: v._wrap(np.interp(v.data, [0, 1], [0, 1])))(x)


def test_randomness_same_and_different() -> None:
    x = tm.Tensor(np.zeros((4, 3)))
    same = vmap(lambda v: v + tm.Tensor(tm.random.generator().random(3)), randomness="same")(x)
    assert np.allclose(same.data, same.data[0])
    different = vmap(lambda v: v + tm.Tensor(tm.random.generator().random(3)), randomness="different")(x)
    assert different.shape == (4, 3) and not np.allclose(different.data, different.data[0])


@pytest.mark.parametrize("architecture", ["mlp", "cnn"])
def test_per_example_gradients_of_the_mnist_models_equal_a_loop(architecture: str) -> None:
    """The application's own MLP (784-512-10) and CNN (conv 32, conv 64, 1600-128-10), float64."""
    tm.manual_seed(3)
    model = build_model(mlp_architecture() if architecture == "mlp" else cnn_architecture()).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    rng = np.random.default_rng(5)
    x, y = tm.Tensor(rng.random((3, 784))), tm.Tensor(np.eye(10)[rng.integers(0, 10, 3)])

    def loss(params: dict[str, tm.Tensor], x: tm.Tensor, y: tm.Tensor) -> tm.Tensor:
        out = functional_call(model, params, (x.unsqueeze(0),))
        return -(out.log_softmax(dim=1) * y.unsqueeze(0)).sum()

    per_example = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for k in range(3):
        single = grad(loss)(params, x[k], y[k])
        for name in params:
            np.testing.assert_allclose(per_example[name].numpy()[k], single[name].numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{architecture} {name} example {k}")


def test_vmap_of_forward_over_reverse_hessians_equals_a_loop() -> None:
    """vmap(jacfwd(jacrev(f))): jacfwd reads and restores the random state, which is not a draw."""
    def f(t: tm.Tensor) -> tm.Tensor:
        return (t.sin() * t).sum() + (t[0] * t[-1]) ** 2

    x = tm.Tensor(_r(4, 3))
    batched = vmap(jacfwd(jacrev(f)))(x)
    for k in range(4):
        np.testing.assert_allclose(batched.numpy()[k], jacrev(jacrev(f))(x[k]).numpy(), rtol=1e-12, atol=1e-12)


def test_per_example_cross_entropy_with_class_indices() -> None:
    """F.cross_entropy with integer targets inside vmap(grad(...)), as per-example losses are usually written."""
    model = nn.Linear(3, 4).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = tm.Tensor(_r(5, 3)), tm.tensor([0, 1, 2, 3, 1])

    def loss(params: dict[str, tm.Tensor], x: tm.Tensor, y: tm.Tensor) -> tm.Tensor:
        return nn.functional.cross_entropy(functional_call(model, params, (x.unsqueeze(0),)), y.unsqueeze(0))

    batched = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for k in range(5):
        single = grad(loss)(params, x[k], y[k])
        for name in params:
            np.testing.assert_allclose(batched[name].numpy()[k], single[name].numpy(), rtol=1e-12, atol=1e-14)
