"""The numpy kernels behind the convolution primitives (no Tensor here); pooling's are in
``tinygrad_mnist.core.pool_kernels``.

Images are NCHW (batch, channels, height, width) and weights OIHW. Convolution
copies an im2col matrix out of a sliding-window view of the padded input and
multiplies it by the weights in one matrix product (one per group when the
channels are split into groups); the transposed convolution (the input's
gradient) adds one slice per kernel offset, never looping over pixels. With the
compiled loops of ``tinygrad_mnist.core.accelerator`` on, the passes over pixels
run compiled instead. The VJPs that tie them together are in the table of
``tinygrad_mnist.core.rules``.

Strides, paddings, dilations and kernel sizes are (height, width) pairs; an int
stands for the same number on both axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import accelerator

_NCHW = "NCHW (batch, channels, height, width)"
_OIHW = "OIHW (out_channels, in_channels, kernel_height, kernel_width)"
Pair = tuple[int, int]
_CHUNK_BYTES = 1 << 20  # images per chunk of the chunked kernels (here and in pooling): about a megabyte
# up to this many im2col rows (C*kh*kw: a first layer's few channels), the weight's gradient is one product
# per image, which reads g in place; with more, copying g channels-first for one large product is faster
_FEW_COLUMN_ROWS = 64
_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # what the compiled kernels are used for


def _compiled(*arrays: np.ndarray) -> Any:
    """The compiled kernels' module when it is on and every array is float32/float64, else None."""
    if all(a.dtype in _COMPILED_DTYPES for a in arrays):
        return accelerator.kernels()
    return None


def pair(value: Any, name: str, op: str, minimum: int = 1) -> Pair:
    """``value`` (an int or a sequence of two ints, each >= ``minimum``) as a (height, width) pair."""
    items = (value, value) if isinstance(value, (int, np.integer)) else value
    if isinstance(items, (tuple, list)) and len(items) == 1:
        items = (items[0], items[0])
    if not (isinstance(items, (tuple, list)) and len(items) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in items)):
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be a {what} integer or a pair of them (height, width), got {value!r}")
    return int(items[0]), int(items[1])


def check_conv(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any, padding: Any,
               dilation: Any = 1, groups: int = 1) -> Pair:
    """Validate a conv2d call (input 4-d, or 3-d for one unbatched image) and return the output's (height, width)."""
    if len(x_shape) not in (3, 4):
        hint = (" (a single image needs a channel axis, e.g. x.reshape(1, H, W))" if len(x_shape) == 2 else "")
        raise ValueError(f"conv2d: input must be 4-d {_NCHW} or 3-d (channels, height, width) for one image, "
                         f"got shape {tuple(x_shape)}{hint}")
    if len(w_shape) != 4:
        raise ValueError(f"conv2d: weight must be 4-d {_OIHW}, got shape {tuple(w_shape)}")
    sh, sw = pair(stride, "stride", "conv2d")
    ph, pw = pair(padding, "padding", "conv2d", minimum=0)
    dh, dw = pair(dilation, "dilation", "conv2d")
    if not (isinstance(groups, (int, np.integer)) and groups >= 1):
        raise ValueError(f"conv2d: groups must be a positive integer, got {groups!r}")
    channel_axis = len(x_shape) - 3
    channels = x_shape[channel_axis]
    if w_shape[0] % groups:
        raise ValueError(f"conv2d: out_channels {w_shape[0]} (axis 0 of the weight, shape {tuple(w_shape)}) "
                         f"must be divisible by groups={groups}")
    if channels != w_shape[1] * groups:
        layout = _NCHW if channel_axis else "CHW (one unbatched NCHW image)"
        hint = ""
        if x_shape[-1] == w_shape[1] * groups:
            hint = (" (the input looks channels-last, NHWC: use x.permute(0, 3, 1, 2))" if channel_axis else
                    " (the input looks channels-last, HWC: use x.permute(2, 0, 1))")
        per_group = f"{w_shape[1]} per group x groups={groups}; " if groups != 1 else ""
        raise ValueError(
            f"conv2d: input has {channels} channels (axis {channel_axis} of {layout}, shape {tuple(x_shape)}) but "
            f"the weight expects {w_shape[1] * groups} ({per_group}axis 1 of {_OIHW}, shape {tuple(w_shape)}){hint}"
        )
    height, width = x_shape[-2] + 2 * ph, x_shape[-1] + 2 * pw
    kh, kw = dh * (w_shape[2] - 1) + 1, dw * (w_shape[3] - 1) + 1
    if kh > height or kw > width:
        raise ValueError(
            f"conv2d: kernel {tuple(w_shape[2:])} (dilated to {(kh, kw)}) is larger than the padded input "
            f"{(height, width)} (input {tuple(x_shape)}, padding {(ph, pw)})"
        )
    return (height - kh) // sh + 1, (width - kw) // sw + 1


