"""Image layers as composites: convolution, padding and pooling of NCHW tensors.

Like ``tinygrad_mnist.core.composites``, every function here is a chain of
primitives of the rule table (the convolution and max-pooling primitives, whose
numpy kernels are in ``tinygrad_mnist.core.kernels``, and indexing, adding
and concatenating), so gradients of any order follow. ``nn.functional`` and the
``nn`` layers call these functions with PyTorch's arguments.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> max_pool2d(x, 2).shape, pad(x, (1, 1, 2, 0)).shape
    ((1, 1, 2, 2), (1, 1, 6, 6))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import rules
from .kernels import Pair, check_conv, pair, wrap_index
from .pool_kernels import adaptive_windows, check_pool, max_pool2d_forward, pool_axis, window_counts

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor


def _one_image(x: Tensor, op: str) -> tuple[Tensor, bool]:
    """A 3-d (C, H, W) input as a batch of one, and whether it was; 4-d passes, anything else raises."""
    if x.ndim == 3:
        return x.reshape(1, *x.shape), True
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-d NCHW (batch, channels, height, width) or 3-d CHW "
                         f"(channels, height, width) for one image, got shape {x.shape}")
    return x, False


def _same_padding(weight_shape: tuple[int, ...], stride: Any, dilation: Any) -> tuple[Pair, Pair]:
    """padding='same': the (top, left) padding, and what goes on the bottom and right besides it."""
    if pair(stride, "stride", "conv2d") != (1, 1):
        raise ValueError(f"conv2d: padding='same' needs stride 1 (the output keeps the input's size), got {stride!r}")
    totals = [d * (k - 1) for d, k in zip(pair(dilation, "dilation", "conv2d"), weight_shape[2:], strict=True)]
    first = (totals[0] // 2, totals[1] // 2)
    return first, (totals[0] - 2 * first[0], totals[1] - 2 * first[1])


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-d cross-correlation of ``x`` (N, C, H, W) or (C, H, W) with ``weight`` (O, C/groups, kh, kw), plus
    ``bias`` (O,).

    ``stride``, ``padding`` (zeros on both sides) and ``dilation`` are ints or (h, w)
    pairs; ``padding`` may also be 'valid' (none) or 'same' (stride 1 only; an odd total
    puts the extra zero at the bottom/right). ``groups`` splits the channels into
    that many independent convolutions. The output is
    (N, O, (H + 2 ph - dh (kh - 1) - 1) // sh + 1, likewise for W).

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> conv2d(x, Tensor(np.ones((1, 1, 2, 2))), stride=2).numpy()[0, 0]
        array([[10., 18.],
               [42., 50.]])
        >>> conv2d(x, Tensor(np.ones((1, 1, 2, 2))), padding="same").shape
        (1, 1, 4, 4)
    """
    extra = (0, 0)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"conv2d: padding must be 'valid', 'same', an int or a pair, got {padding!r}")
        padding, extra = _same_padding(weight.shape, stride, dilation) if padding == "same" else ((0, 0), extra)
    check_conv(x.shape, weight.shape, stride, padding, dilation, groups)
    x, unbatched = _one_image(x, "conv2d")
    if extra != (0, 0):
        x = pad(x, (0, extra[1], 0, extra[0]))
    params = {"stride": pair(stride, "stride", "conv2d"), "padding": pair(padding, "padding", "conv2d", 0),
              "dilation": pair(dilation, "dilation", "conv2d"), "groups": int(groups)}
    if bias is None:
        out = rules.conv2d(x, weight, **params)
    else:
        if bias.shape != (weight.shape[0],):
            raise ValueError(
                f"conv2d: bias must have shape ({weight.shape[0]},), one per output channel, got {bias.shape}")
        out = rules.conv2d_bias(x, weight, bias, **params)  # the bias added as the output is written
    return out.reshape(*out.shape[1:]) if unbatched else out


