"""The numpy kernels of ``core.kernels`` and ``core.pool_kernels`` against brute-force loops over windows.

The fast paths (max-pooling and its gradient on windows that tile the input, the
convolution with its bias added as the output is written) must give exactly
what a plain loop over every window gives: the same maxima, the same first-maximum
positions on ties, NaN handling, zeros where no window reaches. The compiled loops
are off here: ``tests/test_accelerator.py`` compares them with these numpy kernels.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_mnist.core import accelerator, pool_kernels
from tinygrad_mnist.core.kernels import conv2d_bias_forward, conv2d_forward
from tinygrad_mnist.core.pool_kernels import max_pool2d_forward, window_scatter_forward


@pytest.fixture(autouse=True)
def _numpy_only():
    with accelerator.disabled():
        yield


def _windows(x: np.ndarray, k: int, s: int):
    """(i, j, window) for every window of a k x k pooling with stride s, a copy of each."""
    oh, ow = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    for i in range(oh):
        for j in range(ow):
            yield i, j, x[:, :, i * s:i * s + k, j * s:j * s + k].reshape(x.shape[0], x.shape[1], k * k)


def _pool_by_loops(x: np.ndarray, k: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Maxima and positions, window by window and cell by cell: the first maximum, or the last NaN."""
    oh, ow = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    maxima = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    position = np.empty((*x.shape[:2], oh, ow), dtype=np.int64)
    for i, j, cells in _windows(x, k, s):
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                values = list(cells[n, c])
                nans = [p for p, v in enumerate(values) if np.isnan(v)]
                best = nans[-1] if nans else values.index(max(values))
                maxima[n, c, i, j], position[n, c, i, j] = values[best], best
    return maxima, position


def _scatter_by_loops(g: np.ndarray, position: np.ndarray, k: int, s: int, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    for n, c, i, j in np.ndindex(*g.shape):
        p = int(position[n, c, i, j])
        out[n, c, i * s + p // k, j * s + p % k] += g[n, c, i, j]
    return out


CASES = [((2, 3, 8, 8), 2), ((2, 3, 7, 9), 2), ((1, 2, 9, 9), 3), ((2, 2, 11, 10), 3), ((1, 1, 4, 6), 1)]


@pytest.mark.parametrize(("shape", "k"), CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 20])  # one image at a time, or the whole batch at once
def test_tiled_max_pool_matches_a_loop_over_windows(shape, k, dtype, chunk_bytes, monkeypatch):
    monkeypatch.setattr(pool_kernels, "_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(sum(shape) + k)
    x = rng.integers(-3, 3, size=shape).astype(dtype)  # few values: many ties inside windows
    maxima, position = max_pool2d_forward(x, k, k)
    want_max, want_pos = _pool_by_loops(x, k, k)
    assert maxima.dtype == x.dtype and maxima.shape == want_max.shape
    np.testing.assert_array_equal(maxima, want_max)
    np.testing.assert_array_equal(position, want_pos)


def test_tiled_max_pool_sends_nan_windows_to_their_last_nan():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 6, 6))
    x[0, 0, 0, 0] = x[0, 0, 1, 0] = np.nan  # two NaN in one window: the last one (row-major) is taken
    x[1, 1, 3, 5] = np.nan
    maxima, position = max_pool2d_forward(x, 2, 2)
    want_max, want_pos = _pool_by_loops(x, 2, 2)
    np.testing.assert_array_equal(maxima, want_max)  # NaN compares equal to NaN here
    np.testing.assert_array_equal(position, want_pos)
    assert position[0, 0, 0, 0] == 2 and np.isnan(maxima[1, 1, 1, 2])


def test_tiled_max_pool_with_infinities():
    x = np.array([[[[-np.inf, -np.inf, 1.0, np.inf], [-np.inf, -np.inf, np.inf, 2.0]]]])
    maxima, position = max_pool2d_forward(x, 2, 2)
    np.testing.assert_array_equal(maxima, [[[[-np.inf, np.inf]]]])
    np.testing.assert_array_equal(position, [[[[0, 1]]]])


@pytest.mark.parametrize(("shape", "k"), CASES)
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 20])
def test_tiled_window_scatter_matches_a_loop_and_leaves_zeros_where_no_window_reaches(shape, k, chunk_bytes,
                                                                                       monkeypatch):
    monkeypatch.setattr(pool_kernels, "_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(2)
    x = rng.integers(-3, 3, size=shape).astype(np.float32)
    _, position = max_pool2d_forward(x, k, k)
    g = rng.standard_normal(position.shape).astype(np.float32)
    for _ in range(3):  # freed memory full of NaN, so that a cell left unwritten would show
        np.full((4 * int(np.prod(shape)),), np.nan, dtype=np.float32)
        out = window_scatter_forward(g, position, k, k, shape)
        np.testing.assert_array_equal(out, _scatter_by_loops(g, position, k, k, shape))


def test_window_scatter_of_infinite_gradients_puts_no_nan_elsewhere():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    _, position = max_pool2d_forward(x, 2, 2)
    g = np.array([[[[np.inf, 1.0], [-np.inf, 2.0]]]])
    out = window_scatter_forward(g, position, 2, 2, x.shape)
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out, _scatter_by_loops(g, position, 2, 2, x.shape))


def _conv_by_loops(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    kh, kw = w.shape[2:]
    oh, ow = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = np.empty((x.shape[0], w.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), (1, 2)])
def test_conv_with_the_bias_added_on_the_way_out(stride, padding):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 8))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    out, cols = conv2d_bias_forward(x, w, b, stride, padding)
    np.testing.assert_allclose(out, _conv_by_loops(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)
    assert out.flags.c_contiguous
    plain, plain_cols = conv2d_forward(x, w, stride, padding)
    np.testing.assert_array_equal(cols, plain_cols)
    np.testing.assert_array_equal(out, plain + b.reshape(1, -1, 1, 1))  # the same additions, in float64


def test_conv_bias_of_the_wrong_shape_is_refused_with_the_shapes():
    x, w = np.zeros((1, 2, 4, 4)), np.zeros((3, 2, 2, 2))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\).*got \(2,\)"):
        conv2d_bias_forward(x, w, np.zeros(2), 1, 0)
