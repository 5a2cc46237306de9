"""The numpy kernels behind the convolution and pooling primitives (no Tensor here).

Images are NCHW (batch, channels, height, width) and weights OIHW. Convolution
copies an im2col matrix out of a sliding-window view of the padded input and
multiplies it by the weights in one matrix product; the transposed convolution
(the input's gradient) adds one slice per kernel offset, never looping over
pixels. Max-pooling works on one strided view per window position. The VJPs
that tie them together are in the table of :mod:`tinygrad_mnist.core.rules`.
"""

from __future__ import annotations

import numpy as np

_NCHW = "NCHW (batch, channels, height, width)"
_OIHW = "OIHW (out_channels, in_channels, kernel_height, kernel_width)"


def _check_conv(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int, padding: int) -> tuple[int, int]:
    """Validate a conv2d call and return the output's (height, width)."""
    if len(x_shape) != 4:
        hint = ""
        if len(x_shape) == 3:
            hint = (" (a 3-d input looks like one image: an HWC image needs x.permute(2, 0, 1)"
                    " and every single image needs a batch axis, e.g. x.reshape(1, C, H, W))")
        raise ValueError(f"conv2d: input must be 4-d {_NCHW}, got shape {tuple(x_shape)}{hint}")
    if len(w_shape) != 4:
        raise ValueError(f"conv2d: weight must be 4-d {_OIHW}, got shape {tuple(w_shape)}")
    if x_shape[1] != w_shape[1]:
        hint = ""
        if x_shape[-1] == w_shape[1]:
            hint = " (the input looks channels-last, NHWC: use x.permute(0, 3, 1, 2))"
        raise ValueError(
            f"conv2d: input has {x_shape[1]} channels (axis 1 of {_NCHW}, shape {tuple(x_shape)}) but the "
            f"weight expects {w_shape[1]} (axis 1 of {_OIHW}, shape {tuple(w_shape)}){hint}"
        )
    if not (isinstance(stride, (int, np.integer)) and stride >= 1):
        raise ValueError(f"conv2d: stride must be a positive integer, got {stride!r}")
    if not (isinstance(padding, (int, np.integer)) and padding >= 0):
        raise ValueError(f"conv2d: padding must be a non-negative integer, got {padding!r}")
    height, width = x_shape[2] + 2 * padding, x_shape[3] + 2 * padding
    if w_shape[2] > height or w_shape[3] > width:
        raise ValueError(
            f"conv2d: kernel {tuple(w_shape[2:])} is larger than the padded input {(height, width)} "
            f"(input {tuple(x_shape)} in {_NCHW}, padding {padding})"
        )
    return (height - w_shape[2]) // stride + 1, (width - w_shape[3]) // stride + 1


def _cols(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> tuple[np.ndarray, tuple[int, int, int]]:
    """im2col of x padded by ``padding``: a (C*kh*kw, N*OH*OW) matrix, and (N, OH, OW).

    Rows run over (channel, kernel row, kernel column), columns over (image, output
    row, output column): copied from the sliding-window view so that the innermost
    run is an output row, which keeps the copy fast for one-channel inputs too.
    """
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, oh, ow = view.shape[:4]
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    np.copyto(cols, view.transpose(1, 4, 5, 0, 2, 3))
    return cols.reshape(c * kh * kw, n * oh * ow), (n, oh, ow)


def _channels_first(g: np.ndarray) -> np.ndarray:
    """(N, O, OH, OW) as the (O, N*OH*OW) matrix that multiplies the im2col."""
    n, o, oh, ow = g.shape
    return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, n * oh * ow)


def conv2d_forward(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> tuple[np.ndarray, np.ndarray]:
    """The convolution, and the im2col of x it multiplied (which the weight's gradient needs again)."""
    _check_conv(x.shape, w.shape, stride, padding)
    o = w.shape[0]
    cols, (n, oh, ow) = _cols(x, w.shape[2], w.shape[3], stride, padding)
    out = w.reshape(o, -1) @ cols  # (O, N*OH*OW): the one matmul
    return np.ascontiguousarray(out.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)), cols


def conv2d_weight_grad_forward(x: np.ndarray, g: np.ndarray, w_shape: tuple[int, ...], stride: int,
                                padding: int, cols: np.ndarray | None = None) -> np.ndarray:
    """dL/dw of conv2d: g times the im2col of x (``cols`` when the forward pass kept it), one matmul."""
    if cols is None:
        cols, _ = _cols(x, w_shape[2], w_shape[3], stride, padding)
    return (_channels_first(g) @ cols.T).reshape(w_shape)


def conv2d_input_grad_forward(g: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], stride: int,
                               padding: int) -> np.ndarray:
    """dL/dx of conv2d (the transposed convolution): one matmul to columns, then col2im by one
    strided add per kernel offset, never looping over pixels."""
    if stride == 1:
        return _input_grad_stride1(g, w, x_shape, padding)
    n, c, h, wd = x_shape
    o, _, kh, kw = w.shape
    oh, ow = g.shape[2], g.shape[3]
    dcols = (w.reshape(o, -1).T @ _channels_first(g)).reshape(c, kh, kw, n, oh, ow)
    dx = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):  # within one offset the target pixels are distinct: plain += is exact
            dx[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += \
                dcols[:, i, j].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx[:, :, padding:padding + h, padding:padding + wd])


