"""conv2d and max_pool2d against loop-based references, finite differences and their error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_mnist.nn.functional as F
from tinygrad_mnist import Tensor
from tinygrad_mnist.core import rules
from tinygrad_mnist.autograd import gradcheck, gradgradcheck


# ---- loop-based references ---------------------------------------------------------------
def ref_conv2d(x, w, b=None, stride=1, padding=0):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=x.dtype)
    xp[:, :, padding:padding + h, padding:padding + wd] = x
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, oh, ow), dtype=x.dtype)
    for bi in range(n):
        for oc in range(o):
            for i in range(oh):
                for j in range(ow):
                    patch = xp[bi, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[bi, oc, i, j] = np.sum(patch * w[oc]) + (0 if b is None else b[oc])
    return out


def ref_pool2d(x, k, stride, reduce=np.max):
    """``reduce`` (np.max, np.mean) over each window, one output pixel at a time."""
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * stride:i * stride + k, j * stride:j * stride + k], axis=(2, 3))
    return out


@st.composite
def conv_cases(draw):
    """Small conv2d configurations: batch 1-2, channels 1-3, sizes 3-6, kernel 1-3, stride 1-2, padding 0-1."""
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(3, 6)), draw(st.integers(3, 6))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    seed = draw(st.integers(0, 2**16))
    return (n, c, h, w), (o, c, kh, kw), stride, padding, seed


@st.composite
def pool_cases(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(3, 6)), draw(st.integers(3, 6))
    k, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    return (n, c, h, w), k, stride, seed


def distinct(shape, seed):
    """Values at least 0.1 apart, so finite differences never cross a tie."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1


# ---- conv2d ------------------------------------------------------------------------------
@given(conv_cases())
def test_conv2d_matches_loop_reference(case):
    x_shape, w_shape, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out = F.conv2d(Tensor(x), Tensor(w), Tensor(b), stride=stride, padding=padding)
    np.testing.assert_allclose(out.data, ref_conv2d(x, w, b, stride, padding), rtol=1e-10, atol=1e-10)


@given(conv_cases())
def test_conv2d_gradcheck(case):
    x_shape, w_shape, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal(x_shape), requires_grad=True)
    w = Tensor(rng.standard_normal(w_shape), requires_grad=True)
    b = Tensor(rng.standard_normal(w_shape[0]), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), [x, w, b])


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding",
    [((1, 2, 4, 4), (2, 2, 3, 3), 1, 1), ((2, 1, 5, 4), (3, 1, 2, 3), 2, 0)],
)
def test_conv2d_gradgradcheck(x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(x_shape), requires_grad=True)
    w = Tensor(rng.standard_normal(w_shape), requires_grad=True)
    b = Tensor(rng.standard_normal(w_shape[0]), requires_grad=True)
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), [x, w, b])


@settings(max_examples=10)  # each example differentiates twice through three conv primitives
@given(conv_cases())
def test_conv2d_gradgradcheck_on_drawn_shapes(case):
    x_shape, w_shape, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal(x_shape), requires_grad=True)
    w = Tensor(rng.standard_normal(w_shape), requires_grad=True)
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, stride=stride, padding=padding).tanh(), [x, w])


def test_conv2d_gradient_primitives_are_adjoint():
    # <conv2d(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    out = rules.conv2d(Tensor(x), Tensor(w), stride=2, padding=1)
    g = rng.standard_normal(out.shape)
    dx = rules.conv2d_input_grad(Tensor(g), Tensor(w), x_shape=x.shape, stride=2, padding=1)
    dw = rules.conv2d_weight_grad(Tensor(x), Tensor(g), w_shape=w.shape, stride=2, padding=1)
    total = np.sum(out.data * g)
    assert np.isclose(total, np.sum(x * dx.data)) and np.isclose(total, np.sum(w * dw.data))


