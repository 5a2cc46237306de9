"""Cases for convolution, padding and pooling: ``F.conv2d``, ``F.pad``, the pools, their ``nn`` layers.

Each case returns values and the gradients of every input (and weight and bias),
through ``weighted`` so that every output element counts differently.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from parity import case, raises, weighted


def _t(T: Any, *shape: int, seed: float = 1.0, grad: bool = True) -> Any:
    n = int(np.prod(shape))
    return T.tensor(np.sin(np.arange(n, dtype=np.float64) * 0.7 * seed + seed).reshape(shape), requires_grad=grad)


def _conv(T: Any, x_shape: tuple[int, ...], w_shape: tuple[int, ...], bias: bool = True, **kwargs: Any) -> Any:
    x, w = _t(T, *x_shape), _t(T, *w_shape, seed=1.3)
    b = _t(T, w_shape[0], seed=0.4) if bias else None
    y = T.nn.functional.conv2d(x, w, b, **kwargs)
    weighted(T, y).backward()
    return y, x.grad, w.grad, None if b is None else b.grad


def _fill(T: Any, model: Any) -> Any:
    """The same deterministic values in every entry of the state_dict on both sides, float64."""
    model = model.double()
    arrays = {name: np.cos(np.arange(int(np.prod(tuple(v.shape))), dtype=np.float64) + k).reshape(tuple(v.shape))
              for k, (name, v) in enumerate(model.state_dict().items())}
    model.load_state_dict({name: T.tensor(a) for name, a in arrays.items()})
    return model


def _layer(T: Any, model: Any, x_shape: tuple[int, ...]) -> Any:
    x = _t(T, *x_shape)
    y = model(x)
    weighted(T, y).backward()
    return y, x.grad, [p.grad for p in model.parameters()], repr(model)


def _pooled(T: Any, f: Any, x_shape: tuple[int, ...], integers: bool = False) -> Any:
    data = np.sin(np.arange(int(np.prod(x_shape)), dtype=np.float64) * 2.1).reshape(x_shape)
    x = T.tensor(np.round(data * 2) if integers else data, requires_grad=True)  # rounding: many ties
    y = f(x)
    first = y[0] if isinstance(y, tuple) else y
    weighted(T, first).backward()
    return y, x.grad


# ---- conv2d ---------------------------------------------------------------------------------------
@case
def conv2d_stride_padding_and_dilation_pairs(T):
    return _conv(T, (2, 3, 9, 8), (4, 3, 3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 1))


@case
def conv2d_int_options_and_no_bias(T):
    return _conv(T, (2, 2, 7, 7), (3, 2, 3, 3), bias=False, stride=3, padding=2, dilation=2)


@case
def conv2d_padding_same_odd_and_even_kernels(T):
    odd = _conv(T, (1, 2, 6, 7), (3, 2, 3, 5), padding="same", dilation=(1, 2))
    with warnings.catch_warnings():  # PyTorch notes that it copies the input to pad it unevenly
        warnings.simplefilter("ignore")
        even = _conv(T, (1, 2, 6, 7), (3, 2, 2, 4), padding="same")
    return odd, even


@case
def conv2d_padding_valid(T):
    return _conv(T, (1, 2, 5, 6), (2, 2, 3, 3), padding="valid")


@case
def conv2d_groups(T):
    return _conv(T, (2, 4, 6, 5), (6, 2, 3, 2), groups=2, stride=(1, 2), padding=1)


@case
def conv2d_depthwise_with_channel_multiplier(T):
    return _conv(T, (2, 3, 6, 6), (6, 1, 3, 3), groups=3, padding=1, stride=2)


@case
def conv2d_unbatched_input(T):
    return _conv(T, (2, 5, 6), (4, 1, 2, 3), groups=2, dilation=(2, 1))


@case(rtol=1e-5, atol=1e-6)
def conv2d_float32_stays_float32(T):
    x = T.tensor(np.linspace(-1, 1, 2 * 3 * 5 * 5, dtype=np.float32).reshape(2, 3, 5, 5), requires_grad=True)
    w = T.tensor(np.linspace(1, -1, 6 * 1 * 3 * 3, dtype=np.float32).reshape(6, 1, 3, 3), requires_grad=True)
    y = T.nn.functional.conv2d(x, w, groups=3, padding="same")
    (y * y).sum().backward()
    return y, x.grad, w.grad, y.dtype, x.grad.dtype


def _double_backward(T: Any, **kwargs: Any) -> Any:
    x, w = _t(T, 1, 4, 6, 6), _t(T, 4, 2, 3, 2, seed=1.3)
    y = T.nn.functional.conv2d(x, w, **kwargs)
    gx, gw = T.autograd.grad(weighted(T, y * y), (x, w), create_graph=True)
    ((gx * gx).sum() + (gw * gw * gw).sum()).backward()
    return gx, gw, x.grad, w.grad


@case
def conv2d_double_backward_with_dilation_and_groups(T):
    return _double_backward(T, dilation=(2, 1), groups=2, padding=(1, 0))


@case
def conv2d_double_backward_strided(T):
    return _double_backward(T, stride=(2, 3), groups=2, padding=2, dilation=2)


@raises
def conv2d_same_with_stride_raises(T):
    return _conv(T, (1, 2, 5, 5), (2, 2, 3, 3), padding="same", stride=2)


@raises
def conv2d_channels_not_matching_groups_raises(T):
    return _conv(T, (1, 4, 5, 5), (2, 4, 3, 3), groups=2)


@raises
def conv2d_out_channels_not_divisible_by_groups_raises(T):
    return _conv(T, (1, 4, 5, 5), (3, 2, 3, 3), groups=2)


@raises
def conv2d_two_dimensional_input_raises(T):
    return _conv(T, (5, 5), (2, 1, 3, 3))


@raises
def conv2d_unknown_padding_string_raises(T):
    return _conv(T, (1, 1, 5, 5), (1, 1, 3, 3), padding="full")


# ---- nn.Conv2d ------------------------------------------------------------------------------------
@case
def conv2d_layer_options_repr_and_gradients(T):
    model = _fill(T, T.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2))
    attributes = (model.kernel_size, model.stride, model.padding, model.dilation, model.groups,
                  tuple(model.weight.shape))
    return _layer(T, model, (2, 4, 7, 7)), attributes


@case
def conv2d_layer_padding_modes(T):
    results = []
    for mode in ("zeros", "reflect", "replicate", "circular"):
        model = _fill(T, T.nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode=mode, bias=False))
        results.append(_layer(T, model, (1, 2, 5, 6)))
    return results


@case
def conv2d_layer_padding_same_even_kernel_with_a_padding_mode(T):
    model = _fill(T, T.nn.Conv2d(2, 2, (2, 4), padding="same", padding_mode="reflect"))
    return _layer(T, model, (1, 2, 5, 6)), model.padding, model._reversed_padding_repeated_twice


@case
def conv2d_layer_default_repr_and_float32(T):
    model = T.nn.Conv2d(3, 8, 5)
    return repr(model), repr(T.nn.Conv2d(3, 8, 3, padding="valid")), model.weight.dtype, model.kernel_size


@raises
def conv2d_layer_in_channels_not_divisible_by_groups_raises(T):
    return T.nn.Conv2d(3, 4, 3, groups=2)


@raises
def conv2d_layer_same_with_stride_raises(T):
    return T.nn.Conv2d(2, 2, 3, stride=2, padding="same")


@raises
def conv2d_layer_unknown_padding_mode_raises(T):
    return T.nn.Conv2d(2, 2, 3, padding_mode="mirror")


# ---- F.pad ----------------------------------------------------------------------------------------
@case
def pad_constant_any_dims_values_and_crops(T):
    f = T.nn.functional.pad
    return [_pooled(T, lambda x, p=p, v=v: f(x, p, value=v), (2, 3, 4))
            for p, v in [((1, 2), None), ((1, 0, 0, 2, 1, 1), 2.5), ((-1, 2, 1, -2), -1.0), ((0, 0, -1, -1), None)]]


@case
def pad_reflect_replicate_circular(T):
    f = T.nn.functional.pad
    results = []
    for mode in ("reflect", "replicate", "circular"):
        for p, shape in [((2, 1), (2, 5)), ((2, 1), (2, 3, 5)), ((1, 3, 2, 0), (2, 4, 5)), ((1, 3, 2, 0), (1, 2, 4, 5)),
                         ((-1, 2, 1, -1), (1, 2, 4, 5)), ((1, 1, 0, 2, 1, 0), (1, 2, 3, 4, 3))]:
            results.append(_pooled(T, lambda x, p=p, m=mode: f(x, p, mode=m), shape))
    return results


@raises
def pad_odd_length_raises(T):
    return T.nn.functional.pad(_t(T, 2, 3), (1, 2, 3))


@raises
def pad_longer_than_the_dims_raises(T):
    return T.nn.functional.pad(_t(T, 2, 3), (1, 1, 1, 1, 1, 1))


@raises
def pad_reflect_as_wide_as_the_dim_raises(T):
    return T.nn.functional.pad(_t(T, 1, 2, 3), (3, 0), mode="reflect")


@raises
def pad_circular_wrapping_twice_raises(T):
    return T.nn.functional.pad(_t(T, 1, 2, 3), (4, 0), mode="circular")


@raises
def pad_reflect_of_too_many_dims_raises(T):
    return T.nn.functional.pad(_t(T, 1, 1, 2, 3), (1, 1), mode="reflect")


@raises
def pad_reflect_with_a_value_raises(T):
    return T.nn.functional.pad(_t(T, 1, 2, 3), (1, 1), mode="reflect", value=1.0)


@raises
def pad_cropping_more_than_the_dim_raises(T):
    return T.nn.functional.pad(_t(T, 2, 3), (-2, -2))


# ---- max_pool2d -----------------------------------------------------------------------------------
_MAX_OPTIONS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 1), "dilation": (2, 1)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 0), "ceil_mode": True},
    {"kernel_size": 2, "stride": 1, "dilation": 2, "padding": 1, "ceil_mode": True},
]


@case
def max_pool2d_options(T):
    return [_pooled(T, lambda x, o=o: T.nn.functional.max_pool2d(x, **o), (2, 2, 7, 8)) for o in _MAX_OPTIONS]


@case
def max_pool2d_return_indices_and_ties(T):
    f = T.nn.functional.max_pool2d
    return [_pooled(T, lambda x, o=o: f(x, return_indices=True, **o), (1, 2, 7, 8), integers=True)
            for o in _MAX_OPTIONS]


@case
def max_pool2d_unbatched_and_layer(T):
    layer = T.nn.MaxPool2d((3, 2), stride=2, padding=1, ceil_mode=True, return_indices=True)
    return (_pooled(T, lambda x: T.nn.functional.max_pool2d(x, 3, 1, 1), (2, 5, 6)), _pooled(T, layer, (2, 5, 6)),
            repr(layer), repr(T.nn.MaxPool2d(2)))


@case
def max_pool2d_window_with_nan_gives_nan_at_its_last_nan(T):
    x = T.tensor([[[[1.0, np.nan, 0.0], [np.nan, 2.0, 5.0], [3.0, 4.0, np.nan]]]], requires_grad=True)
    y, indices = T.nn.functional.max_pool2d(x, 2, stride=1, return_indices=True)
    weighted(T, y).backward()
    return y, indices, x.grad


@raises
def max_pool2d_padding_over_half_the_kernel_raises(T):
    return T.nn.functional.max_pool2d(_t(T, 1, 1, 6, 6), 3, padding=2)


@raises
def max_pool2d_padding_over_half_the_undilated_kernel_raises(T):
    return T.nn.functional.max_pool2d(_t(T, 1, 1, 9, 9), 2, padding=2, dilation=3)


@raises
def max_pool2d_kernel_larger_than_input_raises(T):
    return T.nn.functional.max_pool2d(_t(T, 1, 1, 4, 4), 5)


# ---- avg_pool2d -----------------------------------------------------------------------------------
@case
def avg_pool2d_options(T):
    f = T.nn.functional.avg_pool2d
    options = [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
               {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
               {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
               {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True,
                "count_include_pad": False},
               {"kernel_size": (2, 3), "stride": 1, "padding": (1, 0), "divisor_override": 4},
               {"kernel_size": 2, "stride": 3, "ceil_mode": True}]
    return [_pooled(T, lambda x, o=o: f(x, **o), (2, 2, 7, 8)) for o in options]


@case
def avg_pool2d_unbatched_and_layer(T):
    layer = T.nn.AvgPool2d((2, 3), stride=(1, 2), padding=1, ceil_mode=True, count_include_pad=False)
    return _pooled(T, layer, (2, 5, 6)), repr(layer), repr(T.nn.AvgPool2d(3))


@raises
def avg_pool2d_padding_over_half_the_kernel_raises(T):
    return T.nn.functional.avg_pool2d(_t(T, 1, 1, 6, 6), 3, padding=2)


@raises
def avg_pool2d_divisor_override_zero_raises(T):
    return T.nn.functional.avg_pool2d(_t(T, 1, 1, 6, 6), 2, divisor_override=0)


# ---- adaptive pooling -----------------------------------------------------------------------------
@case
def adaptive_avg_pool2d_sizes(T):
    f = T.nn.functional.adaptive_avg_pool2d
    sizes = [(3, 5), 4, (None, 3), (7, 8), (1, 1), (5, None)]
    return [_pooled(T, lambda x, s=s: f(x, s), (2, 2, 7, 8)) for s in sizes] + [
        _pooled(T, lambda x: f(x, (2, 3)), (2, 5, 7))]


@case
def adaptive_max_pool2d_sizes_indices_and_ties(T):
    f = T.nn.functional.adaptive_max_pool2d
    sizes = [(3, 5), 4, (None, 3), (1, 1)]
    return ([_pooled(T, lambda x, s=s: f(x, s, True), (2, 2, 7, 8), integers=True) for s in sizes]
            + [_pooled(T, lambda x: f(x, (2, 3)), (2, 5, 7))])


@case
def adaptive_pool_layers(T):
    avg, top = T.nn.AdaptiveAvgPool2d((3, None)), T.nn.AdaptiveMaxPool2d(2, return_indices=True)
    return _pooled(T, avg, (1, 2, 5, 7)), _pooled(T, top, (2, 5, 7)), repr(avg), repr(top)
