"""nn: Module bookkeeping, Linear, initialisers and the functional activations and losses.

Every expected value comes from an independent oracle: numpy written here,
a closed form, or finite differences (``autograd.gradcheck``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor, manual_seed, nn
from tinygrad_mnist.core import rules
from tinygrad_mnist.autograd import gradcheck
from tinygrad_mnist.nn import StateDictError
from tinygrad_mnist.nn import functional as F
from tinygrad_mnist.nn import init

# ---- numpy oracles ------------------------------------------------------------------


def np_log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.exp(np_log_softmax(z, axis))


def np_reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](losses)


def np_target_distribution(labels: np.ndarray, classes: int, smoothing: float = 0.0) -> np.ndarray:
    """(1 - s) * one_hot + s / K."""
    one_hot = np.eye(classes)[labels]
    return (1 - smoothing) * one_hot + smoothing / classes


def np_cross_entropy(z, labels, reduction="mean", smoothing=0.0):
    q = np_target_distribution(labels, z.shape[1], smoothing)
    return np_reduce(-(q * np_log_softmax(z)).sum(axis=1), reduction)


def make_mlp(seed: int = 0) -> nn.Sequential:
    manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def to_float64(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    return model


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def assert_same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


class Net(nn.Module):
    """A parameter of its own, a ModuleList and a nested Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.body = nn.ModuleList([nn.Linear(2, 3), nn.Tanh()])
        self.head = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.body:
            x = layer(x)
        return self.head(x) * self.scale


# ---- Module -------------------------------------------------------------------------


def test_named_parameters_order_and_names_in_nested_modules():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "head.0.weight", "head.0.bias"]
    expected = [net.scale, net.body[0].weight, net.body[0].bias, net.head[0].weight, net.head[0].bias]
    assert all(got is want for got, want in zip(net.parameters(), expected))
    assert len(net.parameters()) == len(expected)


def test_sequential_names_parameters_by_position():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight"]
    assert [tuple(p.shape) for p in model.parameters()] == [(3, 4), (3,), (2, 3)]
    assert len(model) == 3 and isinstance(model[1], nn.ReLU)


def test_parameters_are_leaves_requiring_grad():
    for p in Net().parameters():
        assert isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf


def test_children_and_modules():
    net = Net()
    assert [name for name, _ in net.named_children()] == ["body", "head"]
    assert list(net.children()) == [net.body, net.head]
    assert [type(m).__name__ for m in net.modules()] == [
        "Net", "ModuleList", "Linear", "Tanh", "Sequential", "Linear", "Dropout"]
    assert next(iter(net.modules())) is net


def test_shared_module_parameters_are_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    params = model.parameters()
    assert len(params) == 2
    assert params[0] is shared.weight and params[1] is shared.bias


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="argument 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_base_module_forward_is_abstract():
    with pytest.raises(NotImplementedError, match="Module"):
        nn.Module()(Tensor([1.0]))


def test_state_dict_shares_memory_as_in_pytorch():
    model = make_mlp()
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    before = snapshot(model)
    assert_same_state({k: v.data for k, v in state.items()}, before)
    assert all(isinstance(v, Tensor) and not v.requires_grad for v in state.values())
    for tensor in state.values():
        tensor.data += 100.0  # a change through the state dict is a change of the model, as in PyTorch
    assert_same_state(snapshot(model), {k: v + 100.0 for k, v in before.items()})
    kept = model.state_dict(keep_vars=True)
    assert all(kept[name] is p for name, p in model.named_parameters())
    assert list(model.state_dict(prefix="net.")) == ["net." + k for k in state]


