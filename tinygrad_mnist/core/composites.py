"""Composite operations: differentiable functions written in the primitives of the rule table.

This is the one place composites are written. ``Tensor`` methods (``x.mean()``,
``x.softmax()``, ...) and [`tinygrad_mnist.nn.functional`][tinygrad_mnist.nn.functional] (``F.leaky_relu``,
``F.dropout``, ...) both call these functions; the image layers (convolution,
padding, pooling) are in [`tinygrad_mnist.core.convolution`][tinygrad_mnist.core.convolution]. Nothing here
has a hand-written gradient: every function is a chain of primitives (whose
VJPs are in Tensor operations), so gradients of any order follow.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> mean(x, axes=(1,), keepdims=False)
    Tensor([1.5, 3.5], grad_fn=mul)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import random
from . import rules

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor

Axes = tuple[int, ...]


def sum_to_size(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``x`` over the axes that broadcasting added or stretched, giving ``shape``.

    This undoes broadcasting for gradients: the walk calls it on every gradient
    shaped unlike its input.

    Examples:
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
    """The sum over ``axes`` divided by the count; over no elements it is nan (0 / 0), as in PyTorch.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> mean(Tensor(np.zeros((2, 0), dtype=np.float32)), (1,), False)
        Tensor([nan, nan])
    """
    count = int(np.prod([x.shape[a] for a in axes]))
    total = rules.reduce_sum(x, axis=axes, keepdims=keepdims)
    return total * (1.0 / count) if count else total * np.nan  # the empty sum is 0, so no 0 * inf warning


def amin(x: Tensor, axes: Axes, keepdims: bool) -> Tensor:
    return -rules.reduce_max(-x, axis=axes, keepdims=keepdims)


def logsumexp(x: Tensor, axes: Axes, keepdims: bool) -> Tensor:
    """log(sum(exp(x))), shifted by the (constant) maximum so it never overflows.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> round(logsumexp(Tensor(np.array([1e4, 1e4])), (0,), False).item() - 1e4, 6)  # log(2)
        0.693147
    """
    if 0 in x.shape:  # log(0) = -inf over a size-0 axis, as in PyTorch (and no maximum to shift by)
        return rules.reduce_sum(x, axis=axes, keepdims=keepdims) + float("-inf")
    peak = np.max(x.data, axis=axes, keepdims=True)
    shift = x._wrap(np.where(np.isfinite(peak), peak, 0).astype(x.dtype))  # all -inf rows: -inf result
    total = rules.log(rules.reduce_sum(rules.exp(x - shift), axis=axes, keepdims=True)) + shift
    return total if keepdims else total.reshape(tuple(n for i, n in enumerate(total.shape) if i not in axes))


def log_softmax(x: Tensor, axis: int) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, stable for any magnitude (one fused primitive)."""
    if x.ndim == 0 or 0 in x.shape:
        return x - x  # a single class: log(1) = 0; an empty input: an empty output, as in PyTorch
    return rules.log_softmax(x, axis=axis)


def softmax(x: Tensor, axis: int) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the maximum; an empty input gives an empty output.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> softmax(Tensor(np.zeros((2, 0))), 1).shape
        (2, 0)
    """
    if 0 in x.shape:  # no maximum to shift by: the (empty) result has the input's shape, as in PyTorch
        return x - x
    shifted = rules.exp(x - np.max(x.data, axis=axis, keepdims=True))
    return shifted / rules.reduce_sum(shifted, axis=(axis,), keepdims=True)


# ---- layers -----------------------------------------------------------------------
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``, weight shaped (out_features, in_features)."""
    if bias is None:
        return x @ weight.T
    return rules.linear(x, weight, bias)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted dropout);
    ``p=1`` zeroes everything, as in PyTorch."""
    check_dropout_probability("dropout", p)
    return masked_dropout(x, p, training, inplace, x.shape)


def check_dropout_probability(op: str, p: float) -> None:
    """``p`` must lie in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p!r}")


def masked_dropout(x: Tensor, p: float, training: bool, inplace: bool, mask_shape: Sequence[int]) -> Tensor:
    """``x`` times a random keep-mask of ``mask_shape`` (broadcast over ``x``) scaled by 1/(1-p)."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        scale = np.zeros(tuple(mask_shape), dtype=x.dtype)
    else:
        keep = random.generator().random(tuple(mask_shape)) >= p
        scale = keep * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x.mul_(scale) if inplace else x * scale
