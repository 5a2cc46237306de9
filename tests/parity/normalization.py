"""Cases for normalisation, embedding, one-hot and dropout: functions and modules, train and eval mode.

Modules get the same deterministic parameters and running statistics on both
sides through ``load_state_dict``; outputs, input/weight/bias gradients,
running statistics and ``state_dict`` keys and dtypes are compared. Dropout in
training mode is random, so only what is deterministic is compared here (eval
mode, ``p=0``, ``p=1``); its statistics are checked in ``tests/test_normalization.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from parity import case, raises, weighted


def _x(T: Any, *shape: int, dtype: Any = None, grad: bool = True) -> Any:
    """Values that differ per channel in mean and spread, so every statistic is non-trivial."""
    n = int(np.prod(shape))
    values = np.sin(np.arange(n) * 1.3) * 2.0 + np.cos(np.arange(n) * 0.7)
    if len(shape) > 1:
        values = values.reshape(shape) * (1.0 + np.arange(shape[1]).reshape((1, -1) + (1,) * (len(shape) - 2)))
    return T.tensor(values.reshape(shape), dtype=dtype or T.float64, requires_grad=grad)


def _leaf(T: Any, *shape: int, scale: float = 1.0) -> Any:
    """A float64 leaf that requires grad, for weights and biases passed to the functions."""
    n = int(np.prod(shape))
    return T.tensor((1.0 + 0.5 * np.sin(np.arange(n) * 2.1)).reshape(shape) * scale, requires_grad=True)


def _load(T: Any, model: Any) -> Any:
    """The same parameters (and positive running variances) on both sides; ``num_batches_tracked`` kept."""
    state = {}
    for k, (name, value) in enumerate(model.state_dict().items()):
        kind = name.rsplit(".", 1)[-1]
        if kind == "num_batches_tracked":
            state[name] = value
            continue
        n = int(np.prod(tuple(value.shape)))
        wave = np.sin(np.arange(n) * 0.9 + k)
        array = {"weight": 1.0 + 0.5 * wave, "bias": 0.3 * wave, "running_var": 0.5 + 0.4 * (wave + 1),
                 "running_mean": 0.2 * wave}[kind]
        state[name] = T.tensor(array.reshape(tuple(value.shape)), dtype=value.dtype)
    model.load_state_dict(state)
    return model


def _run(T: Any, model: Any, x: Any) -> tuple[Any, ...]:
    """Output, input gradient and parameter gradients of ``model`` at ``x`` (copies: later passes add to them)."""
    out = model(x)
    weighted(T, out).backward()
    return (out, x.grad, *(p.grad.clone() for p in model.parameters()))


def _buffers(model: Any) -> dict[str, Any]:
    return dict(model.named_buffers())


def _dtypes(model: Any) -> dict[str, str]:
    return {name: str(value.dtype).replace("torch.", "") for name, value in model.state_dict().items()}


# ---- BatchNorm ------------------------------------------------------------------------------------
@case
def batch_norm1d_train_on_2d_input(T):
    model = _load(T, T.nn.BatchNorm1d(3).double())
    return (*_run(T, model, _x(T, 5, 3)), _buffers(model))


@case
def batch_norm1d_train_on_3d_input(T):
    model = _load(T, T.nn.BatchNorm1d(3).double())
    return (*_run(T, model, _x(T, 4, 3, 5)), _buffers(model))


@case
def batch_norm2d_train(T):
    model = _load(T, T.nn.BatchNorm2d(2).double())
    return (*_run(T, model, _x(T, 3, 2, 4, 5)), _buffers(model))


@case
def batch_norm2d_eval_uses_running_statistics(T):
    model = _load(T, T.nn.BatchNorm2d(2).double()).eval()
    return (*_run(T, model, _x(T, 3, 2, 2, 3)), _buffers(model))


@case
def batch_norm1d_eval_on_one_sample(T):
    model = _load(T, T.nn.BatchNorm1d(3).double()).eval()
    return _run(T, model, _x(T, 1, 3))


@case
def batch_norm_running_statistics_after_three_steps_then_eval(T):
    model = _load(T, T.nn.BatchNorm1d(3, momentum=0.3).double())
    for step in range(3):
        model(_x(T, 4 + step, 3, 2) * (step + 1.0) + step)
    stats = {name: b.clone() for name, b in model.named_buffers()}
    return (stats, *_run(T, model.eval(), _x(T, 2, 3, 2)))


@case
def batch_norm_momentum_none_is_a_cumulative_average(T):
    model = _load(T, T.nn.BatchNorm2d(2, momentum=None).double())
    for step in range(3):
        model(_x(T, 2, 2, 3, step + 2) - step)
    return _buffers(model), model.momentum


@case
def batch_norm_without_affine(T):
    model = _load(T, T.nn.BatchNorm1d(3, affine=False).double())
    out = model(x := _x(T, 4, 3))
    weighted(T, out).backward()
    return out, x.grad, list(model.state_dict()), model.weight, model.bias, _buffers(model)


@case
def batch_norm_without_bias(T):
    model = _load(T, T.nn.BatchNorm1d(3, bias=False).double())
    return (*_run(T, model, _x(T, 4, 3)), list(model.state_dict()), model.bias)


@case
def batch_norm_without_running_statistics_uses_the_batch_in_eval_too(T):
    model = _load(T, T.nn.BatchNorm2d(2, track_running_stats=False).double())
    train = _run(T, model, _x(T, 2, 2, 3, 3))
    evaluated = _run(T, model.eval(), _x(T, 2, 2, 3, 3))
    return (train, evaluated, list(model.state_dict()), model.running_mean, model.running_var,
            model.num_batches_tracked)


@case
def batch_norm_state_dict_keys_and_dtypes(T):
    model = T.nn.Sequential(T.nn.BatchNorm1d(3), T.nn.BatchNorm2d(2, affine=False))
    before = _dtypes(model)
    model.double()
    return before, _dtypes(model), model.state_dict()


@case
def batch_norm_train_then_eval_toggles(T):
    model = _load(T, T.nn.BatchNorm1d(2).double())
    x = _x(T, 3, 2, grad=False)
    return model(x), model.eval()(x), model.train()(x), model.num_batches_tracked


@case(rtol=1e-5, atol=1e-6)
def batch_norm2d_float32(T):
    model = _load(T, T.nn.BatchNorm2d(3))
    x = _x(T, 2, 3, 3, 3, dtype=T.float32)
    out = model(x)
    (out * out).sum().backward()
    return out, x.grad, model.weight.grad, model.bias.grad, _buffers(model), model.eval()(x)


@case
def batch_norm_reprs(T):
    return [repr(m) for m in (T.nn.BatchNorm1d(3), T.nn.BatchNorm2d(4, eps=1e-3, momentum=None, affine=False),
                              T.nn.BatchNorm2d(2, track_running_stats=False, bias=False))]


@case
def functional_batch_norm_training_updates_the_given_statistics(T):
    x = _x(T, 4, 3, 2)
    weight, bias = _leaf(T, 3, scale=0.5), _leaf(T, 3, scale=0.1)
    mean, var = T.tensor([0.1, -0.2, 0.3], dtype=T.float64), T.tensor([1.0, 2.0, 0.5], dtype=T.float64)
    out = T.nn.functional.batch_norm(x, mean, var, weight, bias, training=True, momentum=0.25, eps=1e-3)
    weighted(T, out).backward()
    return out, x.grad, weight.grad, bias.grad, mean, var, mean.requires_grad


@case
def functional_batch_norm_eval_and_no_statistics(T):
    x = _x(T, 3, 2)
    mean, var = T.tensor([0.5, -1.0], dtype=T.float64), T.tensor([2.0, 0.25], dtype=T.float64)
    evaluated = T.nn.functional.batch_norm(x, mean, var)
    weighted(T, evaluated).backward()
    batch = T.nn.functional.batch_norm(_x(T, 3, 2, 2), None, None, training=True)
    return evaluated, x.grad, batch, mean, var


@case
def functional_batch_norm_on_5d_input(T):
    x = _x(T, 2, 2, 2, 2, 3)
    out = T.nn.functional.batch_norm(x, None, None, training=True)
    weighted(T, out).backward()
    return out, x.grad


@raises
def batch_norm_one_value_per_channel_when_training(T):
    T.nn.BatchNorm1d(3)(T.tensor(np.ones((1, 3)), dtype=T.float32))


@raises
def batch_norm_one_value_per_channel_3d(T):
    T.nn.functional.batch_norm(T.tensor(np.ones((1, 3, 1))), None, None, training=True)


@raises
def batch_norm1d_on_4d_input(T):
    T.nn.BatchNorm1d(3)(T.tensor(np.ones((2, 3, 4, 4)), dtype=T.float32))


@raises
def batch_norm1d_on_1d_input(T):
    T.nn.BatchNorm1d(3)(T.tensor(np.ones(3), dtype=T.float32))


@raises
def batch_norm2d_on_3d_input(T):
    T.nn.BatchNorm2d(3)(T.tensor(np.ones((2, 3, 4)), dtype=T.float32))


@raises
def batch_norm_wrong_channel_count(T):
    T.nn.BatchNorm2d(3)(T.tensor(np.ones((2, 4, 2, 2)), dtype=T.float32))


@raises
def functional_batch_norm_eval_without_running_mean(T):
    T.nn.functional.batch_norm(T.tensor(np.ones((2, 3))), None, None, training=False)


@raises
def functional_batch_norm_momentum_none(T):
    T.nn.functional.batch_norm(T.tensor(np.ones((2, 3))), T.zeros(3), T.ones(3), training=True, momentum=None)


@raises
def functional_batch_norm_mixed_dtypes(T):
    T.nn.functional.batch_norm(T.tensor(np.ones((2, 3)), dtype=T.float64), T.zeros(3), T.ones(3))


# ---- LayerNorm ------------------------------------------------------------------------------------
@case
def layer_norm_over_two_axes(T):
    model = _load(T, T.nn.LayerNorm((4, 5)).double())
    return _run(T, model, _x(T, 3, 4, 5))


@case
def layer_norm_over_the_last_axis_eval_is_the_same(T):
    model = _load(T, T.nn.LayerNorm(6, eps=1e-3).double())
    return _run(T, model, _x(T, 2, 3, 6)), model.eval()(_x(T, 2, 3, 6, grad=False))


@case
def layer_norm_without_affine_or_bias(T):
    plain = T.nn.LayerNorm(4, elementwise_affine=False).double()
    no_bias = _load(T, T.nn.LayerNorm(4, bias=False).double())
    return (_run(T, plain, _x(T, 3, 4)), _run(T, no_bias, _x(T, 3, 4)), list(plain.state_dict()),
            list(no_bias.state_dict()), plain.weight, no_bias.bias, repr(plain), repr(no_bias))


@case
def functional_layer_norm_with_weight_and_bias(T):
    x, weight, bias = _x(T, 2, 3, 4), _leaf(T, 3, 4), _leaf(T, 3, 4, scale=-0.1)
    out = T.nn.functional.layer_norm(x, [3, 4], weight, bias, eps=1e-4)
    weighted(T, out).backward()
    return out, x.grad, weight.grad, bias.grad


@case(rtol=1e-5, atol=1e-6)
def layer_norm_float32(T):
    model = _load(T, T.nn.LayerNorm(5))
    x = _x(T, 4, 5, dtype=T.float32)
    return _run(T, model, x), _dtypes(model)


@raises
def layer_norm_wrong_trailing_shape(T):
    T.nn.functional.layer_norm(T.tensor(np.ones((2, 6, 3))), (6,))


@raises
def layer_norm_weight_of_the_wrong_shape(T):
    T.nn.functional.layer_norm(T.tensor(np.ones((2, 6, 3))), (6, 3), weight=T.tensor(np.ones(3)))


@raises
def layer_norm_empty_normalized_shape(T):
    T.nn.functional.layer_norm(T.tensor(np.ones((2, 3))), [])


# ---- GroupNorm ------------------------------------------------------------------------------------
@case
def group_norm_on_3d_input(T):
    model = _load(T, T.nn.GroupNorm(2, 6).double())
    return _run(T, model, _x(T, 3, 6, 4))


@case
def group_norm_on_4d_input_one_group_and_one_per_channel(T):
    results = []
    for groups in (1, 2, 4):
        model = _load(T, T.nn.GroupNorm(groups, 4, eps=1e-3).double())
        results.append(_run(T, model, _x(T, 2, 4, 3, 3)))
    return results


@case
def group_norm_without_affine(T):
    model = T.nn.GroupNorm(3, 6, affine=False).double()
    out = model(x := _x(T, 2, 6))
    weighted(T, out).backward()
    return out, x.grad, list(model.state_dict()), repr(model), repr(T.nn.GroupNorm(2, 4, bias=False))


@case
def functional_group_norm(T):
    x, weight, bias = _x(T, 2, 4, 5), _leaf(T, 4), _leaf(T, 4, scale=0.2)
    out = T.nn.functional.group_norm(x, 2, weight, bias)
    weighted(T, out).backward()
    return out, x.grad, weight.grad, bias.grad


@case(rtol=1e-5, atol=1e-6)
def group_norm_float32(T):
    return _run(T, _load(T, T.nn.GroupNorm(2, 4)), _x(T, 3, 4, 2, 2, dtype=T.float32))


@raises
def group_norm_channels_not_divisible(T):
    T.nn.GroupNorm(4, 6)


@raises
def functional_group_norm_channels_not_divisible(T):
    T.nn.functional.group_norm(T.tensor(np.ones((2, 6, 3))), 4)


@raises
def group_norm_one_value_per_group(T):
    T.nn.functional.group_norm(T.tensor(np.ones((1, 4, 1))), 4)


@raises
def group_norm_weight_of_the_wrong_size(T):
    T.nn.GroupNorm(2, 6)(T.tensor(np.ones((2, 4, 3)), dtype=T.float32))


# ---- Embedding ------------------------------------------------------------------------------------
def _table(T: Any, rows: int = 5, cols: int = 3) -> Any:
    return T.tensor(np.cos(np.arange(rows * cols) * 0.8).reshape(rows, cols) * 2.0, requires_grad=True)


def _index(T: Any, values: Any, dtype: Any = None) -> Any:
    return T.tensor(np.asarray(values), dtype=dtype or T.int64)


@case
def embedding_gathers_rows_and_repeated_rows_add_gradients(T):
    weight = _table(T)
    out = T.nn.functional.embedding(_index(T, [[0, 2, 4], [2, 2, 1]]), weight)
    weighted(T, out).backward()
    return out, weight.grad


@case
def embedding_int32_and_scalar_indices(T):
    weight = _table(T)
    return (T.nn.functional.embedding(_index(T, [3, 1], T.int32), weight),
            T.nn.functional.embedding(_index(T, 4), weight))


@case
def embedding_padding_row_has_its_value_but_no_gradient(T):
    results = []
    for padding_idx in (1, -1):
        weight = _table(T)
        out = T.nn.functional.embedding(_index(T, [[1, 4, 0], [4, 1, 1]]), weight, padding_idx=padding_idx)
        weighted(T, out).backward()
        results.append((out, weight.grad))
    return results


@case
def embedding_max_norm_renormalises_the_looked_up_rows_in_place(T):
    results = []
    for norm_type in (2.0, 1.0, 3.0):
        weight = _table(T)
        out = T.nn.functional.embedding(_index(T, [0, 3, 0]), weight, max_norm=1.5, norm_type=norm_type)
        weighted(T, out).backward()
        results.append((out, weight.detach().clone(), weight.grad))
    return results


@case
def embedding_module_padding_row_zero_and_shape(T):
    model = T.nn.Embedding(6, 4, padding_idx=-2)
    out = model(_index(T, [[4, 4], [4, 4]]))
    return (model.padding_idx, model.weight[4], model.weight.dtype, tuple(model.weight.shape), out,
            list(model.state_dict()), repr(model), repr(T.nn.Embedding(3, 2, max_norm=1.0, norm_type=1.0)))


@case
def embedding_module_output_and_gradient(T):
    model = T.nn.Embedding(5, 3, padding_idx=2).double()
    model.load_state_dict({"weight": T.tensor(np.sin(np.arange(15.0)).reshape(5, 3))})
    out = model(_index(T, [[2, 0], [3, 2]]))
    weighted(T, out).backward()
    return out, model.weight.grad


@case
def embedding_from_pretrained(T):
    table = T.tensor(np.arange(8.0).reshape(4, 2))
    frozen = T.nn.Embedding.from_pretrained(table)
    trained = T.nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0)
    out = trained(_index(T, [0, 3, 3]))
    weighted(T, out).backward()
    return (frozen(_index(T, [1])), frozen.weight.requires_grad, frozen.weight.dtype, out, trained.weight.grad,
            trained.padding_idx, trained.weight[0])


@raises
def embedding_index_past_the_end(T):
    T.nn.functional.embedding(_index(T, [5]), _table(T))


@raises
def embedding_negative_index(T):
    T.nn.functional.embedding(_index(T, [-1]), _table(T))


@raises
def embedding_float_indices(T):
    T.nn.functional.embedding(T.tensor([1.0]), _table(T))


@raises
def embedding_padding_idx_out_of_range(T):
    T.nn.Embedding(5, 2, padding_idx=5)


@raises
def functional_embedding_padding_idx_below_minus_rows(T):
    T.nn.functional.embedding(_index(T, [1]), _table(T), padding_idx=-6)


@raises
def embedding_weight_not_2d(T):
    T.nn.functional.embedding(_index(T, [1]), T.tensor(np.arange(5.0)))


@raises
def embedding_from_pretrained_not_2d(T):
    T.nn.Embedding.from_pretrained(T.tensor(np.ones(4)))


@raises
def embedding_weight_of_the_wrong_shape(T):
    T.nn.Embedding(5, 3, _weight=T.tensor(np.ones((4, 3)), dtype=T.float32))


# ---- one_hot --------------------------------------------------------------------------------------
@case
def one_hot_infers_or_takes_the_number_of_classes(T):
    F = T.nn.functional
    return (F.one_hot(_index(T, [0, 2, 1])), F.one_hot(_index(T, [[1, 0], [3, 3]]), num_classes=5),
            F.one_hot(_index(T, 2), 3), F.one_hot(_index(T, np.zeros((0, 2), dtype=np.int64)), 3))


@raises
def one_hot_negative_class(T):
    T.nn.functional.one_hot(_index(T, [0, -2]))


@raises
def one_hot_class_not_below_num_classes(T):
    T.nn.functional.one_hot(_index(T, [0, 3]), 3)


@raises
def one_hot_of_int32(T):
    T.nn.functional.one_hot(_index(T, [0, 1], T.int32), 3)


@raises
def one_hot_of_floats(T):
    T.nn.functional.one_hot(T.tensor([0.0, 1.0]), 3)


@raises
def one_hot_empty_without_num_classes(T):
    T.nn.functional.one_hot(_index(T, np.zeros(0, dtype=np.int64)))


# ---- dropout --------------------------------------------------------------------------------------
def _through(T: Any, f: Any, *shape: int) -> tuple[Any, Any]:
    x = _x(T, *shape)
    y = f(x * 1.0)
    weighted(T, y).backward()
    return y, x.grad


@case
def dropout_layers_are_the_identity_in_eval_mode(T):
    layers = [T.nn.Dropout(0.5), T.nn.Dropout1d(0.3), T.nn.Dropout2d(0.7), T.nn.Dropout2d(0.7, inplace=True)]
    shapes = [(3, 4), (2, 3, 4), (2, 3, 2, 2), (2, 3, 2, 2)]
    return [_through(T, layer.eval(), *shape) for layer, shape in zip(layers, shapes, strict=True)]


@case
def dropout_functions_with_training_false_or_p_zero(T):
    F = T.nn.functional
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [_through(T, lambda x: F.dropout2d(x, 0.4, training=False), 2, 3, 2, 2),
                _through(T, lambda x: F.dropout2d(x, 0.4, training=False), 2, 3, 4),
                _through(T, lambda x: F.dropout1d(x, 0.4, training=False), 3, 4),
                _through(T, lambda x: F.dropout2d(x, 0.0), 2, 3, 2, 2),
                _through(T, lambda x: F.dropout1d(x, 0.0, inplace=True), 2, 3, 4)]


@case
def dropout_with_p_one_zeroes_everything(T):
    F = T.nn.functional
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [_through(T, lambda x: F.dropout2d(x, 1.0), 2, 3, 2, 2),
                _through(T, lambda x: F.dropout2d(x, 1.0, inplace=True), 2, 3, 4),
                _through(T, lambda x: F.dropout1d(x, 1.0), 3, 4),
                _through(T, T.nn.Dropout(1.0), 3, 4),
                _through(T, T.nn.Dropout2d(1.0), 1, 2, 2, 2)]


@case
def dropout_reprs(T):
    return [repr(T.nn.Dropout()), repr(T.nn.Dropout1d(0.2)), repr(T.nn.Dropout2d(0.3, inplace=True))]


@raises
def dropout2d_p_above_one(T):
    T.nn.functional.dropout2d(T.tensor(np.ones((2, 3, 2, 2))), p=1.5)


@raises
def dropout1d_p_below_zero(T):
    T.nn.functional.dropout1d(T.tensor(np.ones((2, 3, 2))), p=-0.1)


@raises
def dropout_module_p_above_one(T):
    T.nn.Dropout2d(1.1)


@raises
def dropout1d_on_4d_input(T):
    T.nn.functional.dropout1d(T.tensor(np.ones((2, 3, 2, 2))))


@raises
def dropout2d_on_1d_input(T):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T.nn.functional.dropout2d(T.tensor(np.ones(4)))


@raises
def dropout_in_place_on_a_leaf_that_requires_grad(T):
    T.nn.Dropout2d(0.5, inplace=True)(_x(T, 2, 3, 2, 2))