@pytest.mark.parametrize(
    "wrap", [np.asarray, Tensor, lambda a: a.astype(np.float64)], ids=["array", "tensor", "float64"]
)
def test_load_state_dict_round_trip_is_in_place(wrap):
    source, target = make_mlp(seed=1), make_mlp(seed=2)
    arrays_before = [p.data for p in target.parameters()]
    target.load_state_dict({k: wrap(v) for k, v in source.state_dict().items()})
    assert_same_state(snapshot(target), source.state_dict())
    assert all(p.data is a for p, a in zip(target.parameters(), arrays_before))
    assert all(p.dtype == np.float32 for p in target.parameters())
    x = Tensor(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    np.testing.assert_array_equal(target(x).data, source(x).data)


def _drop_key(state):
    return {k: v for k, v in state.items() if k != "2.bias"}


def _extra_key(state):
    return {**state, "3.weight": np.zeros((2, 2), dtype=np.float32)}


def _wrong_shape(state):
    return {**state, "2.weight": np.zeros((5, 3), dtype=np.float32)}


def _integer_values(state):
    return {**state, "0.bias": np.zeros(3, dtype=np.int64)}


@pytest.mark.parametrize(
    "corrupt, strict, fragments",
    [
        (_drop_key, True, ["missing", "2.bias"]),
        (_extra_key, True, ["unexpected", "3.weight"]),
        (_wrong_shape, True, ["2.weight", "(5, 3)", "(2, 3)"]),
        (_wrong_shape, False, ["2.weight", "(5, 3)", "(2, 3)"]),
        (_integer_values, True, ["0.bias", "int64"]),
    ],
    ids=["missing", "unexpected", "shape-strict", "shape-nonstrict", "integer"],
)
def test_load_state_dict_errors_leave_the_model_unchanged(corrupt, strict, fragments):
    model = make_mlp(seed=1)
    before = snapshot(model)
    bad = corrupt(make_mlp(seed=2).state_dict())  # the valid entries differ from the model's
    with pytest.raises(StateDictError) as info:
        model.load_state_dict(bad, strict=strict)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert not message.startswith(("'", '"'))
    assert isinstance(info.value, KeyError)
    assert_same_state(snapshot(model), before)


def test_load_state_dict_non_strict_ignores_missing_and_unexpected_keys():
    model, source = make_mlp(seed=1), make_mlp(seed=2)
    before = snapshot(model)
    state = _extra_key(_drop_key(source.state_dict()))
    state["4.weight"] = np.zeros((9, 9), dtype=np.float32)  # unexpected keys are not shape-checked
    model.load_state_dict(state, strict=False)
    after = snapshot(model)
    np.testing.assert_array_equal(after["2.bias"], before["2.bias"])
    for name in ("0.weight", "0.bias", "2.weight"):
        np.testing.assert_array_equal(after[name], source.state_dict()[name])


def test_train_and_eval_propagate_to_nested_children():
    manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Sequential(nn.Tanh(), nn.Dropout(0.5)))
    x = Tensor(np.ones((64, 8), dtype=np.float32))
    assert all(m.training for m in model.modules())

    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    reference = np.tanh(x.data @ model[0].weight.data.T + model[0].bias.data)
    np.testing.assert_allclose(model(x).data, reference, rtol=1e-5, atol=1e-6)

    assert model.train() is model
    assert all(m.training for m in model.modules())
    out = model(x).data
    dropped = out == 0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_allclose(out[~dropped], 2 * reference[~dropped], rtol=1e-5, atol=1e-6)


def test_zero_grad_clears_every_parameter_gradient():
    net = Net()
    net(Tensor(np.ones((3, 2), dtype=np.float32))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_shows_the_module_tree():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.25), nn.LeakyReLU(0.2)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.25, inplace=False)\n"
        "    (1): LeakyReLU(negative_slope=0.2)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Linear(2, 5, bias=False)) == "Linear(in_features=2, out_features=5, bias=False)"


# ---- Linear -------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_shapes_and_dtype(bias):
    layer = nn.Linear(5, 3, bias=bias)
    assert layer.weight.shape == (3, 5) and layer.weight.dtype == np.float32
    assert (layer.bias is not None) == bias
    assert [name for name, _ in layer.named_parameters()] == (["weight", "bias"] if bias else ["weight"])
    if bias:
        assert layer.bias.shape == (3,) and layer.bias.dtype == np.float32
    out = layer(Tensor(np.ones((7, 5), dtype=np.float32)))
    assert out.shape == (7, 3) and out.dtype == np.float32


