"""Cases for ``nn.Module`` and its containers: registration, names, state_dict, conversion, walking the tree.

Every model is built on both sides and given the same weights through
``load_state_dict`` from numpy arrays, so outputs and gradients compare.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

from parity import case, raises


def _fill(T: Any, model: Any) -> Any:
    """The same deterministic values in every entry of ``model.state_dict()`` on both sides; returns model."""
    arrays = {}
    for k, (name, value) in enumerate(model.state_dict().items()):
        shape = tuple(value.shape)
        arrays[name] = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape) * (0.5 + 0.1 * k)
    model.load_state_dict({name: T.tensor(a) for name, a in arrays.items()})
    return model


def _x(T: Any, rows: int, cols: int) -> Any:
    return T.tensor(np.sin(np.arange(rows * cols, dtype=np.float64)).reshape(rows, cols), requires_grad=True)


def _names(pairs: Any) -> list[str]:
    return [name for name, _ in pairs]


def _mlp(T: Any) -> Any:
    return _fill(T, T.nn.Sequential(T.nn.Linear(3, 4), T.nn.Tanh(), T.nn.Linear(4, 2)).double())


# ---- Sequential ---------------------------------------------------------------------------------
@case
def sequential_names_output_and_gradients(T):
    model = _mlp(T)
    x = _x(T, 5, 3)
    out = model(x)
    (out * out).sum().backward()
    return (out, x.grad, [p.grad for p in model.parameters()], _names(model.named_parameters()),
            list(model.state_dict()), len(model), type(model[-1]).__name__)


@case
def sequential_slice_keeps_the_names(T):
    model = _mlp(T)
    tail = model[1:]
    return type(tail).__name__, _names(tail.named_parameters()), tail(_x(T, 2, 4))


@case
def sequential_from_an_ordered_dict(T):
    model = T.nn.Sequential(OrderedDict([("hidden", T.nn.Linear(2, 3)), ("act", T.nn.ReLU())]))
    return list(model.state_dict()), _names(model.named_children())


# ---- registration -------------------------------------------------------------------------------
@case
def attributes_register_in_assignment_order_and_plain_lists_do_not(T):
    class Net(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = T.nn.Linear(2, 2)
            self.scale = T.nn.Parameter(T.tensor([1.0, 2.0]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.hidden = [T.nn.Linear(2, 2)]
                self.extra = {"w": T.nn.Parameter(T.tensor([3.0]))}
            self.body = T.nn.Linear(2, 2, bias=False)

    net = Net()
    return _names(net.named_parameters()), list(net.state_dict()), _names(net.named_children())


@case
def reassigning_a_parameter_and_a_module(T):
    layer = T.nn.Linear(2, 2)
    layer.bias = None
    layer.weight = T.nn.Parameter(T.tensor([[1.0, 2.0]]))
    layer.extra = T.nn.Tanh()
    layer.extra = None
    return _names(layer.named_parameters()), list(layer.state_dict()), _names(layer.named_children())


# ---- ModuleList, ModuleDict, ParameterList, ParameterDict -------------------------------------------
@case
def module_list_append_extend_insert_index_slice(T):
    class Tower(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = T.nn.ModuleList([T.nn.Linear(3, 3)])
            self.blocks.append(T.nn.Tanh())
            self.blocks.extend([T.nn.Linear(3, 2), T.nn.Sigmoid()])
            self.blocks.insert(1, T.nn.Linear(3, 3, bias=False))

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    tower = _fill(T, Tower().double())
    x = _x(T, 4, 3)
    out = tower(x)
    out.sum().backward()
    kinds = [type(m).__name__ for m in tower.blocks]
    sliced = tower.blocks[1:3]
    return (out, x.grad, _names(tower.named_parameters()), kinds, len(tower.blocks),
            type(tower.blocks[-2]).__name__, type(sliced).__name__, _names(sliced.named_parameters()))


@case
def module_list_delete_and_set_renumber(T):
    blocks = T.nn.ModuleList([T.nn.Linear(1, 1), T.nn.ReLU(), T.nn.Linear(1, 2)])
    del blocks[0]
    blocks[0] = T.nn.Linear(2, 2)
    blocks += [T.nn.Tanh()]
    return list(blocks.state_dict()), [type(m).__name__ for m in blocks], len(blocks)


@case
def module_dict_keys_order_and_names(T):
    heads = T.nn.ModuleDict({"zeta": T.nn.Linear(2, 1), "alpha": T.nn.Linear(2, 3)})
    heads["mid"] = T.nn.ReLU()
    popped = heads.pop("mid")
    return (list(heads.keys()), list(heads), _names(heads.named_parameters()), list(heads.state_dict()),
            "alpha" in heads, len(heads), type(popped).__name__, [k for k, _ in heads.items()])


@case
def parameter_list_converts_tensors_and_names_by_position(T):
    params = T.nn.ParameterList([T.tensor([1.0, 2.0])])
    params.append(T.nn.Parameter(T.tensor([3.0])))
    params.extend([T.tensor([[4.0]])])
    return (_names(params.named_parameters()), [isinstance(p, T.nn.Parameter) for p in params],
            [p.requires_grad for p in params], len(params), params[-1], list(params.state_dict()))


@case
def parameter_dict_sorts_a_plain_dict(T):
    params = T.nn.ParameterDict({"zeta": T.tensor([1.0]), "alpha": T.tensor([2.0, 3.0])})
    params["beta"] = T.tensor([4.0])
    ordered = T.nn.ParameterDict(OrderedDict([("z", T.tensor([1.0])), ("a", T.tensor([2.0]))]))
    return (list(params), _names(params.named_parameters()), isinstance(params["zeta"], T.nn.Parameter),
            "beta" in params, list(ordered.keys()), params["alpha"])


@case
def containers_inside_a_model_state_dict_round_trip(T):
    class Model(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.gains = T.nn.ParameterList([T.tensor([1.0, 1.0])])
            self.layers = T.nn.ModuleDict({"in": T.nn.Linear(2, 2)})

        def forward(self, x):
            return self.layers["in"](x) * self.gains[0]

    model = _fill(T, Model().double())
    x = _x(T, 3, 2)
    model(x).sum().backward()
    return list(model.state_dict()), model(x), model.gains[0].grad, model.layers["in"].weight.grad


# ---- conversion ------------------------------------------------------------------------------------
@case
def double_converts_parameters_gradients_and_float_buffers_in_place(T):
    model = T.nn.Sequential(T.nn.Linear(2, 2))
    model[0].register_buffer("mean", T.tensor([0.5, 1.5]))
    model[0].register_buffer("count", T.tensor([3]))
    weight = model[0].weight
    model(T.tensor([[1.0, 2.0]])).sum().backward()
    grad = weight.grad
    result = model.double()
    return (result is model, model[0].weight is weight, weight.dtype, weight.grad.dtype, weight.grad is grad,
            model[0].bias.dtype, model[0].mean.dtype, model[0].count.dtype)


@case
def to_dtype_to_cpu_float_and_half(T):
    layer = T.nn.Linear(2, 2)
    first = layer.to(T.float64) is layer, layer.weight.dtype
    second = layer.to("cpu") is layer, layer.weight.dtype
    third = layer.to("cpu", T.float32).bias.dtype, layer.to(dtype=T.float64).bias.dtype
    return first, second, third, layer.half().weight.dtype, layer.float().weight.dtype


def _loss_of(T: Any, model: Any) -> Any:
    x = T.tensor(np.cos(np.arange(10.0)).reshape(2, 5))
    return (model(x) ** 2).sum()


@case
def gradcheck_after_double(T):
    model = T.nn.Sequential(T.nn.Linear(5, 4), T.nn.Tanh(), T.nn.Linear(4, 3)).double()
    _fill(T, model)
    params = tuple(model.parameters())
    ok = T.autograd.gradcheck(lambda *ps: _loss_of(T, model), params)
    return ok, [p.dtype for p in params], [p.requires_grad and p.is_leaf for p in params]


# ---- buffers -------------------------------------------------------------------------------------
def _normalizer(T: Any) -> Any:
    class Normalizer(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", T.tensor([0.0, 0.0]))
            self.register_buffer("scratch", T.tensor([9.0]), persistent=False)
            self.linear = T.nn.Linear(2, 1)

        def forward(self, x):
            return self.linear(x - self.mean)

    return Normalizer()


@case
def buffers_named_saved_restored_and_converted(T):
    model = _normalizer(T).double()
    state = {"mean": T.tensor([1.0, -1.0]), "linear.weight": T.tensor([[2.0, 3.0]]), "linear.bias": T.tensor([0.5])}
    model.load_state_dict(state)
    x = _x(T, 2, 2)
    out = model(x)
    out.sum().backward()
    return (_names(model.named_buffers()), list(model.state_dict()), model.mean, [b.dtype for b in model.buffers()],
            out, x.grad, _names(model.named_parameters()), model.linear.weight.grad)


@case
def load_state_dict_non_strict_reports_keys(T):
    model = _normalizer(T)
    result = model.load_state_dict({"mean": T.tensor([1.0, 2.0]), "other": T.tensor([1.0])}, strict=False)
    return result.missing_keys, result.unexpected_keys, model.mean


@case
def buffer_reassignment_and_none(T):
    model = _normalizer(T)
    model.mean = T.tensor([5.0, 6.0])
    model.scratch = None
    return _names(model.named_buffers()), list(model.state_dict()), model.mean


# ---- walking the tree -----------------------------------------------------------------------------
@case
def apply_visits_children_first(T):
    model = T.nn.Sequential(T.nn.Linear(1, 1), T.nn.Sequential(T.nn.ReLU(), T.nn.Tanh()))
    seen = []
    result = model.apply(lambda m: seen.append(type(m).__name__))
    return seen, result is model


@case
def named_modules_with_prefix_and_shared_modules(T):
    shared = T.nn.Linear(2, 2)
    model = T.nn.Sequential(shared, T.nn.Sequential(shared, T.nn.ReLU()), shared)
    return (_names(model.named_modules()), _names(model.named_modules(prefix="net")), len(list(model.modules())),
            _names(model.named_children()), len(list(model.children())), _names(model.named_parameters()),
            len(list(model.parameters())), list(model.state_dict()))


@case
def train_and_eval_are_recursive(T):
    model = T.nn.Sequential(T.nn.Linear(1, 1), T.nn.Sequential(T.nn.Dropout(0.5)))
    after_eval = model.eval() is model, [m.training for m in model.modules()]
    model[1].train()
    return after_eval, [m.training for m in model.modules()], model.train() is model, model[1][0].training


@case
def requires_grad_off_and_on(T):
    model = _mlp(T)
    off = model.requires_grad_(False) is model, [p.requires_grad for p in model.parameters()]
    out = model(T.tensor([[1.0, 2.0, 3.0]], dtype=T.float64))
    model.requires_grad_()
    return off, out.requires_grad, [p.requires_grad for p in model.parameters()]


@case
def zero_grad_to_none_or_to_zeros(T):
    model = _mlp(T)
    model(_x(T, 2, 3)).sum().backward()
    grad = model[0].weight.grad
    model.zero_grad(set_to_none=False)
    zeroed = [p.grad for p in model.parameters()], model[0].weight.grad is grad
    model.zero_grad()
    return zeroed, [p.grad is None for p in model.parameters()]


# ---- misuse ---------------------------------------------------------------------------------------
@raises
def to_a_device_that_is_not_there(T):
    T.nn.Linear(2, 2).to("cuda")


@raises
def to_an_integer_dtype(T):
    T.nn.Linear(2, 2).to(T.int64)


@raises
def module_list_index_out_of_range(T):
    T.nn.ModuleList([T.nn.ReLU(), T.nn.Tanh()])[2]


@raises
def module_list_negative_index_out_of_range(T):
    T.nn.ModuleList([T.nn.ReLU()])[-2]


@raises
def module_list_of_a_non_module(T):
    T.nn.ModuleList([T.nn.ReLU(), 3])


@raises
def sequential_index_out_of_range(T):
    T.nn.Sequential(T.nn.ReLU())[1]


@raises
def module_dict_missing_key(T):
    T.nn.ModuleDict({"a": T.nn.ReLU()})["b"]


@raises
def module_dict_dotted_key(T):
    T.nn.ModuleDict({"a.b": T.nn.ReLU()})


@raises
def load_state_dict_wrong_shape(T):
    T.nn.Linear(2, 3).load_state_dict({"weight": T.tensor(np.zeros((2, 2))), "bias": T.tensor(np.zeros(3))})


@raises
def load_state_dict_wrong_shape_even_when_not_strict(T):
    T.nn.Linear(2, 3).load_state_dict({"bias": T.tensor(np.zeros(4))}, strict=False)


@raises
def load_state_dict_missing_key(T):
    T.nn.Linear(2, 3).load_state_dict({"weight": T.tensor(np.zeros((3, 2)))})


@raises
def register_buffer_with_a_dotted_name(T):
    T.nn.Linear(1, 1).register_buffer("a.b", T.tensor([1.0]))


@raises
def register_buffer_over_a_parameter(T):
    T.nn.Linear(1, 1).register_buffer("weight", T.tensor([1.0]))


@raises
def register_buffer_of_a_list(T):
    T.nn.Linear(1, 1).register_buffer("values", [1.0])


@raises
def plain_tensor_assigned_to_a_parameter_name(T):
    T.nn.Linear(1, 1).weight = T.tensor([[1.0]])


@raises
def module_assigned_before_init(T):
    class Early(T.nn.Module):
        def __init__(self):
            self.layer = T.nn.Linear(1, 1)
            super().__init__()

    Early()
