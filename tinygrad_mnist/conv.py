"""The numpy kernels behind the convolution and pooling primitives (no Tensor here).

Images are NCHW (batch, channels, height, width) and weights OIHW. Convolution
is an im2col view (``sliding_window_view``, strided, after padding) contracted
with the weights in one ``tensordot``; the transposed convolution (the input's
gradient) adds one strided slice per kernel offset, never looping over pixels.
The VJPs that tie them together are in the table of :mod:`tinygrad_mnist.ops`.
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
            hint = (" (a 3-d input looks like one image: an HWC image needs x.transpose(2, 0, 1)"
                    " and every single image needs a batch axis, e.g. x.reshape(1, C, H, W))")
        raise ValueError(f"conv2d: input must be 4-d {_NCHW}, got shape {tuple(x_shape)}{hint}")
    if len(w_shape) != 4:
        raise ValueError(f"conv2d: weight must be 4-d {_OIHW}, got shape {tuple(w_shape)}")
    if x_shape[1] != w_shape[1]:
        hint = ""
        if x_shape[-1] == w_shape[1]:
            hint = " (the input looks channels-last, NHWC: use x.transpose(0, 3, 1, 2))"
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


def _windows(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """The im2col view (N, C, OH, OW, kh, kw) of x padded by ``padding``: no copy beyond the pad."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def conv2d_forward(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    _check_conv(x.shape, w.shape, stride, padding)
    cols = _windows(x, w.shape[2], w.shape[3], stride, padding)
    out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, O): one matmul
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def conv2d_weight_grad_forward(x: np.ndarray, g: np.ndarray, w_shape: tuple[int, ...], stride: int,
                                padding: int) -> np.ndarray:
    """dL/dw of conv2d: g correlated with the im2col of x, as one matmul."""
    cols = _windows(x, w_shape[2], w_shape[3], stride, padding)
    dw = np.tensordot(g, cols, axes=([0, 2, 3], [0, 2, 3]))  # (O, C, kh, kw)
    return np.ascontiguousarray(dw.astype(np.result_type(x, g), copy=False))


def conv2d_input_grad_forward(g: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], stride: int,
                               padding: int) -> np.ndarray:
    """dL/dx of conv2d (the transposed convolution): col2im by one strided add per kernel offset."""
    n, c, h, wd = x_shape
    _, _, kh, kw = w.shape
    oh, ow = g.shape[2], g.shape[3]
    dx = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=np.result_type(g, w))
    for i in range(kh):
        for j in range(kw):  # within one offset the target pixels are distinct: plain += is exact
            dx[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += np.tensordot(
                w[:, :, i, j], g, axes=([0], [1])).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx[:, :, padding:padding + h, padding:padding + wd])


def pool_windows(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    if x.ndim != 4:
        raise ValueError(f"max_pool2d: input must be 4-d {_NCHW}, got shape {x.shape}")
    if not (isinstance(kernel_size, (int, np.integer)) and kernel_size >= 1):
        raise ValueError(f"max_pool2d: kernel_size must be a positive integer, got {kernel_size!r}")
    if not (isinstance(stride, (int, np.integer)) and stride >= 1):
        raise ValueError(f"max_pool2d: stride must be a positive integer, got {stride!r}")
    if kernel_size > x.shape[2] or kernel_size > x.shape[3]:
        raise ValueError(f"max_pool2d: kernel_size {kernel_size} is larger than the input's height and width "
                         f"{x.shape[2:]} (input {x.shape} in {_NCHW})")
    view = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    view = view[:, :, ::stride, ::stride]
    return view.reshape(*view.shape[:4], kernel_size * kernel_size)  # a copy, windows row-major