def _cols(x: np.ndarray, kh: int, kw: int, stride: Pair, padding: Pair,
          dilation: Pair) -> tuple[np.ndarray, tuple[int, int, int]]:
    """im2col of x padded by ``padding``: a (C*kh*kw, N*OH*OW) matrix, and (N, OH, OW).

    Rows run over (channel, kernel row, kernel column), columns over (image, output
    row, output column): copied from the sliding-window view so that the innermost
    run is an output row, which keeps the copy fast for one-channel inputs too.
    With groups, each group's rows are a contiguous block.
    """
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    compiled = _compiled(x) if (sh, sw, dh, dw) == (1, 1, 1, 1) else None
    if compiled is not None:  # stride 1, undilated: one compiled pass that writes whole runs
        n, c, h, w = x.shape
        oh, ow = h - kh + 1, w - kw + 1
        cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
        compiled.im2col_stride1(np.ascontiguousarray(x), cols)
        return cols.reshape(c * kh * kw, n * oh * ow), (n, oh, ow)
    view = np.lib.stride_tricks.sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    view = view[:, :, ::sh, ::sw, ::dh, ::dw]
    n, c, oh, ow = view.shape[:4]
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    np.copyto(cols, view.transpose(1, 4, 5, 0, 2, 3))
    return cols.reshape(c * kh * kw, n * oh * ow), (n, oh, ow)


def _channels_first(g: np.ndarray) -> np.ndarray:
    """(N, O, OH, OW) as the (O, N*OH*OW) matrix that multiplies the im2col."""
    n, o, oh, ow = g.shape
    return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, n * oh * ow)