def test_conv2d_keeps_float32():
    x = Tensor(np.ones((1, 1, 4, 4), dtype=np.float32), requires_grad=True)
    w = Tensor(np.ones((2, 1, 3, 3), dtype=np.float32), requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize(
    "x_shape, w_shape, words",
    [
        ((28, 28, 1), (4, 1, 3, 3), ["NCHW", "HWC", "(28, 28, 1)"]),
        ((28, 28), (4, 1, 3, 3), ["NCHW", "channel axis"]),  # 3-d (C, H, W) is one unbatched image
        ((2, 8, 8, 3), (4, 3, 3, 3), ["NCHW", "OIHW", "channels-last", "NHWC"]),
        ((2, 2, 8, 8), (4, 3, 3, 3), ["2 channels", "expects 3", "OIHW"]),
        ((2, 3, 8, 8), (3, 3, 3), ["OIHW", "(3, 3, 3)"]),
        ((1, 1, 2, 2), (1, 1, 3, 3), ["larger than the padded input"]),
    ],
)
def test_conv2d_shape_errors_name_the_layout(x_shape, w_shape, words):
    with pytest.raises(ValueError) as info:
        F.conv2d(Tensor(np.zeros(x_shape)), Tensor(np.zeros(w_shape)))
    for word in words:
        assert word in str(info.value)


def test_conv2d_bias_shape_error():
    with pytest.raises(ValueError, match="one per output channel"):
        F.conv2d(Tensor(np.zeros((1, 1, 4, 4))), Tensor(np.zeros((2, 1, 3, 3))), Tensor(np.zeros(3)))


# ---- max_pool2d --------------------------------------------------------------------------
@given(pool_cases())
def test_max_pool2d_matches_loop_reference(case):
    shape, k, stride, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    np.testing.assert_array_equal(F.max_pool2d(Tensor(x), k, stride).data, ref_pool2d(x, k, stride))


@given(pool_cases())
def test_max_pool2d_gradcheck(case):
    shape, k, stride, seed = case
    x = Tensor(distinct(shape, seed), requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, k, stride), [x])


def test_max_pool2d_stride_defaults_to_kernel_size():
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    assert F.max_pool2d(Tensor(x), 2).shape == (1, 1, 3, 3)
    np.testing.assert_array_equal(F.max_pool2d(Tensor(x), 3).data, ref_pool2d(x, 3, 3))


