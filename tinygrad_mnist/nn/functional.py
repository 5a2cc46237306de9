"""Activations and losses written in the engine's primitives (import as ``F``).

Nothing here has a hand-written gradient: every function calls primitives from
:mod:`tinygrad_mnist.ops` (whose VJPs are in Tensor ops), so gradients of any order follow.

>>> import numpy as np
>>> from tinygrad_mnist import Tensor
>>> logits = Tensor([[2.0, 0.0, -2.0]], requires_grad=True)
>>> loss = cross_entropy(logits, np.array([0]))
>>> loss.backward()
>>> np.allclose(logits.grad.data, softmax(logits).data - [1, 0, 0])   # dZ = A - Y
True
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .. import ops
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def relu(x: Tensor) -> Tensor:
    return ops.relu(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, ``negative_slope * x`` elsewhere."""
    return ops.where(x, x * negative_slope, cond=x.data > 0)


def sigmoid(x: Tensor) -> Tensor:
    return ops.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return ops.tanh(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.log_softmax(axis)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``, weight shaped (out_features, in_features)."""
    if bias is None:
        return x @ weight.T
    return ops.linear(x, weight, bias)


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _check_reduction(fn: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_indices(fn: str, target: Any, batch: int, classes: int) -> np.ndarray:
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices, got dtype {labels.dtype}")
    if labels.shape != (batch,):
        raise ValueError(f"{fn}: target has shape {labels.shape}, expected ({batch},) to match the input")
    if batch and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"{fn}: target values must be in [0, {classes - 1}], got min {labels.min()} and max {labels.max()}"
        )
    return labels


def _check_2d(fn: str, x: Tensor) -> None:
    if x.ndim != 2:
        raise ValueError(f"{fn}: input must have shape (batch, classes), got {x.shape}")


def nll_loss(log_probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the target classes, given log-probabilities (batch, classes)."""
    _check_2d("nll_loss", log_probs)
    _check_reduction("nll_loss", reduction)
    n, k = log_probs.shape
    labels = _class_indices("nll_loss", target, n, k)
    one_hot = np.zeros((n, k), dtype=log_probs.dtype)
    one_hot[np.arange(n), labels] = 1
    return _weighted_nll(log_probs, one_hot, reduction)


def _weighted_nll(log_probs: Tensor, target_probs: np.ndarray, reduction: str) -> Tensor:
    """``-sum(q * log p)`` per row, reduced; the sign and 1/N ride on the constant q (fewer graph nodes).

    Classes with q = 0 are masked out before multiplying, so a log-probability of
    -inf there (a masked logit) gives 0, not ``0 * -inf = nan``.
    """
    scale = -1.0 / len(target_probs) if reduction == "mean" and len(target_probs) else -1.0
    weights = target_probs * scale
    terms = ops.where(log_probs, _zero_like(log_probs), cond=target_probs != 0) * weights
    return terms.sum(axis=1) if reduction == "none" else terms.sum()


def _zero_like(x: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros((), dtype=x.dtype))


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (batch, classes) against integer class indices.

    With ``label_smoothing`` = s the target distribution is ``(1 - s) * one_hot + s / classes``.
    Stable for logits of any magnitude (log_softmax shifts by the row maximum).
    """
    _check_2d("cross_entropy", logits)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    n, k = logits.shape
    labels = _class_indices("cross_entropy", target, n, k)
    q = np.full((n, k), label_smoothing / k, dtype=logits.dtype)
    q[np.arange(n), labels] += 1 - label_smoothing
    return _weighted_nll(logits.log_softmax(axis=1), q, reduction)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error between ``input`` and ``target`` of the same shape."""
    _check_reduction("mse_loss", reduction)
    target_t = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=input.dtype))
    if target_t.shape != input.shape:
        raise ValueError(f"mse_loss: target has shape {target_t.shape}, expected the input's shape {input.shape}")
    diff = input - target_t
    return _reduce(diff * diff, reduction)


def l2_penalty(weights: Iterable[Tensor], lam: float) -> Tensor:
    """``0.5 * lam * sum(W ** 2)`` over the given tensors (the classic weight-decay term)."""
    total: Tensor | None = None
    for w in weights:
        term = (w * w).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("l2_penalty: no weights given")
    return total * (0.5 * lam)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    from .. import random

    keep = random.generator().random(x.shape) >= p
    return x * (keep * np.asarray(1.0 / (1.0 - p), dtype=x.dtype))


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1, padding: int = 0) -> Tensor:
    """2-d cross-correlation of ``x`` (N, C, H, W) with ``weight`` (O, C, kh, kw), plus ``bias`` (O,).

    ``padding`` zeros are added on every side of H and W; the output is
    (N, O, (H + 2 padding - kh) // stride + 1, (W + 2 padding - kw) // stride + 1).

    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> conv2d(x, Tensor(np.ones((1, 1, 2, 2))), stride=2).numpy()[0, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    out = ops.conv2d(x, weight, stride=stride, padding=padding)
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

    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> max_pool2d(x, 2).numpy()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return ops.max_pool2d(x, kernel_size=kernel_size, stride=kernel_size if stride is None else stride)


def avg_pool2d(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """Mean over ``kernel_size`` x ``kernel_size`` windows of ``x`` (N, C, H, W), ``stride`` apart
    (``kernel_size`` when None; no padding, the remainder is dropped).

    Written in primitives (one strided slice per window position, added up), so
    its gradients of any order come from theirs.

    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> avg_pool2d(x, 2).numpy()[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    from ..conv import check_pool

    stride = kernel_size if stride is None else stride
    oh, ow = check_pool(x.shape, kernel_size, stride, op="avg_pool2d")
    total: Tensor | None = None
    for a in range(kernel_size):
        for b in range(kernel_size):
            view = x[:, :, a:a + stride * (oh - 1) + 1:stride, b:b + stride * (ow - 1) + 1:stride]
            total = view if total is None else total + view
    assert total is not None
    return total * (1.0 / (kernel_size * kernel_size))
