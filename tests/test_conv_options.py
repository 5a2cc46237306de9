"""Convolution, padding and pooling options: finite differences to second order, adjointness of the
primitives with the new parameters, and the wording of errors (tests/parity/conv.py compares with PyTorch)."""

import math

import numpy as np
import pytest

import tinygrad_mnist as tm
import tinygrad_mnist.nn.functional as F
from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.autograd import gradgradcheck
from tinygrad_mnist.core import rules


def _leaf(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def _distinct(*shape, seed=0):
    """Values far apart (no ties): finite differences of max stay on one piece."""
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.1
    return Tensor(values.astype(np.float64), requires_grad=True)


# ---- conv2d ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2), "groups": 2},
    {"padding": "same", "dilation": 2, "groups": 4},
    {"padding": "same"},  # even kernel: the extra zero goes after
])
def test_conv2d_options_gradgradcheck(kwargs):
    x, w = _leaf(1, 4, 5, 6), _leaf(4, 4 // kwargs.get("groups", 1), 2, 3, seed=1)
    b = _leaf(4, seed=2)
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs).tanh(), [x, w, b])


@pytest.mark.parametrize("stride, padding, dilation, groups",
                         [((2, 3), (1, 2), (2, 1), 2), ((1, 1), (0, 1), (2, 2), 3)])
def test_conv2d_primitives_stay_adjoint_with_dilation_and_groups(stride, padding, dilation, groups):
    # <conv2d(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 6, 7, 8)), rng.standard_normal((6, 6 // groups, 3, 2))
    conv = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    out = rules.conv2d(Tensor(x), Tensor(w), **conv)
    g = rng.standard_normal(out.shape)
    dx = rules.conv2d_input_grad(Tensor(g), Tensor(w), x_shape=x.shape, **conv)
    dw = rules.conv2d_weight_grad(Tensor(x), Tensor(g), w_shape=w.shape, **conv)
    total = np.sum(out.data * g)
    assert np.isclose(total, np.sum(x * dx.data)) and np.isclose(total, np.sum(w * dw.data))


def test_conv2d_groups_equal_separate_convolutions_of_the_channel_blocks():
    x, w = _leaf(2, 6, 5, 5), _leaf(4, 3, 3, 3, seed=1)
    grouped = F.conv2d(x, w, groups=2, padding=1).data
    halves = [F.conv2d(x[:, 3 * k:3 * k + 3], w[2 * k:2 * k + 2], padding=1).data for k in range(2)]
    np.testing.assert_allclose(grouped, np.concatenate(halves, axis=1), rtol=1e-12)


@pytest.mark.parametrize("kwargs, words", [
    ({"groups": 2}, ["4 channels", "groups=2", "expects 8"]),
    ({"stride": 0}, ["stride", "0"]),
    ({"padding": (1, -1)}, ["padding", "non-negative"]),
    ({"padding": "full"}, ["'valid', 'same'", "'full'"]),
    ({"padding": "same", "stride": 2}, ["'same'", "stride 1"]),
    ({"dilation": 4}, ["dilated to (9, 9)", "larger than the padded input"]),
])
def test_conv2d_option_errors_name_the_argument(kwargs, words):
    with pytest.raises(ValueError) as info:
        F.conv2d(Tensor(np.zeros((1, 4, 6, 6))), Tensor(np.zeros((4, 4, 3, 3))), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_conv_layer_groups_fan_in_bounds_the_init():
    tm.manual_seed(0)
    layer = nn.Conv2d(8, 16, (3, 2), groups=4)
    assert layer.weight.shape == (16, 2, 3, 2) and layer.weight.dtype == np.float32
    bound = 1 / math.sqrt(2 * 3 * 2)  # kaiming_uniform(a=sqrt(5)) and the bias: 1/sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.7 * bound


def test_conv_layer_padding_mode_is_the_padded_convolution_and_same_on_train_and_eval():
    tm.manual_seed(1)
    layer = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="circular")
    x = _leaf(1, 2, 5, 5)
    expected = F.conv2d(F.pad(x, (2, 2, 1, 1), mode="circular"), layer.weight, layer.bias)
    np.testing.assert_array_equal(layer(x).data, expected.data)
    np.testing.assert_array_equal(layer.eval()(x).data, expected.data)