def test_max_pool2d_tie_goes_to_first_maximum_in_row_major_order():
    x = Tensor(np.array([[[[1.0, 3.0], [3.0, 3.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 1.0], [0.0, 0.0]]]])
    y = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)  # all tied: top-left of each window
    F.max_pool2d(y, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(y.grad.data[0, 0], expected)


def test_max_pool2d_overlapping_windows_add_up():
    x = Tensor(np.array([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()  # the centre is the max of all four windows
    assert x.grad.data[0, 0, 1, 1] == 4 and x.grad.data.sum() == 4


@settings(max_examples=10)
@given(pool_cases())
def test_max_pool2d_gradgradcheck_on_drawn_shapes(case):
    shape, k, stride, seed = case
    x = Tensor(distinct(shape, seed), requires_grad=True)  # no ties: finite differences stay in one piece
    assert gradgradcheck(lambda t: F.max_pool2d(t, k, stride) ** 2, [x])


def test_max_pool2d_gradgradcheck():
    x = Tensor(distinct((1, 2, 5, 5), 3), requires_grad=True)
    assert gradgradcheck(lambda t: F.max_pool2d(t, 3, 2), [x])


@pytest.mark.parametrize(
    "shape, k, words",
    [((28, 28, 1), 2, ["NCHW", "(28, 28, 1)"]), ((1, 1, 2, 2), 3, ["larger than"])],
)
def test_max_pool2d_shape_errors(shape, k, words):
    with pytest.raises(ValueError) as info:
        F.max_pool2d(Tensor(np.zeros(shape)), k)
    for word in words:
        assert word in str(info.value)


def ref_max_pool2d_grad(x, k, stride, g):
    """Each window's upstream gradient added at its first maximum in row-major order."""
    n, c, oh, ow = g.shape
    dx = np.zeros_like(x)
    for bi in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    window = x[bi, ch, i * stride:i * stride + k, j * stride:j * stride + k]
                    r, s = divmod(int(np.argmax(window)), k)  # np.argmax: first occurrence, row-major
                    dx[bi, ch, i * stride + r, j * stride + s] += g[bi, ch, i, j]
    return dx


@given(pool_cases())
def test_max_pool2d_gradient_with_many_ties_matches_loop_reference(case):
    shape, k, stride, seed = case
    rng = np.random.default_rng(seed)
    x = Tensor(rng.integers(0, 3, size=shape).astype(np.float64), requires_grad=True)  # ties everywhere
    out = F.max_pool2d(x, k, stride)
    g = rng.standard_normal(out.shape)
    (out * Tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.data, ref_max_pool2d_grad(x.data, k, stride, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, k, stride", [((2, 3, 5, 5), 2, 2), ((1, 2, 6, 7), 3, 3), ((1, 1, 5, 6), 3, 1)])
def test_window_scatter_and_gather_are_adjoint(shape, k, stride):
    # <scatter(g), h> = <g, gather(h)>, and both agree with the positions they are given
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    out = F.max_pool2d(Tensor(x), k, stride)
    position = rng.integers(0, k * k, size=out.shape)
    g, h = rng.standard_normal(out.shape), rng.standard_normal(shape)
    spread = rules.window_scatter(Tensor(g), position=position, kernel_size=k, stride=stride, shape=shape)
    taken = rules.window_gather(Tensor(h), position=position, kernel_size=k, stride=stride)
    assert np.isclose(np.sum(spread.data * h), np.sum(g * taken.data))
    i, j = position[0, 0, 0, 0] // k, position[0, 0, 0, 0] % k
    assert taken.data[0, 0, 0, 0] == h[0, 0, i, j]


def test_max_pool2d_gradgradcheck_non_overlapping_with_a_cropped_edge():
    x = Tensor(distinct((2, 2, 5, 5), 4), requires_grad=True)
    assert gradgradcheck(lambda t: F.max_pool2d(t, 2), [x])


def test_max_pool2d_infinite_gradient_reaches_only_the_maximum():
    x = Tensor(np.array([[[[1.0, 2.0], [0.0, -1.0]]]], dtype=np.float32), requires_grad=True)
    out = F.max_pool2d(x, 2)
    (out * Tensor(np.array([[[[np.inf]]]], dtype=np.float32))).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, np.inf], [0.0, 0.0]]]])  # no NaN from inf * 0


# ---- avg_pool2d --------------------------------------------------------------------------
@given(pool_cases())
def test_avg_pool2d_matches_loop_reference_and_gradcheck(case):
    shape, k, stride, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    expected = ref_pool2d(x, k, stride, np.mean)
    # a window mean near zero loses its relative accuracy to cancellation: atol bounds that
    np.testing.assert_allclose(F.avg_pool2d(Tensor(x), k, stride).data, expected, rtol=1e-12, atol=1e-15)
    assert gradcheck(lambda t: F.avg_pool2d(t, k, stride), [Tensor(x, requires_grad=True)])


def test_avg_pool2d_gradient_spreads_evenly_and_keeps_float32():
    x = Tensor(np.zeros((1, 1, 3, 3), dtype=np.float32), requires_grad=True)
    out = F.avg_pool2d(x, 2, stride=1)  # four overlapping windows
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def test_avg_pool2d_gradgradcheck_and_errors():
    x = Tensor(np.random.default_rng(5).standard_normal((1, 2, 5, 5)), requires_grad=True)
    assert gradgradcheck(lambda t: F.avg_pool2d(t, 2) ** 2, [x])
    with pytest.raises(ValueError, match=r"avg_pool2d: input must be 4-d NCHW"):
        F.avg_pool2d(Tensor(np.zeros((28, 28))), 2)
    with pytest.raises(ValueError, match=r"avg_pool2d: kernel_size 3 .*is larger"):
        F.avg_pool2d(Tensor(np.zeros((1, 1, 2, 2))), 3)
