"""Activations, layers and losses as functions (import as ``F``), written in Tensor operations.

The activations and layer functions are the composites of
:mod:`tinygrad_mnist.core.composites` (the one place they are written, shared
with the ``Tensor`` methods); the losses below are built on Tensor methods.
Nothing here has a hand-written gradient, so gradients of any order follow.

>>> import numpy as np
>>> from tinygrad_mnist import Tensor
>>> logits = Tensor([[2.0, 0.0, -2.0]], requires_grad=True)
>>> loss = cross_entropy(logits, np.array([0]))
>>> loss.backward()
>>> np.allclose(logits.grad.data, softmax(logits).data - [1, 0, 0])   # dZ = A - Y
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..core.composites import avg_pool2d, conv2d, dropout, leaky_relu, linear, max_pool2d
from ..core.reductions import implicit_softmax_dim
from ..core.tensor import Tensor

__all__ = ["avg_pool2d", "conv2d", "cross_entropy", "dropout", "l2_penalty", "leaky_relu", "linear", "log_softmax",
           "max_pool2d", "mse_loss", "nll_loss", "relu", "sigmoid", "softmax", "tanh"]

_REDUCTIONS = ("mean", "sum", "none")


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``axis`` is an alias; without either, PyTorch's
    implicit choice: 0 for 0-, 1- and 3-d inputs, else 1)."""
    if dim is None and axis is None:
        dim = implicit_softmax_dim(x.ndim)
    return x.softmax(dim, axis=axis, dtype=dtype)


def log_softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably (same ``dim`` rules as :func:`softmax`)."""
    if dim is None and axis is None:
        dim = implicit_softmax_dim(x.ndim)
    return x.log_softmax(dim, axis=axis, dtype=dtype)


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
    terms = log_probs.where(target_probs != 0, 0.0) * weights
    return terms.sum(dim=1) if reduction == "none" else terms.sum()


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
    return _weighted_nll(logits.log_softmax(dim=1), q, reduction)


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
