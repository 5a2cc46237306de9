"""The numpy kernels behind the pooling primitives (no Tensor here): max-pooling, its window
scatter and gather, and the window arithmetic of every pooling.

Max-pooling works on one strided view per window position; windows that tile
the input (stride = kernel, as in the common 2x2 stride 2) take a reshaped view
instead, and the gradient writes each window's cells once, from the saved
positions of the maxima. 2x2 windows of stride 2 run compiled when the loops of
``tinygrad_mnist.core.accelerator`` are on. The VJPs are in the table of
``tinygrad_mnist.core.rules``.

Window sizes, strides and dilations are (height, width) pairs; an int stands
for the same number on both axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kernels import _CHUNK_BYTES, _NCHW, Pair, _compiled, pair


def pool_axis(op: str, size: int, k: int, s: int, p: int, d: int, ceil_mode: bool,
              shape: tuple[int, ...] = ()) -> tuple[int, int]:
    """One axis of a pooling: the output length, and the padding the last window needs past ``p``
    (``shape``, the caller's input shape, goes into the errors)."""
    if p > k // 2:
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k} (padding <= {k // 2})")
    span = d * (k - 1) + 1
    if size + 2 * p < span:
        raise ValueError(f"{op}: kernel_size {k} (dilated to {span}) is larger than the input's size {size} "
                         f"plus padding {p} on both sides (input {shape} in {_NCHW}, or CHW for one image)")
    out = (size + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
        out -= 1
    return out, max((out - 1) * s + span - size - 2 * p, 0)


def window_counts(size: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """How many cells each window covers along one axis (padding inside the padded input counted or not)."""
    starts = np.arange(out) * s - p
    ends = np.minimum(starts + k, size + p)
    return ends - starts if include_pad else np.minimum(ends, size) - np.maximum(starts, 0)


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Window i spans floor(i size / out) .. ceil((i + 1) size / out) (exclusive)."""
    i = np.arange(out)
    return i * size // out, -(-(i + 1) * size // out)


def check_pool(shape: tuple[int, ...], kernel_size: Any, stride: Any, op: str = "max_pool2d",
               dilation: Any = 1) -> Pair:
    """Validate a pooling call on an (already padded) 4-d input (``op`` names it in errors) and
    return the output's (height, width)."""
    if len(shape) != 4:
        raise ValueError(f"{op}: input must be 4-d {_NCHW}, got shape {tuple(shape)}")
    kh, kw = pair(kernel_size, "kernel_size", op)
    sh, sw = pair(stride, "stride", op)
    dh, dw = pair(dilation, "dilation", op)
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > shape[2] or ew > shape[3]:
        raise ValueError(f"{op}: kernel_size {(kh, kw)} (dilated to {(eh, ew)}) is larger than the input's "
                         f"height and width {tuple(shape[2:])} (input {tuple(shape)} in {_NCHW}, with its padding)")
    return (shape[2] - eh) // sh + 1, (shape[3] - ew) // sw + 1


def _window_slices(x: np.ndarray, kernel_size: Any, stride: Any, dilation: Any) -> list[np.ndarray]:
    """One strided view (N, C, OH, OW) per window position, in row-major window order."""
    oh, ow = check_pool(x.shape, kernel_size, stride, dilation=dilation)
    (kh, kw), (sh, sw) = pair(kernel_size, "kernel_size", "pool"), pair(stride, "stride", "pool")
    dh, dw = pair(dilation, "dilation", "pool")
    return [x[:, :, a * dh:a * dh + sh * (oh - 1) + 1:sh, b * dw:b * dw + sw * (ow - 1) + 1:sw]
            for a in range(kh) for b in range(kw)]


def _tiles(x: np.ndarray, kernel_size: Any, stride: Any, dilation: Any) -> np.ndarray | None:
    """For windows that tile the input (stride = kernel, no dilation), the tiled part of x as a
    (N, C, OH, kh, OW, kw) view; None for overlapping, gapped or dilated windows."""
    (kh, kw), (sh, sw) = pair(kernel_size, "kernel_size", "pool"), pair(stride, "stride", "pool")
    if (sh, sw) != (kh, kw) or pair(dilation, "dilation", "pool") != (1, 1):
        return None
    oh, ow = check_pool(x.shape, kernel_size, stride, dilation=dilation)
    n, c = x.shape[:2]
    return x[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw)  # splitting axes: always a view


def _is_2x2(kernel_size: Any, stride: Any, dilation: Any) -> bool:
    """Whether the windows are 2x2 with stride 2 and no dilation, as the compiled pooling needs."""
    return (pair(kernel_size, "kernel_size", "pool") == pair(stride, "stride", "pool") == (2, 2)
            and pair(dilation, "dilation", "pool") == (1, 1))


def _batch_chunks(image_bytes: int, n: int) -> list[slice]:
    """Slices of the batch axis holding about ``_CHUNK_BYTES`` of images each (at least one image):
    the several passes of the tiled pooling kernels then find their chunk still in cache."""
    step = max(1, _CHUNK_BYTES // max(image_bytes, 1))
    return [slice(start, start + step) for start in range(0, n, step)]


def _tiled_max(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maxima and first-maximum positions of the windows of a ``_tiles`` view (without NaN).

    The maximum is one running ``np.maximum`` over the cells; the position is then
    found from the last cell back: ``p = (cell p != max) * (p + 1 + ...)``, so the
    first cell equal to the maximum wins, as on the general path. A chunk of
    images at a time.
    """
    n, c, oh, kh, ow, kw = tiles.shape
    maxima = np.empty((n, c, oh, ow), dtype=tiles.dtype)
    dtype = np.min_scalar_type(kh * kw - 1)
    position = np.zeros(maxima.shape, dtype=dtype)
    for chunk in _batch_chunks(tiles[:1].size * tiles.itemsize, n):
        cells = [tiles[chunk, :, :, a, :, b] for a in range(kh) for b in range(kw)]
        top, where = maxima[chunk], position[chunk]
        np.copyto(top, cells[0])
        for cell in cells[1:]:
            np.maximum(top, cell, out=top)
        for cell in reversed(cells[:-1]):
            where += dtype.type(1)
            where *= np.not_equal(cell, top).view(np.uint8)
    return maxima, position


def max_pool2d_forward(x: np.ndarray, kernel_size: Any, stride: Any,
                       dilation: Any = 1) -> tuple[np.ndarray, np.ndarray]:
    """Window maxima, and the position (row-major, 0 .. kh*kw-1) of each maximum; on ties the first one.

    Windows that tile the input (stride = kernel, the common 2x2 stride 2) take
    ``_tiled_max`` on a reshaped view. Otherwise one pass over the kh*kw window
    positions, each a strided view of x (no window is copied): a later cell takes
    over only where it is strictly greater, so a tie keeps the earlier cell. A
    window holding NaN gives NaN at its last NaN, as PyTorch does. The positions
    are what the gradient needs.
    """
    tiles = _tiles(x, kernel_size, stride, dilation)
    compiled = _compiled(x) if tiles is not None and _is_2x2(kernel_size, stride, dilation) else None
    if compiled is not None and tiles is not None:  # 2x2 stride 2 compiled; redone below when a window holds NaN
        maxima = np.empty((x.shape[0], x.shape[1], tiles.shape[2], tiles.shape[4]), dtype=x.dtype)
        position = np.empty(maxima.shape, dtype=np.uint8)
        if not compiled.max_pool_2x2(np.ascontiguousarray(x), maxima, position):
            return maxima, position
    elif tiles is not None:
        maxima, position = _tiled_max(tiles)
        if x.dtype.kind != "f" or not np.isnan(maxima).any():
            return maxima, position
    slices = _window_slices(x, kernel_size, stride, dilation)
    maxima = slices[0].copy()
    dtype = np.min_scalar_type(len(slices) - 1)
    position = np.zeros(maxima.shape, dtype=dtype)
    for p, view in enumerate(slices[1:], start=1):
        greater = view > maxima
        np.maximum(maxima, view, out=maxima)
        # positions only grow along the scan, so the latest strict improvement is the largest
        np.maximum(position, greater.view(np.uint8) * dtype.type(p), out=position)
    if x.dtype.kind == "f" and np.isnan(maxima).any():  # rare: a second pass for the NaN windows only
        for p, view in enumerate(slices):
            position[np.isnan(view)] = p
    return maxima, position


def window_scatter_forward(g: np.ndarray, position: np.ndarray, kernel_size: Any, stride: Any,
                           shape: tuple[int, ...], dilation: Any = 1) -> np.ndarray:
    """Zeros of ``shape`` with each ``g[n, c, i, j]`` added at ``position[n, c, i, j]`` of its window."""
    compiled = _compiled(g) if position.dtype == np.uint8 and len(shape) == 4 and _is_2x2(kernel_size, stride,
                                                                                          dilation) else None
    if compiled is not None:  # 2x2 stride 2: every cell of out written once, in memory order, compiled
        out = np.empty(shape, dtype=g.dtype)
        compiled.window_scatter_2x2(np.ascontiguousarray(g), np.ascontiguousarray(position), out)
        return out
    finite = bool(np.isfinite(g).all())
    if finite:
        out = np.empty(shape, dtype=g.dtype)
        tiles = _tiles(out, kernel_size, stride, dilation)
        if tiles is not None:  # every cell of the tiles is written once; only the rows and columns past them are zeroed
            out[:, :, tiles.shape[2] * tiles.shape[3]:] = 0
            out[:, :, :, tiles.shape[4] * tiles.shape[5]:] = 0
            kw = tiles.shape[5]
            for chunk in _batch_chunks(out[:1].nbytes, shape[0]):
                for p in range(tiles.shape[3] * kw):
                    np.multiply(g[chunk], position[chunk] == p, out=tiles[chunk, :, :, p // kw, :, p % kw])
            return out
    out = np.zeros(shape, dtype=g.dtype)
    zero = np.zeros((), dtype=g.dtype)
    (kh, kw), (sh, sw) = pair(kernel_size, "kernel_size", "pool"), pair(stride, "stride", "pool")
    disjoint = sh >= kh and sw >= kw and pair(dilation, "dilation", "pool") == (1, 1)
    for p, view in enumerate(_window_slices(out, kernel_size, stride, dilation)):
        hit = position == p
        if disjoint and finite:  # disjoint windows: write straight into the view
            np.multiply(g, hit, out=view)
        else:  # one position maps windows to distinct pixels, so += is exact; where(): inf * 0 is NaN
            view += g * hit if finite else np.where(hit, g, zero)
    return out


def window_gather_forward(x: np.ndarray, position: np.ndarray, kernel_size: Any, stride: Any,
                          dilation: Any = 1) -> np.ndarray:
    """``x``'s element at ``position`` in each window: the transpose of ``window_scatter_forward``."""
    slices = _window_slices(x, kernel_size, stride, dilation)
    out = slices[0].copy()
    for p, view in enumerate(slices[1:], start=1):
        np.copyto(out, view, where=position == p)
    return out