# ---- pad ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradgradcheck(mode):
    x = _leaf(1, 2, 3, 4)
    assert gradgradcheck(lambda t: F.pad(t, (2, -1, 1, 2), mode=mode) ** 2, [x])


def test_pad_constant_value_fills_only_the_border_and_its_gradient_is_the_crop():
    x = _leaf(2, 3)
    y = F.pad(x, (1, 1, 0, 1), value=-7.0)
    np.testing.assert_array_equal(y.data[:2, 1:4], x.data)
    assert (y.data[2] == -7).all() and (y.data[:, 0] == -7).all()
    (y * Tensor(np.arange(15.0).reshape(3, 5))).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.arange(15.0).reshape(3, 5)[:2, 1:4])


@pytest.mark.parametrize("args, words", [
    (((1, 2, 3),), ["even number"]),
    (((1, 1), "mirror"), ["'reflect'", "'mirror'"]),
    (((3, 0), "reflect"), ["at most 2"]),
    (((1, 1, 1, 1), "replicate"), ["last 2 dims", "(2, 3)"]),
])
def test_pad_errors_name_the_mode_and_sizes(args, words):
    with pytest.raises((ValueError, NotImplementedError)) as info:
        F.pad(Tensor(np.zeros((2, 3))), *args)
    for word in words:
        assert word in str(info.value)


# ---- pooling --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 1), "dilation": (2, 1)},
])
def test_max_pool2d_options_gradgradcheck(kwargs):
    x = _distinct(1, 2, 6, 7)
    assert gradgradcheck(lambda t: F.max_pool2d(t, **kwargs) ** 2, [x])
    assert gradgradcheck(lambda t: F.max_pool2d(t, return_indices=True, **kwargs)[0] ** 2, [x])


def test_max_pool2d_indices_point_at_the_maxima():
    x = _leaf(2, 3, 7, 6)
    out, indices = F.max_pool2d(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), return_indices=True)
    assert indices.dtype == np.int64
    flat = x.data.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, indices.data.reshape(2, 3, -1), axis=2),
                                  out.data.reshape(2, 3, -1))


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": (2, 3), "padding": (1, 0), "divisor_override": 5},
])
def test_avg_pool2d_options_gradgradcheck(kwargs):
    assert gradgradcheck(lambda t: F.avg_pool2d(t, **kwargs) ** 2, [_leaf(1, 2, 6, 7)])


def test_adaptive_pools_gradgradcheck():
    assert gradgradcheck(lambda t: F.adaptive_avg_pool2d(t, (4, 3)) ** 2, [_leaf(1, 2, 7, 5)])
    assert gradgradcheck(lambda t: F.adaptive_max_pool2d(t, (4, 3)) ** 2, [_distinct(1, 2, 7, 5)])


def test_adaptive_avg_pool2d_of_a_divisible_size_is_avg_pool2d():
    x = _leaf(2, 3, 8, 6)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, (4, 3)).data, F.avg_pool2d(x, 2).data, rtol=1e-12)


@pytest.mark.parametrize("call, words", [
    (lambda x: F.max_pool2d(x, 3, padding=2), ["padding 2", "half the kernel size 3"]),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), ["divisor_override", "zero"]),
    (lambda x: F.max_pool2d(x, 7), ["kernel_size 7", "larger", "(1, 2, 6, 5)"]),
    (lambda x: F.adaptive_avg_pool2d(x, (0, 2)), ["output_size", "(0, 2)"]),
    (lambda x: F.max_pool2d(x[0, 0], 2), ["4-d NCHW", "3-d CHW", "(6, 5)"]),
])
def test_pool_errors_name_the_argument(call, words):
    with pytest.raises(ValueError) as info:
        call(Tensor(np.zeros((1, 2, 6, 5))))
    for word in words:
        assert word in str(info.value)