@pytest.mark.parametrize("in_features", [1, 16, 256])
def test_linear_init_fills_the_pytorch_bounds(in_features):
    # kaiming_uniform with a = sqrt(5): gain sqrt(2 / (1 + 5)) * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
    manual_seed(0)
    layer = nn.Linear(in_features, 2000)
    bound = 1 / math.sqrt(in_features)
    for p in (layer.weight, layer.bias):
        extent = np.abs(p.data).max()
        assert extent <= bound
        assert extent > 0.95 * bound  # the whole interval is used, not a narrower one
        assert abs(p.data.mean()) < 0.1 * bound


def test_linear_init_is_reproducible_with_manual_seed():
    def weights(seed):
        manual_seed(seed)
        layer = nn.Linear(6, 4)
        return layer.weight.data.copy(), layer.bias.data.copy()

    for a, b in zip(weights(7), weights(7)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(weights(7), weights(8)):
        assert not np.array_equal(a, b)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "4"])
def test_linear_rejects_non_positive_or_non_integer_sizes(bad):
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(bad, 3)
    with pytest.raises(ValueError, match="out_features"):
        nn.Linear(3, bad)


def test_linear_input_last_axis_mismatch_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Linear.*\(4, 5\).*3"):
        nn.Linear(3, 2)(Tensor(np.ones((4, 5), dtype=np.float32)))


@given(
    batch=st.lists(st.integers(1, 4), min_size=0, max_size=2).map(tuple),
    sizes=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_forward_matches_numpy(batch, sizes, bias, seed):
    n_in, n_out = sizes
    manual_seed(seed)
    layer = nn.Linear(n_in, n_out, bias=bias)
    x = np.random.default_rng(seed).normal(size=(*batch, n_in)).astype(np.float32)
    expected = x.astype(np.float64) @ layer.weight.data.T.astype(np.float64)
    if bias:
        expected = expected + layer.bias.data
    out = layer(Tensor(x))
    assert out.shape == (*batch, n_out)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)


def test_linear_batched_3d_input_gradients_match_numpy():
    rng = np.random.default_rng(1)
    layer = to_float64(nn.Linear(3, 4))
    x = Tensor(rng.normal(size=(2, 5, 3)), requires_grad=True)
    g = rng.normal(size=(2, 5, 4))
    (layer(x) * Tensor(g)).sum().backward()
    w = layer.weight.data
    np.testing.assert_allclose(x.grad.data, g @ w)
    np.testing.assert_allclose(layer.weight.grad.data, np.einsum("bto,bti->oi", g, x.data))
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(axis=(0, 1)))


def test_float64_network_passes_gradcheck():
    manual_seed(3)
    model = to_float64(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 3)))
    rng = np.random.default_rng(3)
    x = Tensor(rng.normal(size=(5, 3)), requires_grad=True)
    labels = np.array([0, 2, 1, 2, 0])

    def loss(x, *params):  # the params are the model's own tensors, perturbed in place by gradcheck
        return F.cross_entropy(model(x), labels, label_smoothing=0.1)

    assert gradcheck(loss, (x, *model.parameters()))
    assert gradcheck(lambda x, *params: model(x), (x, *model.parameters()))


@pytest.mark.parametrize("x_shape", [(3,), (4, 3), (2, 3, 3)], ids=["1d", "2d", "3d"])
def test_linear_primitive_gradients_pass_gradcheck(x_shape):
    rng = np.random.default_rng(4)
    x = Tensor(rng.normal(size=x_shape), requires_grad=True)
    w = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    b = Tensor(rng.normal(size=(2,)), requires_grad=True)
    assert rules.linear(x, w, b).shape == (*x_shape[:-1], 2)
    assert gradcheck(lambda x, w, b: rules.linear(x, w, b), (x, w, b))
    assert gradcheck(lambda x, w: F.linear(x, w), (x, w))  # no bias: x @ w.T