# ---- padding ----------------------------------------------------------------------
def _pad_pairs(x: Tensor, pad: Sequence[int]) -> list[tuple[int, int, int]]:
    """(dim, before, after) for each padded dim, from the last dim backwards like ``pad``."""
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad) or len(pad) % 2:
        raise ValueError(f"pad: pad must be an even number of integers (before, after for the last dim, then "
                         f"the one before, ...), got {tuple(pad)!r}")
    if len(pad) > 2 * x.ndim:
        raise ValueError(f"pad: {len(pad)} pad values reach past the {x.ndim} dims of the input (shape {x.shape})")
    return [(x.ndim - 1 - k, int(pad[2 * k]), int(pad[2 * k + 1])) for k in range(len(pad) // 2)]


def _crop(x: Tensor, pairs: list[tuple[int, int, int]]) -> Tensor:
    """x without the elements that negative pads remove."""
    index = [slice(None)] * x.ndim
    for d, before, after in pairs:
        if x.shape[d] + min(before, 0) + min(after, 0) < 0:
            raise ValueError(f"pad: pads ({before}, {after}) remove more than the {x.shape[d]} elements of dim {d}")
        index[d] = slice(max(-before, 0), x.shape[d] - max(-after, 0))
    return x if all(s == slice(None) or s == slice(0, x.shape[i]) for i, s in enumerate(index)) \
        else rules.getitem(x, index=tuple(index))


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad ``x``: ``pad`` is (before, after) for the last dim, then for the dim before it, and so on.

    'constant' fills with ``value`` (0 by default) and works on any dims; negative pads
    crop. 'reflect' (mirror without repeating the edge), 'replicate' (repeat the edge) and
    'circular' (wrap around) pad the last 1, 2 or 3 dims of an input with one or two
    more dims. Every mode is slices and concatenations, differentiable to any order.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> pad(Tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
        Tensor([[3., 2., 1., 2., 3., 2.]])
    """
    pairs = _pad_pairs(x, pad)
    if mode == "constant":
        x = _crop(x, pairs)
        if all(before <= 0 and after <= 0 for _, before, after in pairs):
            return x
        shape, index = list(x.shape), [slice(None)] * x.ndim
        for d, before, after in pairs:
            start = max(before, 0)
            shape[d], index[d] = x.shape[d] + start + max(after, 0), slice(start, start + x.shape[d])
        out = rules.scatter(x, index=tuple(index), shape=tuple(shape))
        if value is None or value == 0:
            return out
        fill = np.full(shape, value, dtype=x.dtype)
        fill[tuple(index)] = 0
        return out + x._wrap(fill)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value is not None:
        raise ValueError(f"pad: mode {mode!r} takes no value (got value={value!r}); only 'constant' does")
    if x.ndim not in (len(pairs) + 1, len(pairs) + 2):
        raise NotImplementedError(f"pad: mode {mode!r} with {len(pad)} pad values pads the last {len(pairs)} dims "
                                  f"of a {len(pairs) + 1}-d or {len(pairs) + 2}-d input, got shape {x.shape}")
    for d, before, after in pairs:
        size = x.shape[d]
        if mode == "circular":  # wraps around the cropped dim
            x = _crop(x, [(d, before, after)])
            size, before, after = x.shape[d], max(before, 0), max(after, 0)
        limit = size - 1 if mode == "reflect" else size if mode == "circular" else None
        if limit is not None and max(before, after) > limit:
            raise ValueError(f"pad: mode {mode!r} pads dim {d} of size {size} by at most {limit}, "
                             f"got ({before}, {after})")
        ahead = [slice(None)] * d
        pieces = [rules.getitem(x, index=(*ahead, wrap_index(mode, np.arange(-before, 0), size)))] if before > 0 else []
        middle = slice(max(-before, 0), size - max(-after, 0))
        pieces.append(x if middle == slice(0, size) else rules.getitem(x, index=(*ahead, middle)))
        if after > 0:
            pieces.append(rules.getitem(x, index=(*ahead, wrap_index(mode, np.arange(size, size + after), size))))
        x = pieces[0] if len(pieces) == 1 else rules.concatenate(*pieces, axis=d)
    return x


# ---- pooling ----------------------------------------------------------------------
def _pool_setup(op: str, x: Tensor, shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                ceil_mode: bool) -> tuple[Pair, Pair, Pair, Pair, list[tuple[int, int]]]:
    """Checked (kernel, stride, padding, dilation) pairs and each axis' (output length, extra padding)."""
    kernel = pair(kernel_size, "kernel_size", op)
    default = stride is None or (isinstance(stride, (tuple, list)) and not stride)
    steps = kernel if default else pair(stride, "stride", op)
    pads, dilations = pair(padding, "padding", op, minimum=0), pair(dilation, "dilation", op)
    axes = [pool_axis(op, x.shape[2 + a], kernel[a], steps[a], pads[a], dilations[a], ceil_mode, shape)
            for a in range(2)]
    return kernel, steps, pads, dilations, axes


def _padded(x: Tensor, pads: Pair, axes: list[tuple[int, int]], value: float) -> Tensor:
    (ph, pw), ((_, eh), (_, ew)) = pads, axes
    return x if ph == pw == eh == ew == 0 else pad(x, (pw, pw + ew, ph, ph + eh), value=value)


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Maximum over (dilated) kh x kw windows of ``x`` (N, C, H, W) or (C, H, W), ``stride`` apart
    (the kernel size when None); ``padding`` adds -inf on both sides, at most half the kernel.
    ``ceil_mode`` keeps a last partial window if it starts inside the input or its left padding.

    The gradient of each window goes to one element only: its maximum, and on ties the
    first maximum in row-major order within the window. ``return_indices`` also returns
    each maximum's flat index into H * W (int64).

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> max_pool2d(x, 2).numpy()[0, 0]
        array([[ 5.,  7.],
               [13., 15.]])
        >>> max_pool2d(x, 3, stride=2, ceil_mode=True, return_indices=True)[1].numpy()[0, 0]
        array([[10, 11],
               [14, 15]])
    """
    shape = x.shape
    x, unbatched = _one_image(x, "max_pool2d")
    kernel, steps, pads, dilations, axes = _pool_setup("max_pool2d", x, shape, kernel_size, stride, padding, dilation,
                                                       ceil_mode)
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _padded(x, pads, axes, low)
    window = {"kernel_size": kernel, "stride": steps, "dilation": dilations}
    if not return_indices:
        out = rules.max_pool2d(xp, **window)
        return out.reshape(*out.shape[1:]) if unbatched else out
    _, position = max_pool2d_forward(xp.data, **window)
    out = rules.window_gather(xp, position=position, **window)
    rows = np.arange(out.shape[2])[:, None] * steps[0] - pads[0] + position // kernel[1] * dilations[0]
    cols = np.arange(out.shape[3]) * steps[1] - pads[1] + position % kernel[1] * dilations[1]
    indices = x._wrap((rows * x.shape[3] + cols).astype(np.int64))
    if unbatched:
        return out.reshape(*out.shape[1:]), indices.reshape(*indices.shape[1:])
    return out, indices


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over kh x kw windows of ``x`` (N, C, H, W) or (C, H, W), ``stride`` apart (the kernel
    size when None), with zero ``padding`` (at most half the kernel) and ``ceil_mode`` as
    [`max_pool2d`][tinygrad_mnist.core.convolution.max_pool2d]. The divisor is the window's size within the padded input
    (``count_include_pad``), or its input cells only, or ``divisor_override``.

    One strided slice per window position, added up: its gradients of any order
    come from those of ``getitem`` and ``add``.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> avg_pool2d(x, 2).numpy()[0, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    shape = x.shape
    x, unbatched = _one_image(x, "avg_pool2d")
    (kh, kw), (sh, sw), pads, _, axes = _pool_setup("avg_pool2d", x, shape, kernel_size, stride, padding, 1, ceil_mode)
    (oh, _), (ow, _) = axes
    xp = _padded(x, pads, axes, 0.0)
    check_pool(xp.shape, (kh, kw), (sh, sw), op="avg_pool2d")
    total: Tensor | None = None
    for a in range(kh):
        for b in range(kw):
            view = xp[:, :, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw]
            total = view if total is None else total + view
    assert total is not None
    if divisor_override is not None:
        if not divisor_override:
            raise ValueError(f"avg_pool2d: divisor_override must not be zero, got {divisor_override!r}")
        out = total / float(divisor_override)
    else:
        counts = np.outer(window_counts(x.shape[2], kh, sh, pads[0], oh, count_include_pad),
                          window_counts(x.shape[3], kw, sw, pads[1], ow, count_include_pad))
        uniform = bool((counts == kh * kw).all())
        out = total * (1.0 / (kh * kw)) if uniform else total / x._wrap(counts.astype(x.dtype))
    return out.reshape(*out.shape[1:]) if unbatched else out


# ---- adaptive pooling -------------------------------------------------------------
def _adaptive_size(op: str, x: Tensor, output_size: Any) -> Pair:
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, (int, np.integer)) \
        else tuple(output_size)
    if len(sizes) != 2 or not all(s is None or (isinstance(s, (int, np.integer)) and s >= 1) for s in sizes):
        raise ValueError(f"{op}: output_size must be a positive int or a pair of them (None keeps that "
                         f"size), got {output_size!r}")
    return (x.shape[2] if sizes[0] is None else int(sizes[0]), x.shape[3] if sizes[1] is None else int(sizes[1]))


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    """Mean over the windows that cut H and W into ``output_size`` nearly equal, possibly overlapping parts.

    As two matrix products with averaging matrices (one per axis), so any order of
    gradients follows from ``matmul``.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> adaptive_avg_pool2d(Tensor(np.arange(5.0).reshape(1, 1, 1, 5)), (1, 2)).numpy()[0, 0]
        array([[1., 3.]])
    """
    x, unbatched = _one_image(x, "adaptive_avg_pool2d")
    out = x
    for axis, length in zip((2, 3), _adaptive_size("adaptive_avg_pool2d", x, output_size), strict=True):
        size = x.shape[axis]
        if length == size:
            continue
        starts, ends = adaptive_windows(size, length)
        cells = np.arange(size)
        inside = (cells >= starts[:, None]) & (cells < ends[:, None])
        weights = x._wrap((inside / (ends - starts)[:, None]).astype(x.dtype))  # (length, size)
        out = weights @ out if axis == 2 else out @ weights.T
    return out.reshape(*out.shape[1:]) if unbatched else out


def adaptive_max_pool2d(x: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Maximum over the windows of [`adaptive_avg_pool2d`][tinygrad_mnist.core.convolution.adaptive_avg_pool2d]; the
    gradient goes to each window's first
    maximum, and ``return_indices`` also gives its flat index into H * W (int64).

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> adaptive_max_pool2d(Tensor(np.arange(5.0).reshape(1, 1, 1, 5)), (1, 2)).numpy()[0, 0]
        array([[2., 4.]])
    """
    x, unbatched = _one_image(x, "adaptive_max_pool2d")
    (oh, ow), (n, c, h, w) = _adaptive_size("adaptive_max_pool2d", x, output_size), x.shape
    (top, bottom), (left, right) = adaptive_windows(h, oh), adaptive_windows(w, ow)
    indices = np.empty((n, c, oh, ow), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            cells = x.data[:, :, top[i]:bottom[i], left[j]:right[j]]
            first = cells.reshape(n, c, -1).argmax(axis=2)  # the first maximum
            width = right[j] - left[j]
            indices[:, :, i, j] = (top[i] + first // width) * w + left[j] + first % width
    flat = x.reshape(n, c, h * w)
    out = rules.getitem(flat, index=(np.arange(n)[:, None, None], np.arange(c)[None, :, None],
                                     indices.reshape(n, c, -1))).reshape(n, c, oh, ow)
    result = [out, x._wrap(indices)]
    if unbatched:
        result = [t.reshape(*t.shape[1:]) for t in result]
    return tuple(result) if return_indices else result[0]
