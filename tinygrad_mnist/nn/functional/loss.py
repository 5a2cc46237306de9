"""Losses as functions, written in Tensor operations (no hand-written gradient, so gradients of any
order follow). Each takes PyTorch's arguments, ``reduction`` included.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> logits = Tensor([[2.0, 0.0, -2.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, np.array([0]))
    >>> loss.backward()
    >>> np.allclose(logits.grad.data, logits.softmax(1).data - [1, 0, 0])   # dZ = A - Y
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...core.tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "kl_div", "l1_loss",
           "l2_penalty", "mse_loss", "nll_loss", "smooth_l1_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _check_reduction(fn: str, reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{fn}: reduction must be one of {allowed}, got {reduction!r}")


def _as_tensor(fn: str, name: str, value: Any, like: Tensor) -> Tensor:
    """``value`` as a Tensor (numbers, lists and arrays take ``like``'s dtype)."""
    if isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value, dtype=like.dtype))


def _same_shape(fn: str, name: str, value: Tensor, input: Tensor) -> None:
    if value.shape != input.shape:
        raise ValueError(f"{fn}: {name} has shape {value.shape}, expected the input's shape {input.shape}")


def _class_shape(fn: str, x: Tensor) -> tuple[int, ...]:
    """The target shape that class indices must have for input ``x`` (the class dimension dropped)."""
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must have shape (classes,), (batch, classes) or (batch, classes, d1, ...), "
                         f"got {x.shape}")
    return () if x.ndim == 1 else (x.shape[0], *x.shape[2:])


def _class_weight(fn: str, weight: Any, classes: int, like: Tensor) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=like.dtype)
    if w.shape != (classes,):
        raise ValueError(f"{fn}: weight has shape {w.shape}, expected ({classes},), one per class")
    return w


def _class_indices(fn: str, target: Any, shape: tuple[int, ...], classes: int,
                   ignore_index: int) -> tuple[np.ndarray, bool]:
    """The validated class indices and whether any of them is ``ignore_index``."""
    labels = np.asanyarray(target.data if isinstance(target, Tensor) else target)  # keeps vmap's batch mark
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices (or, for cross_entropy, float "
                        f"probabilities of the input's shape), got dtype {labels.dtype} and shape {labels.shape}")
    if labels.shape != shape:
        raise ValueError(f"{fn}: target has shape {labels.shape}, expected {shape} to match the input "
                         "(classes,), (batch, classes) or (batch, classes, d1, ...)")
    if not labels.size:
        return labels, False
    low, high = labels.min(), labels.max()
    ignored = bool(low <= ignore_index <= high and (labels == ignore_index).any())
    if ignored:
        counted = labels[labels != ignore_index]
        low, high = (counted.min(), counted.max()) if counted.size else (0, 0)
    if low < 0 or high >= classes:
        raise ValueError(
            f"{fn}: target values must be in [0, {classes - 1}] (or ignore_index {ignore_index}), "
            f"got min {low} and max {high}"
        )
    return labels, ignored


def _class_nll(fn: str, log_probs: Tensor, target: Any, weight: Any, ignore_index: int, reduction: str,
               smoothing: float) -> Tensor:
    """``-sum_c q_c log p_c`` per position for class-index targets, with ``q`` built as a constant.

    ``q`` puts ``w[y] * (1 - s)`` on the target class and ``w[c] * s / C`` on every class
    (none on ignored positions); the mean divides by the summed ``w[y]`` of the counted
    positions. The sign and divisor ride on ``q`` (fewer graph nodes). Classes with
    ``q = 0`` are masked before multiplying, so a log-probability of -inf there gives 0.
    """
    shape = _class_shape(fn, log_probs)
    classes = log_probs.shape[0 if log_probs.ndim == 1 else 1]
    w = _class_weight(fn, weight, classes, log_probs)
    labels, ignored = _class_indices(fn, target, shape, classes, ignore_index)
    if log_probs.ndim == 2 and w is None and not ignored:
        return _weighted_nll(log_probs, labels, smoothing, reduction)   # the common case, kept lean
    dim = 0 if log_probs.ndim == 1 else 1
    counted = labels != ignore_index
    safe = np.where(counted, labels, 0)
    picked = np.ones(labels.shape, dtype=log_probs.dtype) if w is None else w[safe]
    picked = np.where(counted, picked, 0).astype(log_probs.dtype, copy=False)
    q = np.zeros(log_probs.shape, dtype=log_probs.dtype)
    if smoothing:
        per_class = np.full(classes, smoothing / classes, dtype=log_probs.dtype)
        if w is not None:
            per_class = per_class * w
        q += np.expand_dims(counted, dim) * per_class.reshape((classes,) + (1,) * (log_probs.ndim - dim - 1))
    index = np.expand_dims(safe, dim)
    np.put_along_axis(q, index, np.take_along_axis(q, index, dim) + np.expand_dims(picked * (1 - smoothing), dim), dim)
    if reduction == "mean":
        total = picked.sum()
        q *= -1.0 / total if total else np.nan
    else:
        q *= -1.0
    terms = log_probs.where(q != 0, 0.0) * q
    if reduction == "mean" and not labels.size:
        return terms.sum() * np.nan  # the mean over no positions is 0 / 0, as in PyTorch
    return terms.sum(dim=dim) if reduction == "none" else terms.sum()