def _input_grad_stride1(g: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], padding: int) -> np.ndarray:
    """The stride-1 transposed convolution with long contiguous adds.

    g is widened with zero columns to the padded input's width, so that output
    pixel (r, c) and input pixel (r + i, c + j) sit exactly ``i * width + j``
    apart in row-major order: each kernel offset is then one add of a
    contiguous block per image. The zero columns carry nothing, so the rows
    they wrap into are unchanged.
    """
    n, c, h, wd = x_shape
    o, _, kh, kw = w.shape
    oh, ow = g.shape[2], g.shape[3]
    height, width = h + 2 * padding, wd + 2 * padding
    widened = np.zeros((o, n, oh, width), dtype=g.dtype)
    widened[:, :, :, :ow] = g.transpose(1, 0, 2, 3)
    dcols = (w.reshape(o, -1).T @ widened.reshape(o, -1)).reshape(c, kh, kw, n, oh * width)
    flat = np.zeros((c, n, height * width + kw - 1), dtype=dcols.dtype)  # kw - 1: the last offset's zero tail
    for i in range(kh):
        for j in range(kw):
            start = i * width + j
            flat[:, :, start:start + oh * width] += dcols[:, i, j]
    dx = flat[:, :, :height * width].reshape(c, n, height, width)[:, :, padding:padding + h, padding:padding + wd]
    return np.ascontiguousarray(dx.transpose(1, 0, 2, 3))


def check_pool(shape: tuple[int, ...], kernel_size: int, stride: int, op: str = "max_pool2d") -> tuple[int, int]:
    """Validate a pooling call (``op`` names it in errors) and return the output's (height, width)."""
    if len(shape) != 4:
        raise ValueError(f"{op}: input must be 4-d {_NCHW}, got shape {tuple(shape)}")
    if not (isinstance(kernel_size, (int, np.integer)) and kernel_size >= 1):
        raise ValueError(f"{op}: kernel_size must be a positive integer, got {kernel_size!r}")
    if not (isinstance(stride, (int, np.integer)) and stride >= 1):
        raise ValueError(f"{op}: stride must be a positive integer, got {stride!r}")
    if kernel_size > shape[2] or kernel_size > shape[3]:
        raise ValueError(f"{op}: kernel_size {kernel_size} is larger than the input's height and width "
                         f"{tuple(shape[2:])} (input {tuple(shape)} in {_NCHW})")
    return (shape[2] - kernel_size) // stride + 1, (shape[3] - kernel_size) // stride + 1


def _window_slices(x: np.ndarray, kernel_size: int, stride: int) -> list[np.ndarray]:
    """One strided view (N, C, OH, OW) per window position, in row-major window order."""
    oh, ow = check_pool(x.shape, kernel_size, stride)
    return [x[:, :, a:a + stride * (oh - 1) + 1:stride, b:b + stride * (ow - 1) + 1:stride]
            for a in range(kernel_size) for b in range(kernel_size)]


def max_pool2d_forward(x: np.ndarray, kernel_size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Window maxima, and the position (row-major, 0 .. k*k-1) of each maximum; on ties the first one.

    One pass over the k*k window positions, each a strided view of x (no window
    is copied): a later cell takes over only where it is strictly greater, so a
    tie keeps the earlier cell. The positions are what the gradient needs.
    """
    slices = _window_slices(x, kernel_size, stride)
    maxima = slices[0].copy()
    dtype = np.min_scalar_type(kernel_size * kernel_size - 1)
    position = np.zeros(maxima.shape, dtype=dtype)
    for p, view in enumerate(slices[1:], start=1):
        greater = view > maxima
        np.maximum(maxima, view, out=maxima)
        # positions only grow along the scan, so the latest strict improvement is the largest
        np.maximum(position, greater.view(np.uint8) * dtype.type(p), out=position)
    return maxima, position


def window_scatter_forward(g: np.ndarray, position: np.ndarray, kernel_size: int, stride: int,
                           shape: tuple[int, ...]) -> np.ndarray:
    """Zeros of ``shape`` with each ``g[n, c, i, j]`` added at ``position[n, c, i, j]`` of its window."""
    out = np.zeros(shape, dtype=g.dtype)
    finite = bool(np.isfinite(g).all())
    zero = np.zeros((), dtype=g.dtype)
    for p, view in enumerate(_window_slices(out, kernel_size, stride)):
        hit = position == p
        if stride >= kernel_size and finite:  # disjoint windows: write straight into the view
            np.multiply(g, hit, out=view)
        else:  # one position maps windows to distinct pixels, so += is exact; where(): inf * 0 is NaN
            view += g * hit if finite else np.where(hit, g, zero)
    return out


def window_gather_forward(x: np.ndarray, position: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """``x``'s element at ``position`` in each window: the transpose of :func:`window_scatter_forward`."""
    slices = _window_slices(x, kernel_size, stride)
    out = slices[0].copy()
    for p, view in enumerate(slices[1:], start=1):
        np.copyto(out, view, where=position == p)
    return out