# ---- init ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nonlinearity, param, expected",
    [
        ("linear", None, 1.0),
        ("identity", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2 / (1 + 0.2**2))),
        ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
        ("leaky_relu", 0.0, math.sqrt(2)),
    ],
)
def test_calculate_gain(nonlinearity, param, expected):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-12)


def test_calculate_gain_rejects_unknown_names():
    with pytest.raises(ValueError, match="softplus"):
        init.calculate_gain("softplus")


def seeded_fill(draw, shape, seed=0):
    """Seed, fill a fresh float32 tensor with ``draw`` and check it was filled in place."""
    manual_seed(seed)
    tensor = Tensor(np.empty(shape, dtype=np.float32))
    array = tensor.data
    assert draw(tensor) is tensor and tensor.data is array  # filled in place
    return tensor.data


@pytest.mark.parametrize(
    "shape, fan_in, fan_out",
    [((300, 400), 400, 300), ((64, 8, 5, 5), 200, 1600)],
    ids=["2d", "4d"],
)
@pytest.mark.parametrize(
    "draw, bound",
    [
        pytest.param(lambda t: init.kaiming_uniform_(t, nonlinearity="relu"),
                     lambda fi, fo: math.sqrt(2) * math.sqrt(3 / fi), id="kaiming-relu"),
        pytest.param(lambda t: init.kaiming_uniform_(t, a=0.3),
                     lambda fi, fo: math.sqrt(2 / (1 + 0.09)) * math.sqrt(3 / fi), id="kaiming-leaky"),
        pytest.param(init.xavier_uniform_, lambda fi, fo: math.sqrt(6 / (fi + fo)), id="xavier"),
        pytest.param(lambda t: init.xavier_uniform_(t, gain=5 / 3),
                     lambda fi, fo: 5 / 3 * math.sqrt(6 / (fi + fo)), id="xavier-tanh"),
    ],
)
def test_scaled_uniform_initialisers_bounds_and_std(draw, bound, shape, fan_in, fan_out):
    values = seeded_fill(draw, shape)
    b = bound(fan_in, fan_out)
    assert np.abs(values).max() <= b
    assert np.abs(values).max() > 0.999 * b
    # U(-b, b) has mean 0 and std b / sqrt(3); over 1e5 draws the estimates are within 1%
    assert abs(values.mean()) < 0.01 * b
    assert values.std() == pytest.approx(b / math.sqrt(3), rel=0.01)


def test_uniform_bounds_and_moments():
    low, high = -0.5, 2.0
    values = seeded_fill(lambda t: init.uniform_(t, low, high), (100_000,))
    assert values.min() >= low and values.max() <= high
    assert values.mean() == pytest.approx((low + high) / 2, abs=0.01)
    assert values.var() == pytest.approx((high - low) ** 2 / 12, rel=0.02)


def test_normal_moments():
    values = seeded_fill(lambda t: init.normal_(t, mean=1.5, std=0.25), (100_000,))
    assert values.mean() == pytest.approx(1.5, abs=0.005)
    assert values.std() == pytest.approx(0.25, rel=0.01)
    # about 95.45% within two standard deviations
    assert np.mean(np.abs(values - 1.5) < 0.5) == pytest.approx(0.9545, abs=0.005)


def test_zeros():
    tensor = Tensor(np.ones((3, 4), dtype=np.float32))
    assert init.zeros_(tensor) is tensor
    assert not tensor.data.any()


def test_initialisers_are_reproducible_with_manual_seed():
    draws = [seeded_fill(init.xavier_uniform_, (5, 7), seed=s) for s in (11, 11, 12)]
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.xavier_uniform_])
@pytest.mark.parametrize("shape", [(5,), ()])
def test_fan_based_initialisers_reject_tensors_below_2d(fn, shape):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fn(Tensor(np.zeros(shape, dtype=np.float32)))


# ---- cross_entropy and nll_loss ----------------------------------------------------

