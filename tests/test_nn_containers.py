"""nn.Module registration and containers: what PyTorch cannot be compared on (warnings, messages, identity).

The values, names and keys themselves are compared with PyTorch in ``tests/parity/module.py``.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

from tinygrad_mnist import Tensor, manual_seed, nn, optim
from tinygrad_mnist.autograd import gradcheck
from tinygrad_mnist.mnist.models import build_mlp
from tinygrad_mnist.nn import RegistrationError, StateDictError


class Holder(nn.Module):
    def __init__(self, value: object) -> None:
        super().__init__()
        self.items = value


# ---- plain containers warn and are not registered ---------------------------------------------
@pytest.mark.parametrize(
    "value, container",
    [
        ([nn.Linear(1, 1)], "ModuleList"),
        ((nn.ReLU(), nn.Linear(1, 1)), "ModuleList"),
        ({"a": nn.Linear(1, 1)}, "ModuleDict"),
        ([nn.Parameter(np.ones(2))], "ParameterList"),
        ({"w": nn.Parameter(np.ones(2))}, "ParameterDict"),
        ([[nn.Linear(1, 1)]], "ModuleList"),
    ],
    ids=["list", "tuple", "dict", "param-list", "param-dict", "nested"],
)
def test_plain_container_of_modules_or_parameters_warns_once_and_is_not_registered(value, container):
    with pytest.warns(UserWarning) as record:
        holder = Holder(value)
    assert len(record) == 1
    message = str(record[0].message)
    assert "Holder.items" in message and f"nn.{container}" in message
    assert record[0].filename == __file__  # points at the assignment in the user's code
    assert holder.parameters() == [] and holder.state_dict() == {} and list(holder.children()) == []
    assert holder.items is value


@pytest.mark.parametrize("value", [[1, 2], (), {"lr": 0.1}, [np.ones(2)], "text"])
def test_plain_values_do_not_warn(value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Holder(value).items is value


def test_module_list_is_registered_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        holder = Holder(nn.ModuleList([nn.Linear(2, 1)]))
    assert [name for name, _ in holder.named_parameters()] == ["items.0.weight", "items.0.bias"]


# ---- registration errors -------------------------------------------------------------------------
def test_registration_errors_name_the_problem():
    layer = nn.Linear(1, 1)
    with pytest.raises(RegistrationError, match=r"buffer name.*'a\.b'") as info:
        layer.register_buffer("a.b", Tensor([1.0]))
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(RegistrationError, match="'weight' already exists"):
        layer.register_buffer("weight", Tensor([1.0]))
    with pytest.raises(RegistrationError, match="'forward' already exists"):
        layer.register_buffer("forward", Tensor([1.0]))
    with pytest.raises(TypeError, match="register_buffer: cannot assign list to buffer 'x'"):
        layer.register_buffer("x", [1.0])
    with pytest.raises(TypeError, match=r"cannot assign Tensor to parameter 'weight'.*Parameter or None"):
        layer.weight = Tensor(np.zeros((1, 1), dtype=np.float32))
    with pytest.raises(TypeError, match="buffer name should be a str, got int"):
        layer.register_buffer(3, Tensor([1.0]))  # type: ignore[arg-type]


def test_assigning_a_module_before_init_says_so():
    class Early(nn.Module):
        def __init__(self) -> None:
            self.layer = nn.Linear(1, 1)
            super().__init__()

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\)"):
        Early()


def test_missing_attribute_message_and_delattr():
    layer = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        layer.wieght  # noqa: B018
    assert "weight" in dir(layer)
    del layer.bias
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


# ---- containers ------------------------------------------------------------------------------------
def test_container_index_errors():
    layers = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    with pytest.raises(IndexError, match="ModuleList: index 2 is out of range for length 2"):
        layers[2]
    with pytest.raises(IndexError, match="index -3"):
        layers[-3]
    with pytest.raises(TypeError, match="ModuleList indices must be integers or slices, got str"):
        layers["0"]  # type: ignore[index]
    with pytest.raises(IndexError, match="Sequential: index 5"):
        nn.Sequential(nn.ReLU())[5]
    with pytest.raises(TypeError, match="add_module: int is not a Module"):
        layers.append(3)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="missing"):
        nn.ModuleDict()["missing"]
    with pytest.raises(TypeError, match="ParameterList: items must be Parameters or Tensors, got list"):
        nn.ParameterList([[1.0]])


def test_container_repr():
    assert repr(nn.ModuleList([nn.ReLU(), nn.Linear(1, 2)])) == (
        "ModuleList(\n  (0): ReLU()\n  (1): Linear(in_features=1, out_features=2, bias=True)\n)")
    assert repr(nn.ModuleDict({"act": nn.Tanh()})) == "ModuleDict(\n  (act): Tanh()\n)"
    assert "(0): Parameter of shape (2,), dtype float64" in repr(nn.ParameterList([Tensor(np.ones(2))]))


def test_mnist_model_state_dict_keys_are_unchanged():
    manual_seed(0)
    model = build_mlp(784, [32], 10, "relu", 0.0)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_deepcopy_keeps_registration_and_is_independent():
    model = nn.Sequential(nn.Linear(2, 2), nn.ModuleList([nn.Linear(2, 1)]))
    twin = copy.deepcopy(model)
    assert list(twin.state_dict()) == list(model.state_dict())
    twin[0].weight.data[...] = 7.0
    assert not np.any(model[0].weight.data == 7.0)


# ---- conversion --------------------------------------------------------------------------------------
def test_to_errors_name_the_device_and_dtype():
    layer = nn.Linear(1, 1)
    with pytest.raises(ValueError, match="to: device 'cuda' is not available, expected 'cpu'"):
        layer.to("cuda")
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes, got int64"):
        layer.to(np.int64)
    with pytest.raises(TypeError, match="to: unexpected arguments"):
        layer.to(copy=True)
    assert layer.weight.dtype == np.float32  # nothing changed


def test_double_keeps_parameter_identity_for_an_optimizer_made_before():
    manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    model.double()
    assert all(a is b for a, b in zip(optimizer.params, model.parameters(), strict=True))
    x = Tensor(np.ones((4, 3)))
    before = model[0].weight.data.copy()
    model(x).sum().backward()
    optimizer.step()
    assert model[0].weight.dtype == np.float64
    np.testing.assert_allclose(model[0].weight.data, before - 0.5 * 4.0)


def test_zero_grad_set_to_none_false_zeros_in_place_even_for_read_only_gradients():
    layer = nn.Linear(2, 2)
    layer(Tensor(np.ones((1, 2), dtype=np.float32))).sum().backward()
    grad = layer.bias.grad
    grad.data.setflags(write=False)
    layer.zero_grad(set_to_none=False)
    assert layer.bias.grad is grad and not np.any(grad.data) and grad.dtype == np.float32
    layer.zero_grad()
    assert layer.bias.grad is None and layer.weight.grad is None


def test_gradcheck_of_a_model_after_double():
    manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    x = Tensor(np.random.default_rng(0).normal(size=(6, 5)))
    target = Tensor(np.random.default_rng(1).normal(size=(6, 3)))

    def loss_of(params: tuple[Tensor, ...]) -> Tensor:  # the params are the model's own, perturbed in place
        return ((model(x) - target) ** 2).mean()

    params = tuple(model.parameters())
    assert all(p.dtype == np.float64 and p.requires_grad and p.is_leaf for p in params)
    assert gradcheck(lambda *ps: loss_of(ps), params)


def test_load_state_dict_reports_keys_and_rejects_bad_buffers():
    layer = nn.Linear(2, 1)
    layer.register_buffer("steps", Tensor(np.zeros((), dtype=np.int64)))
    result = layer.load_state_dict({"steps": np.array(4), "extra": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["weight", "bias"] and result.unexpected_keys == ["extra"]
    assert layer.steps.item() == 4 and layer.steps.dtype == np.int64
    with pytest.raises(StateDictError, match=r"steps has shape \(2,\), expected \(\)"):
        layer.load_state_dict({"steps": np.zeros(2, dtype=np.int64)}, strict=False)
