"""Plain loops over pixels for the image kernels whose numpy form is bound by memory passes.

Written in the subset of Python that numba compiles: ``tinygrad_mnist.core.accelerator``
compiles them when numba is installed, and ``tinygrad_mnist.core.kernels`` uses
them there in place of its numpy code, which stays the reference. Run as plain
Python they give the same answers, only far slower (the tests use that on small
inputs). Each function fills an output array its caller allocated, with the
numpy reference's answer bit for bit: every sum adds in the reference's order.
Shapes and parameters are checked by the callers, never here.

Images are NCHW; an im2col matrix is (C, kh, kw, N, OH, OW) as in
``kernels._cols``. The im2col loop is written for stride 1 without dilation (the
common case, and the one where numpy's copy is slowest: its runs are output
rows); with the strides and dilation as arguments, a compiled loop was no faster
than numpy's copy. The pooling loops are written for 2x2 windows with stride 2 (the
pooling of nearly every small CNN): with the window size known when the loop is
compiled, they run several times faster than with it as an argument.

Examples:
    >>> import numpy as np
    >>> x = np.array([[[[1.0, 5.0], [3.0, 2.0]]]])
    >>> maxima, position = np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), dtype=np.uint8)
    >>> windows_with_nan = max_pool_2x2(x, maxima, position)
    >>> maxima.item(), position.item()
    (5.0, 1)
"""

from __future__ import annotations

import numpy as np

LOOPS = ("im2col_stride1", "col2im", "to_nchw", "max_pool_2x2", "window_scatter_2x2")
"""The functions of this module that the accelerator compiles."""


def im2col_stride1(x: np.ndarray, cols: np.ndarray) -> None:
    """cols[c, a, b, n, i, j] = x[n, c, i + a, j + b]: the im2col of a stride-1, undilated
    convolution of an (already padded) x, kernel offsets outermost so each write is a run."""
    n_images, channels = x.shape[0], x.shape[1]
    _, kh, kw, _, oh, ow = cols.shape
    for c in range(channels):
        for a in range(kh):
            for b in range(kw):
                for n in range(n_images):
                    for i in range(oh):
                        for j in range(ow):
                            cols[c, a, b, n, i, j] = x[n, c, i + a, j + b]


def col2im(dcols: np.ndarray, dx: np.ndarray, sh: int, sw: int, ph: int, pw: int, dh: int, dw: int) -> None:
    """The transpose of im2col, image by image: dx (zeros on entry) gets each dcols[n, c, a, b, i, j]
    added at pixel (i sh + a dh - ph, j sw + b dw - pw) of image n, channel c when that lies inside
    dx; kernel offsets in row-major order, as the numpy reference adds them."""
    n_images, channels, kh, kw, oh, ow = dcols.shape
    height, width = dx.shape[2], dx.shape[3]
    for n in range(n_images):
        for c in range(channels):
            for a in range(kh):
                for b in range(kw):
                    for i in range(oh):
                        r = i * sh + a * dh - ph
                        if 0 <= r < height:
                            for j in range(ow):
                                col = j * sw + b * dw - pw
                                if 0 <= col < width:
                                    dx[n, c, r, col] += dcols[n, c, a, b, i, j]


def to_nchw(product: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """out[n, o, p] = product[o, n, p] + bias[o] (a bias of length 0: none): the convolution's
    channels-first matmul as NCHW, the bias added in the same pass."""
    outs, n_images, pixels = product.shape
    with_bias = bias.shape[0] > 0
    for task in range(n_images * outs):
        n = task // outs
        o = task % outs
        if with_bias:
            shift = bias[o]
            for p in range(pixels):
                out[n, o, p] = product[o, n, p] + shift
        else:
            for p in range(pixels):
                out[n, o, p] = product[o, n, p]


def max_pool_2x2(x: np.ndarray, maxima: np.ndarray, position: np.ndarray) -> int:
    """Maxima and first-maximum positions (0 .. 3, row-major) of the 2x2 stride-2 windows of x.

    Returns how many windows hold a NaN: their answers here are not the
    reference's (which puts the maximum at the last NaN), and the caller
    recomputes when any does.
    """
    n_images, channels, oh, ow = maxima.shape
    nans = 0
    for task in range(n_images * channels):
        n = task // channels
        c = task % channels
        for i in range(oh):
            for j in range(ow):
                best = x[n, c, 2 * i, 2 * j]
                nan = np.isnan(best)
                at = 0
                for p in range(1, 4):
                    v = x[n, c, 2 * i + p // 2, 2 * j + p % 2]
                    nan |= np.isnan(v)
                    take = v > best
                    best = v if take else best
                    at = p if take else at
                maxima[n, c, i, j] = best
                position[n, c, i, j] = at
                nans += nan
    return nans


def window_scatter_2x2(g: np.ndarray, position: np.ndarray, out: np.ndarray) -> None:
    """All of out: g[n, c, i, j] at its 2x2 stride-2 window's ``position``, zero elsewhere,
    including the last row and column of an odd-sized out, which no window covers.
    Written row by row of out, so that the writes run in memory order."""
    n_images, channels, oh, ow = g.shape
    height, width = out.shape[2], out.shape[3]
    zero = g.dtype.type(0)
    for task in range(n_images * channels):
        n = task // channels
        c = task % channels
        for r in range(height):
            i = r // 2
            if i < oh:
                left = 2 * (r % 2)  # the position of this row's left cell in its window
                for j in range(ow):
                    at = position[n, c, i, j]
                    v = g[n, c, i, j]
                    out[n, c, r, 2 * j] = v if at == left else zero
                    out[n, c, r, 2 * j + 1] = v if at == left + 1 else zero
                for col in range(2 * ow, width):
                    out[n, c, r, col] = zero
            else:
                for col in range(width):
                    out[n, c, r, col] = zero
