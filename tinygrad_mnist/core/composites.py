"""Composite operations: differentiable functions written in the primitives of the rule table.

This is the one place composites are written. ``Tensor`` methods (``x.mean()``,
``x.softmax()``, ...) and :mod:`tinygrad_mnist.nn.functional` (``F.leaky_relu``,
``F.conv2d``, ``F.avg_pool2d``, ...) both call these functions. Nothing here
has a hand-written gradient: every function is a chain of primitives (whose
VJPs are in Tensor operations), so gradients of any order follow.

>>> from tinygrad_mnist import Tensor
>>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> mean(x, axes=(1,), keepdims=False)
Tensor([1.5, 3.5], grad_fn=mul)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import random
from . import rules
from .kernels import check_pool

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor

Axes = tuple[int, ...]


def sum_to_size(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``x`` over the axes that broadcasting added or stretched, giving ``shape``.

    This undoes broadcasting for gradients: the walk calls it on every gradient
    shaped unlike its input.

    >>> from tinygrad_mnist import Tensor
    >>> sum_to_size(Tensor(np.ones((2, 3, 4))), (3, 1)).shape
    (3, 1)
    """
    shape = tuple(shape)
    if x.data.shape == shape:
        return x
    if x.data.shape[1:] == shape:  # one leading batch axis: the bias of a layer
        return rules.reduce_sum(x, axis=(0,), keepdims=False)
    lead = x.data.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, x.shape[lead:], strict=True)):
        raise ValueError(f"sum_to_size: a tensor of shape {x.shape} cannot be summed to shape {shape}")
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    summed = rules.reduce_sum(x, axis=axes, keepdims=lead == 0)
    return summed if summed.shape == shape else rules.reshape(summed, shape=shape)


# ---- elementwise ------------------------------------------------------------------
def sqrt(x: Tensor) -> Tensor:
    return x ** 0.5


def absolute(x: Tensor) -> Tensor:
    """|x| as x times its sign; the gradient at 0 is 0, as in PyTorch."""
    return x * np.sign(x.data)


def minimum(x: Tensor, other: Tensor) -> Tensor:
    return -rules.maximum(-x, -other)


def clip(x: Tensor, low: float | None, high: float | None) -> Tensor:
    """Limit values to [low, high]; the gradient passes where the value was inside."""
    clipped = np.clip(x.data, low, high)
    return rules.where(x, x._wrap(clipped), cond=clipped == x.data)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, ``negative_slope * x`` elsewhere."""
    return rules.where(x, x * negative_slope, cond=x.data > 0)


# ---- reductions -------------------------------------------------------------------
def mean(x: Tensor, axes: Axes, keepdims: bool) -> Tensor:
    count = int(np.prod([x.shape[a] for a in axes]))
    return rules.reduce_sum(x, axis=axes, keepdims=keepdims) * (1.0 / max(count, 1))


def amin(x: Tensor, axes: Axes, keepdims: bool) -> Tensor:
    return -rules.reduce_max(-x, axis=axes, keepdims=keepdims)


def logsumexp(x: Tensor, axes: Axes, keepdims: bool) -> Tensor:
    """log(sum(exp(x))), shifted by the (constant) maximum so it never overflows.

    >>> from tinygrad_mnist import Tensor
    >>> round(logsumexp(Tensor(np.array([1e4, 1e4])), (0,), False).item() - 1e4, 6)  # log(2)
    0.693147
    """
    peak = np.max(x.data, axis=axes, keepdims=True)
    shift = x._wrap(np.where(np.isfinite(peak), peak, 0).astype(x.dtype))  # all -inf rows: -inf result
    total = rules.log(rules.reduce_sum(rules.exp(x - shift), axis=axes, keepdims=True)) + shift
    return total if keepdims else total.reshape(tuple(n for i, n in enumerate(total.shape) if i not in axes))


def log_softmax(x: Tensor, axis: int) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, stable for any magnitude (one fused primitive)."""
    if x.ndim == 0:
        return x - x  # a single class: log(1) = 0
    return rules.log_softmax(x, axis=axis)


def softmax(x: Tensor, axis: int) -> Tensor:
    shifted = rules.exp(x - np.max(x.data, axis=axis, keepdims=True))
    return shifted / rules.reduce_sum(shifted, axis=(axis,), keepdims=True)


# ---- layers -----------------------------------------------------------------------
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``, weight shaped (out_features, in_features)."""
    if bias is None:
        return x @ weight.T
    return rules.linear(x, weight, bias)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    keep = random.generator().random(x.shape) >= p
    return x * (keep * np.asarray(1.0 / (1.0 - p), dtype=x.dtype))


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1, padding: int = 0) -> Tensor:
    """2-d cross-correlation of ``x`` (N, C, H, W) with ``weight`` (O, C, kh, kw), plus ``bias`` (O,).

    ``padding`` zeros are added on every side of H and W; the output is
    (N, O, (H + 2 padding - kh) // stride + 1, (W + 2 padding - kw) // stride + 1).

    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> conv2d(x, Tensor(np.ones((1, 1, 2, 2))), stride=2).numpy()[0, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    out = rules.conv2d(x, weight, stride=stride, padding=padding)
    if bias is None:
        return out
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), one per output channel, got {bias.shape}")
    return out + bias.reshape(1, -1, 1, 1)


def max_pool2d(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """Maximum over ``kernel_size`` x ``kernel_size`` windows of ``x`` (N, C, H, W), ``stride`` apart
    (``kernel_size`` when None: non-overlapping windows; no padding, the remainder is dropped).

    The gradient of each window goes to one element only: its maximum, and on ties the
    first maximum in row-major order within the window (top row first, then left to right).

    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> max_pool2d(x, 2).numpy()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return rules.max_pool2d(x, kernel_size=kernel_size, stride=kernel_size if stride is None else stride)


def avg_pool2d(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """Mean over ``kernel_size`` x ``kernel_size`` windows of ``x`` (N, C, H, W), ``stride`` apart
    (``kernel_size`` when None; no padding, the remainder is dropped).

    One strided slice per window position, added up: its gradients of any order
    come from those of ``getitem`` and ``add``.

    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> avg_pool2d(x, 2).numpy()[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    stride = kernel_size if stride is None else stride
    oh, ow = check_pool(x.shape, kernel_size, stride, op="avg_pool2d")
    total: Tensor | None = None
    for a in range(kernel_size):
        for b in range(kernel_size):
            view = x[:, :, a:a + stride * (oh - 1) + 1:stride, b:b + stride * (ow - 1) + 1:stride]
            total = view if total is None else total + view
    assert total is not None
    return total * (1.0 / (kernel_size * kernel_size))