logit_matrices = st.tuples(st.integers(1, 6), st.integers(2, 6)).flatmap(
    lambda nk: hnp.arrays(np.float64, nk, elements=st.floats(-30, 30))
)


@given(logits=logit_matrices, data=st.data(),
       reduction=st.sampled_from(["mean", "sum", "none"]),
       smoothing=st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_cross_entropy_matches_numpy(logits, data, reduction, smoothing):
    n, k = logits.shape
    labels = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    loss = F.cross_entropy(Tensor(logits), labels, reduction=reduction, label_smoothing=smoothing)
    expected = np_cross_entropy(logits, labels, reduction, smoothing)
    assert loss.shape == np.shape(expected)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_gradient_closed_form(dtype, rtol, reduction, smoothing):
    rng = np.random.default_rng(5)
    z = rng.normal(size=(6, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2, 0])
    logits = Tensor(z.astype(dtype), requires_grad=True)
    loss = F.cross_entropy(logits, labels, reduction=reduction, label_smoothing=smoothing)
    assert loss.dtype == dtype
    loss.backward()
    # d/dz of -sum(q log softmax z) is softmax(z) - q per row
    expected = np_softmax(z) - np_target_distribution(labels, 4, smoothing)
    if reduction == "mean":
        expected /= len(labels)
    assert logits.grad.dtype == dtype
    np.testing.assert_allclose(logits.grad.data, expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]])
    labels = np.array([1, 2, 0])
    logits = Tensor(z.astype(dtype), requires_grad=True)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(logits.grad.data).all()
    # row 0 misses by 2e4, row 1 is right, row 2 is a tie between the two largest: log 2
    np.testing.assert_allclose(loss.item(), (2e4 + 0 + math.log(2)) / 3, rtol=1e-6)
    np.testing.assert_allclose(logits.grad.data, (np_softmax(z) - np.eye(3)[labels]) / 3, atol=1e-6)


@pytest.mark.parametrize(
    "make_target",
    [
        lambda y: y,
        lambda y: y.astype(np.uint8),
        lambda y: y.tolist(),
        lambda y: Tensor(y),
    ],
    ids=["int64 array", "uint8 array", "list", "integer tensor"],
)
def test_cross_entropy_target_forms(make_target):
    z = np.random.default_rng(6).normal(size=(4, 3))
    labels = np.array([2, 0, 1, 2])
    loss = F.cross_entropy(Tensor(z), make_target(labels))
    np.testing.assert_allclose(loss.item(), np_cross_entropy(z, labels), rtol=1e-12)


@pytest.mark.parametrize("loss_fn", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
@pytest.mark.parametrize(
    "logits_shape, target, kwargs, error, pattern",
    [
        ((3, 4), np.array([0.0, 1.0, 2.0]), {}, TypeError, "integer"),
        ((3, 4), Tensor([0, 1, 2]), {}, TypeError, "float32"),  # a list-built Tensor is float32
        ((3, 4), np.array([0, 4, 1]), {}, ValueError, r"\[0, 3\]"),
        ((3, 4), np.array([0, -1, 1]), {}, ValueError, r"\[0, 3\]"),
        ((3, 4), np.array([[0], [1], [2]]), {}, ValueError, r"\(3, 1\).*\(3,\)"),
        ((3, 4), np.array([0, 1]), {}, ValueError, r"\(2,\)"),
        ((3, 4), np.array([0, 1, 2]), {"reduction": "avg"}, ValueError, "avg"),
        ((4,), np.array([0]), {}, ValueError, r"\(batch, classes\)"),
        ((2, 3, 4), np.array([0, 1]), {}, ValueError, r"\(batch, classes\)"),
    ],
    ids=["float-target", "float-tensor-target", "too-large", "negative", "2d-target", "short-target",
         "bad-reduction", "1d-logits", "3d-logits"],
)
def test_class_loss_errors(loss_fn, logits_shape, target, kwargs, error, pattern):
    name = loss_fn.__name__
    with pytest.raises(error, match=f"{name}.*{pattern}"):
        loss_fn(Tensor(np.zeros(logits_shape)), target, **kwargs)


@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_cross_entropy_rejects_label_smoothing_outside_unit_interval(smoothing):
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 1]), label_smoothing=smoothing)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_numpy_and_its_gradient(reduction):
    rng = np.random.default_rng(7)
    log_probs = np_log_softmax(rng.normal(size=(5, 4)))
    labels = np.array([3, 0, 0, 2, 1])
    x = Tensor(log_probs.copy(), requires_grad=True)
    loss = F.nll_loss(x, labels, reduction=reduction)
    picked = log_probs[np.arange(5), labels]
    np.testing.assert_allclose(loss.data, np_reduce(-picked, reduction), rtol=1e-12)
    loss.sum().backward()
    expected = -np.eye(4)[labels] / (5 if reduction == "mean" else 1)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