def _weighted_nll(log_probs: Tensor, labels: np.ndarray, smoothing: float, reduction: str) -> Tensor:
    """``_class_nll`` for (batch, classes) input, no class weights and no ignored targets."""
    n, k = log_probs.shape
    scale = (-1.0 / n if n else np.nan) if reduction == "mean" else -1.0
    hit = labels[:, None] == np.arange(k)  # one broadcast compare: works on vmap's batched labels too
    exact = log_probs.dtype.type  # q in the input's dtype from the start: no float64 array to cast
    q = np.where(hit, exact((1 - smoothing + smoothing / k) * scale), exact(smoothing / k * scale))
    # q is 0 off the target only without smoothing, and only a log-probability that is not finite there
    # (-inf, nan) needs masking: finite ones times 0 add nothing, which spares a node each way
    masked = smoothing == 0 and not (type(log_probs.data) is np.ndarray and np.isfinite(log_probs.data).all())
    terms = (log_probs.where(q != 0, 0.0) if masked else log_probs) * q
    if reduction == "mean" and not n:
        return terms.sum() * np.nan  # the mean over an empty batch is 0 / 0, as in PyTorch
    return terms.sum(dim=1) if reduction == "none" else terms.sum()


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the target classes, given log-probabilities (batch, classes, d1, ...).

    ``weight`` scales each class; the mean divides by the summed weights of the counted
    targets, and targets equal to ``ignore_index`` count nowhere.

    Examples:
        >>> nll_loss(Tensor([[-1.0, -2.0], [-3.0, -4.0]]), np.array([0, 1]), weight=[1.0, 3.0]).item()
        3.25
    """
    _check_reduction("nll_loss", reduction)
    return _class_nll("nll_loss", input, target, weight, ignore_index, reduction, 0.0)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (batch, classes, d1, ...) against class indices or probabilities.

    Integer targets are class indices (see [`nll_loss`][tinygrad_mnist.nn.functional.loss.nll_loss] for ``weight`` and
    ``ignore_index``); a float target of the input's shape holds class probabilities
    (the mean then divides by the number of positions). With ``label_smoothing`` = s the
    target becomes ``(1 - s) * target + s / classes``. Stable for logits of any magnitude.

    Examples:
        >>> round(cross_entropy(Tensor([[0.0, 0.0]]), Tensor([[0.5, 0.5]])).item(), 6)
        0.693147
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    dim = 0 if input.ndim == 1 else 1
    _class_shape("cross_entropy", input)
    log_probs = input.log_softmax(dim=dim)
    target_array = target.data if isinstance(target, Tensor) else np.asanyarray(target)
    if target_array.dtype.kind != "f" or target_array.shape != input.shape:
        return _class_nll("cross_entropy", log_probs, target, weight, ignore_index, reduction, label_smoothing)
    probs = _as_tensor("cross_entropy", "target", target, input)
    if label_smoothing:
        probs = probs * (1 - label_smoothing) + label_smoothing / input.shape[dim]
    w = _class_weight("cross_entropy", weight, input.shape[dim], input)
    if w is not None:
        probs = probs * Tensor(w.reshape((-1,) + (1,) * (input.ndim - dim - 1)))
    losses = -(log_probs * probs).sum(dim=dim)
    return _reduce(losses, reduction)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error between ``input`` and ``target`` of the same shape.

    Examples:
        >>> mse_loss(Tensor([1.0, 2.0]), [0.0, 0.0]).item()
        2.5
    """
    _check_reduction("mse_loss", reduction)
    t = _as_tensor("mse_loss", "target", target, input)
    _same_shape("mse_loss", "target", t, input)
    diff = input - t
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error between ``input`` and ``target`` of the same shape.

    Examples:
        >>> l1_loss(Tensor([1.0, -3.0]), [0.0, 0.0]).item()
        2.0
    """
    _check_reduction("l1_loss", reduction)
    t = _as_tensor("l1_loss", "target", target, input)
    _same_shape("l1_loss", "target", t, input)
    return _reduce((input - t).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``).

    Examples:
        >>> smooth_l1_loss(Tensor([0.5, 3.0]), [0.0, 0.0], reduction="none").tolist()
        [0.125, 2.5]
    """
    _check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    t = _as_tensor("smooth_l1_loss", "target", target, input)
    _same_shape("smooth_l1_loss", "target", t, input)
    d = (input - t).abs()
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce((d * d * (0.5 / beta)).where(d < beta, d - 0.5 * beta), reduction)


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """``-(t log x + (1 - t) log(1 - x))`` for probabilities ``x`` in [0, 1] (each log clamped at -100).

    Examples:
        >>> round(binary_cross_entropy(Tensor([0.5]), [1.0]).item(), 6)
        0.693147
    """
    _check_reduction("binary_cross_entropy", reduction)
    t = _as_tensor("binary_cross_entropy", "target", target, input)
    _same_shape("binary_cross_entropy", "target", t, input)
    if input.numel() and (input.data.min() < 0 or input.data.max() > 1):
        raise ValueError(f"binary_cross_entropy: input must hold probabilities in [0, 1], "
                         f"got min {input.data.min()} and max {input.data.max()}")
    tiny = math.exp(-100.0)   # log(max(p, e**-100)) = max(log p, -100), without log(0) on the way
    losses = -(t * input.clamp(min=tiny).log() + (1 - t) * (1 - input).clamp(min=tiny).log())
    if weight is not None:
        losses = losses * _as_tensor("binary_cross_entropy", "weight", weight, input)
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """[`binary_cross_entropy`][tinygrad_mnist.nn.functional.loss.binary_cross_entropy] of ``sigmoid(input)``, computed
    stably from the logits.

    ``pos_weight`` scales the positive term (broadcast along the last dimension, the classes).

    Examples:
        >>> round(binary_cross_entropy_with_logits(Tensor([0.0]), [1.0]).item(), 6)
        0.693147
    """
    fn = "binary_cross_entropy_with_logits"
    _check_reduction(fn, reduction)
    t = _as_tensor(fn, "target", target, input)
    _same_shape(fn, "target", t, input)
    # log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)), finite for any x; |x| and max are written
    # with where so that the slope at x = 0 is the true -1/2 (not a kink's subgradient)
    magnitude = input.where(input >= 0, -input)
    softplus_neg = (-magnitude).exp().log1p() + (-input).where(input < 0, 0.0)
    if pos_weight is None:
        losses = (1 - t) * input + softplus_neg
    else:
        pw = _as_tensor(fn, "pos_weight", pos_weight, input)
        losses = (1 - t) * input + (1 + (pw - 1) * t) * softplus_neg
    if weight is not None:
        losses = losses * _as_tensor(fn, "weight", weight, input)
    return _reduce(losses, reduction)


def kl_div(input: Tensor, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence ``t (log t - input)`` with ``input`` given as log-probabilities.

    With ``log_target`` the target is given as log-probabilities too; ``"batchmean"``
    divides the sum by the batch size (the first dimension), the true KL per sample.

    Examples:
        >>> kl_div(Tensor([[0.0, -1.0]]), Tensor([[1.0, 0.0]]), reduction="batchmean").item()
        0.0
    """
    _check_reduction("kl_div", reduction, (*_REDUCTIONS, "batchmean"))
    t = _as_tensor("kl_div", "target", target, input)
    if log_target:
        losses = t.exp() * (t - input)
    else:
        nonzero = t != 0   # 0 log 0 = 0; a negative target gives nan, as log does
        losses = (t * (t.where(nonzero, 1.0).log() - input)).where(nonzero, 0.0)
    if reduction == "batchmean":
        return losses.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(losses, reduction)


def l2_penalty(weights: Iterable[Tensor], lam: float) -> Tensor:
    """``0.5 * lam * sum(W ** 2)`` over the given tensors (the classic weight-decay term)."""
    total: Tensor | None = None
    for w in weights:
        term = (w * w).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("l2_penalty: no weights given")
    return total * (0.5 * lam)