def _grouped(a: np.ndarray, groups: int) -> np.ndarray:
    """A matrix whose rows are ``groups`` consecutive blocks, as a (groups, rows/groups, columns) stack."""
    return a.reshape(groups, a.shape[0] // groups, a.shape[1])


def conv2d_forward(x: np.ndarray, w: np.ndarray, stride: Any, padding: Any, dilation: Any = 1,
                   groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The convolution, and the im2col of x it multiplied (which the weight's gradient needs again)."""
    return conv2d_bias_forward(x, w, None, stride, padding, dilation, groups)


def conv2d_bias_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Any, padding: Any,
                        dilation: Any = 1, groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``conv2d_forward`` plus the bias ``b`` (O,) when given, added as the product is written out.

    With few im2col rows (a first layer's), one product per image writes the
    output straight into NCHW. Otherwise one large matmul leaves the output
    channels first, (O, N*OH*OW), and the one copy to NCHW adds the bias on the
    way, so the bias costs no pass of its own.
    """
    check_conv(x.shape, w.shape, stride, padding, dilation, groups)
    o = w.shape[0]
    cols, (n, oh, ow) = _cols(x, w.shape[2], w.shape[3], pair(stride, "stride", "conv2d"),
                              pair(padding, "padding", "conv2d", 0), pair(dilation, "dilation", "conv2d"))
    if b is not None and b.shape != (o,):
        raise ValueError(f"conv2d: bias must have shape ({o},), one per output channel, got {b.shape}")
    if groups == 1 and cols.shape[0] <= _FEW_COLUMN_ROWS:
        result = np.empty((n, o, oh, ow), dtype=np.result_type(w, cols))
        np.matmul(w.reshape(o, -1), cols.reshape(-1, n, oh * ow).transpose(1, 0, 2), out=result.reshape(n, o, -1))
        if b is None:
            return result, cols
        if np.result_type(result, b) == result.dtype:
            result += b.reshape(1, o, 1, 1)
            return result, cols
        return result + b.reshape(1, o, 1, 1), cols
    if groups == 1:
        out = w.reshape(o, -1) @ cols  # (O, N*OH*OW): the one matmul
    else:  # one matmul per group, as one stacked product
        out = (w.reshape(groups, o // groups, -1) @ _grouped(cols, groups)).reshape(o, -1)
    compiled = _compiled(out) if b is None or b.dtype == out.dtype else None
    if compiled is not None:  # the copy to NCHW and the bias in one compiled pass
        result = np.empty((n, o, oh, ow), dtype=out.dtype)
        compiled.to_nchw(out.reshape(o, n, oh * ow), np.empty(0, out.dtype) if b is None else b,
                         result.reshape(n, o, oh * ow))
        return result, cols
    nchw = out.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
    if b is None:
        return np.ascontiguousarray(nchw), cols
    result = np.empty(nchw.shape, dtype=np.result_type(out, b))
    np.add(nchw, b.reshape(1, o, 1, 1), out=result)
    return result, cols


def conv2d_weight_grad_forward(x: np.ndarray, g: np.ndarray, w_shape: tuple[int, ...], stride: Any,
                                padding: Any, dilation: Any = 1, groups: int = 1,
                                cols: np.ndarray | None = None) -> np.ndarray:
    """dL/dw of conv2d: g times the im2col of x (``cols`` when the forward pass kept it), one matmul."""
    if cols is None:
        cols, _ = _cols(x, w_shape[2], w_shape[3], pair(stride, "stride", "conv2d"),
                        pair(padding, "padding", "conv2d", 0), pair(dilation, "dilation", "conv2d"))
    if groups == 1 and cols.shape[0] <= _FEW_COLUMN_ROWS:  # per image, g as it is: no channels-first copy of g
        n, o = g.shape[:2]
        pixels = g.shape[2] * g.shape[3]
        per_image = cols.reshape(-1, n, pixels).transpose(1, 2, 0)  # (N, OH*OW, C*kh*kw), a view
        return np.matmul(g.reshape(n, o, pixels), per_image).sum(axis=0).reshape(w_shape)
    # cols (g^T) rather than g cols^T: OpenBLAS runs this long product 20-25 % faster with the
    # weight's rows as its short side; the transpose of the small result is the one copy
    if groups == 1:
        return (cols @ _channels_first(g).T).T.reshape(w_shape)
    per_group = _grouped(cols, groups) @ _grouped(_channels_first(g), groups).transpose(0, 2, 1)
    return per_group.transpose(0, 2, 1).reshape(w_shape)


def _weight_times_grad(w: np.ndarray, g_matrix: np.ndarray, groups: int) -> np.ndarray:
    """w.T @ g per group: the (C*kh*kw, columns) matrix of the transposed convolution."""
    o = w.shape[0]
    if groups == 1:
        return w.reshape(o, -1).T @ g_matrix
    stacked = w.reshape(groups, o // groups, -1).transpose(0, 2, 1) @ _grouped(g_matrix, groups)
    return stacked.reshape(-1, g_matrix.shape[1])


def conv2d_input_grad_forward(g: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], stride: Any,
                               padding: Any, dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """dL/dx of conv2d (the transposed convolution): one matmul to columns, then col2im: the
    compiled loop when the accelerator is on, else one strided numpy add per kernel offset."""
    (sh, sw), (ph, pw) = pair(stride, "stride", "conv2d"), pair(padding, "padding", "conv2d", 0)
    dh, dw = pair(dilation, "dilation", "conv2d")
    compiled = _compiled(g, w)
    if compiled is not None:
        return _input_grad_compiled(compiled, g, w, x_shape, (sh, sw, ph, pw, dh, dw), groups)
    if sh == sw == 1:
        return _input_grad_stride1(g, w, x_shape, (ph, pw), (dh, dw), groups)
    n, c, h, wd = x_shape
    _, _, kh, kw = w.shape
    oh, ow = g.shape[2], g.shape[3]
    dcols = _weight_times_grad(w, _channels_first(g), groups).reshape(c, kh, kw, n, oh, ow)
    dx = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):  # within one offset the target pixels are distinct: plain += is exact
            top, left = i * dh, j * dw
            dx[:, :, top:top + sh * (oh - 1) + 1:sh, left:left + sw * (ow - 1) + 1:sw] += \
                dcols[:, i, j].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx[:, :, ph:ph + h, pw:pw + wd])


def _input_grad_compiled(compiled: Any, g: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...],
                         steps: tuple[int, ...], groups: int) -> np.ndarray:
    """The transposed convolution with the compiled col2im, a chunk of images at a time.

    Each chunk's columns, w.T times each image's g (read in place, no
    channels-first copy), fill a buffer of about ``_CHUNK_BYTES`` that stays in
    cache for the col2im that follows. Grouped convolutions take the one-matmul
    route with one copy to image-major columns.
    """
    n, c = x_shape[0], x_shape[1]
    o, _, kh, kw = w.shape
    oh, ow = g.shape[2], g.shape[3]
    dtype = np.result_type(w, g)
    dx = np.zeros(x_shape, dtype=dtype)
    if groups != 1:
        dcols = _weight_times_grad(w, _channels_first(g), groups).reshape(c, kh, kw, n, oh, ow)
        compiled.col2im(np.ascontiguousarray(dcols.transpose(3, 0, 1, 2, 4, 5)), dx, *steps)
        return dx
    w_t, per_image = w.reshape(o, -1).T, g.reshape(n, o, oh * ow)
    chunk = max(1, _CHUNK_BYTES // max(w_t.shape[0] * oh * ow * dtype.itemsize, 1))
    buffer = np.empty((min(chunk, n), w_t.shape[0], oh * ow), dtype=dtype)
    for start in range(0, n, chunk):
        part = buffer[:min(chunk, n - start)]
        np.matmul(w_t, per_image[start:start + len(part)], out=part)
        compiled.col2im(part.reshape(len(part), c, kh, kw, oh, ow), dx[start:start + len(part)], *steps)
    return dx


def _input_grad_stride1(g: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], padding: Pair,
                        dilation: Pair, groups: int) -> np.ndarray:
    """The stride-1 transposed convolution with long contiguous adds.

    g is widened with zero columns to the padded input's width, so that output
    pixel (r, c) and input pixel (r + i dh, c + j dw) sit exactly
    ``i dh width + j dw`` apart in row-major order: each kernel offset is then
    one add of a contiguous block per image. The zero columns carry nothing, so
    the rows they wrap into are unchanged.
    """
    n, c, h, wd = x_shape
    o, _, kh, kw = w.shape
    (ph, pw), (dh, dw) = padding, dilation
    oh, ow = g.shape[2], g.shape[3]
    height, width = h + 2 * ph, wd + 2 * pw
    widened = np.zeros((o, n, oh, width), dtype=g.dtype)
    widened[:, :, :, :ow] = g.transpose(1, 0, 2, 3)
    dcols = _weight_times_grad(w, widened.reshape(o, -1), groups).reshape(c, kh, kw, n, oh * width)
    tail = dw * (kw - 1)  # the last offset's zero tail
    flat = np.zeros((c, n, height * width + tail), dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            start = i * dh * width + j * dw
            flat[:, :, start:start + oh * width] += dcols[:, i, j]
    dx = flat[:, :, :height * width].reshape(c, n, height, width)[:, :, ph:ph + h, pw:pw + wd]
    return np.ascontiguousarray(dx.transpose(1, 0, 2, 3))


def wrap_index(mode: str, positions: np.ndarray, size: int) -> np.ndarray:
    """Where each position outside 0 .. size-1 takes its value from, for the non-constant modes."""
    if mode == "reflect":
        return np.where(positions < 0, -positions, np.where(positions >= size, 2 * (size - 1) - positions, positions))
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    return positions % size  # circular