def test_nll_loss_agrees_with_cross_entropy_on_log_softmax():
    z = Tensor(np.random.default_rng(8).normal(size=(6, 5)))
    labels = np.array([0, 1, 2, 3, 4, 0])
    expected = F.cross_entropy(z, labels).item()
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(z), labels).item(), expected, rtol=1e-12)


def test_nll_loss_ignores_log_probabilities_of_other_classes():
    log_probs = Tensor(np.array([[math.log(0.5), math.log(0.5), -np.inf], [-np.inf, math.log(0.25), math.log(0.75)]]))
    loss = F.nll_loss(log_probs, np.array([0, 2]), reduction="none")
    np.testing.assert_allclose(loss.data, [math.log(2), -math.log(0.75)])


# ---- mse_loss, l2_penalty ---------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("make_target", [np.asarray, Tensor, lambda a: a.tolist()], ids=["array", "tensor", "list"])
def test_mse_loss_value_and_gradient(reduction, make_target):
    rng = np.random.default_rng(9)
    x_np, t_np = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    x = Tensor(x_np, requires_grad=True)
    loss = F.mse_loss(x, make_target(t_np), reduction=reduction)
    np.testing.assert_allclose(loss.data, np_reduce((x_np - t_np) ** 2, reduction), rtol=1e-6)
    loss.sum().backward()
    expected = 2 * (x_np - t_np) / (x_np.size if reduction == "mean" else 1)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-6)


def test_mse_loss_errors():
    with pytest.raises(ValueError, match=r"mse_loss.*\(3,\).*\(2, 3\)"):
        F.mse_loss(Tensor(np.zeros((2, 3))), np.zeros(3))
    with pytest.raises(ValueError, match="mse_loss.*reduction"):
        F.mse_loss(Tensor(np.zeros(3)), np.zeros(3), reduction="max")


def test_l2_penalty_value_and_gradient():
    rng = np.random.default_rng(10)
    arrays = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    weights = [Tensor(a, requires_grad=True) for a in arrays]
    lam = 0.3
    penalty = F.l2_penalty(weights, lam)
    np.testing.assert_allclose(penalty.item(), 0.5 * lam * sum((a**2).sum() for a in arrays), rtol=1e-12)
    penalty.backward()
    for w, a in zip(weights, arrays):
        np.testing.assert_allclose(w.grad.data, lam * a, rtol=1e-12)


def test_l2_penalty_needs_weights():
    with pytest.raises(ValueError, match="l2_penalty"):
        F.l2_penalty([], 0.1)


# ---- activations -------------------------------------------------------------------


def away_from_zero(shape, seed, margin=0.1):
    """Values in [-3, -margin] U [margin, 3] so finite differences never straddle a kink."""
    rng = np.random.default_rng(seed)
    return rng.uniform(margin, 3.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu_values_and_gradient(slope):
    # the gradient at 0 is the negative slope, as in PyTorch
    x_np = np.concatenate([away_from_zero(20, seed=11), [-1e-3, -1e-9, 0.0, 1e-9, 1e-3]])
    x = Tensor(x_np, requires_grad=True)
    out = F.leaky_relu(x, slope)
    np.testing.assert_allclose(out.data, np.where(x_np > 0, x_np, slope * x_np), rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.where(x_np > 0, 1.0, slope), rtol=1e-12)
    np.testing.assert_array_equal(nn.LeakyReLU(slope)(Tensor(x_np)).data, out.data)


@pytest.mark.parametrize(
    "layer, reference",
    [
        pytest.param(nn.ReLU(), lambda x: np.maximum(x, 0), id="ReLU"),
        pytest.param(nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x), id="LeakyReLU"),
        pytest.param(nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x)), id="Sigmoid"),
        pytest.param(nn.Tanh(), np.tanh, id="Tanh"),
        pytest.param(nn.Flatten(), lambda x: x.reshape(len(x), -1), id="Flatten"),
    ],
)
def test_activation_layers_match_numpy(layer, reference):
    x = away_from_zero((3, 2, 4), seed=12)
    np.testing.assert_allclose(layer(Tensor(x)).data, reference(x), rtol=1e-12)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.leaky_relu(x, 0.1),
        lambda x: F.softmax(x),
        lambda x: F.softmax(x, axis=0),
        lambda x: F.log_softmax(x),
        lambda x: F.log_softmax(x, axis=0),
    ],
    ids=["leaky_relu", "softmax", "softmax-axis0", "log_softmax", "log_softmax-axis0"],
)
def test_activation_gradients_pass_gradcheck(fn):
    x = Tensor(away_from_zero((3, 4), seed=13), requires_grad=True)
    assert gradcheck(fn, x)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax_match_numpy(axis):
    z = np.random.default_rng(14).normal(size=(3, 4)) * 10
    np.testing.assert_allclose(F.softmax(Tensor(z), axis).data, np_softmax(z, axis), rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(Tensor(z), axis).data, np_log_softmax(z, axis), rtol=1e-12, atol=1e-12)


# ---- dropout -----------------------------------------------------------------------


def dropout_input(shape=(400, 250)):
    return np.random.default_rng(15).uniform(1.0, 2.0, size=shape).astype(np.float32)


@pytest.mark.parametrize("p, training", [(0.5, False), (0.0, True), (0.0, False)])
def test_dropout_identity_in_eval_or_with_p_zero(p, training):
    x = Tensor(dropout_input((20, 30)))
    np.testing.assert_array_equal(F.dropout(x, p, training=training).data, x.data)
    layer = nn.Dropout(p)
    layer.train(training)
    np.testing.assert_array_equal(layer(x).data, x.data)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.8])
def test_dropout_zeroes_about_p_and_scales_survivors(p):
    x_np = dropout_input()
    manual_seed(0)
    out = F.dropout(Tensor(x_np), p).data
    dropped = out == 0
    # the fraction of 1e5 Bernoulli(p) draws is within 5 standard deviations of p
    assert abs(dropped.mean() - p) < 5 * math.sqrt(p * (1 - p) / x_np.size)
    np.testing.assert_allclose(out[~dropped], x_np[~dropped] / (1 - p), rtol=1e-6)
    assert out.dtype == np.float32


def test_dropout_gradient_is_the_scaled_mask():
    p = 0.4
    x = Tensor(dropout_input((50, 40)), requires_grad=True)
    manual_seed(1)
    out = F.dropout(x, p)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, (out.data != 0) / (1 - p), rtol=1e-6)


def test_dropout_is_reproducible_with_manual_seed():
    x = Tensor(dropout_input((30, 30)))
    masks = []
    for seed in (4, 4, 5):
        manual_seed(seed)
        masks.append(F.dropout(x, 0.5).data == 0)
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], masks[2])


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_dropout_rejects_p_outside_unit_interval(p):
    with pytest.raises(ValueError, match=r"^dropout: dropout probability has to be between 0 and 1"):
        F.dropout(Tensor([1.0]), p)
    with pytest.raises(ValueError, match=r"^Dropout: dropout probability has to be between 0 and 1"):
        nn.Dropout(p)
