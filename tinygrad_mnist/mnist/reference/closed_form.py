"""Backpropagation for an MLP written out by hand: the closed-form equations, in numpy only.

This module is an oracle for the engine: it shares no code with it (no Tensor,
no VJP table). It follows the column-major notation of the classic from-scratch
MNIST write-ups, one column per sample: ``X`` is (features, m), ``W[l]`` is
(n_l, n_{l-1}) and ``b[l]`` is (n_l, 1). With g the hidden activation and
softmax at the output, for layers l = 1..L::

    forward                         backward
    Z[l] = W[l] A[l-1] + b[l]       dZ[L] = A[L] - Y                (softmax + cross-entropy)
    A[l] = g(Z[l])     (l < L)      dW[l] = 1/m dZ[l] A[l-1]^T + lam W[l]
    A[L] = softmax(Z[L])            db[l] = 1/m sum over columns of dZ[l]
    A[0] = X                        dZ[l-1] = W[l]^T dZ[l] * g'(Z[l-1])

with ``Y`` the one-hot targets (classes, m) and the loss
``J = -1/m sum(Y * log A[L]) + lam/2 sum_l sum(W[l]**2)`` (the L2 term of the
cs231n-style write-up; biases are not penalised).

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> W = [rng.normal(size=(4, 3)), rng.normal(size=(2, 4))]
    >>> b = [np.zeros((4, 1)), np.zeros((2, 1))]
    >>> X, labels = rng.normal(size=(3, 5)), np.array([0, 1, 1, 0, 1])
    >>> grads = backward(W, b, X, labels)
    >>> [g.shape for g in grads.dW], [g.shape for g in grads.db]
    ([(4, 3), (2, 4)], [(4, 1), (2, 1)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")


def activation(name: str, Z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """g(Z) for the hidden layers."""
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, negative_slope * Z)
    if name == "sigmoid":
        return 0.5 * (1 + np.tanh(0.5 * Z))  # = 1 / (1 + exp(-Z)), without overflow
    if name == "tanh":
        return np.tanh(Z)
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


def activation_derivative(name: str, Z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """g'(Z), elementwise (relu and leaky relu take the derivative 'slope' at exactly 0)."""
    if name == "relu":
        return (Z > 0).astype(Z.dtype)
    if name == "leaky_relu":
        return np.where(Z > 0, 1.0, negative_slope).astype(Z.dtype)
    if name == "sigmoid":
        s = activation("sigmoid", Z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(Z) ** 2
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


def softmax_columns(Z: np.ndarray) -> np.ndarray:
    """Softmax of each column, shifted by the column maximum."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Y with Y[k, i] = 1 where labels[i] == k: (classes, m)."""
    Y = np.zeros((classes, len(labels)))
    Y[labels, np.arange(len(labels))] = 1
    return Y


@dataclass
class Forward:
    """Every Z[l] and A[l] (A[0] = X), kept for the backward pass."""

    Z: list[np.ndarray]
    A: list[np.ndarray]


@dataclass
class Gradients:
    loss: float
    dW: list[np.ndarray]
    db: list[np.ndarray]


def forward(W: Sequence[np.ndarray], b: Sequence[np.ndarray], X: np.ndarray, act: str = "relu",
            negative_slope: float = 0.01) -> Forward:
    """Z[l] = W[l] A[l-1] + b[l]; A[l] = g(Z[l]) for hidden layers, softmax at the output."""
    _check(W, b, X)
    Z: list[np.ndarray] = []
    A = [X]
    for l, (W_l, b_l) in enumerate(zip(W, b, strict=True), start=1):
        Z.append(W_l @ A[-1] + b_l.reshape(-1, 1))
        A.append(softmax_columns(Z[-1]) if l == len(W) else activation(act, Z[-1], negative_slope))
    return Forward(Z, A)


def backward(W: Sequence[np.ndarray], b: Sequence[np.ndarray], X: np.ndarray, labels: np.ndarray,
             act: str = "relu", negative_slope: float = 0.01, l2: float = 0.0) -> Gradients:
    """The loss and dJ/dW[l], dJ/db[l] for every layer, by the equations above."""
    _check(W, b, X, labels)
    m = X.shape[1]
    cache = forward(W, b, X, act, negative_slope)
    Y = one_hot(labels, W[-1].shape[0])
    A_L = cache.A[-1]
    loss = -np.sum(Y * np.log(np.clip(A_L, 1e-300, None))) / m + 0.5 * l2 * sum(np.sum(W_l**2) for W_l in W)
    dW: list[np.ndarray] = [np.empty(0)] * len(W)
    db: list[np.ndarray] = [np.empty(0)] * len(W)
    dZ = A_L - Y
    for l in range(len(W) - 1, -1, -1):  # l indexes W: layer l + 1 of the equations
        dW[l] = dZ @ cache.A[l].T / m + l2 * W[l]
        db[l] = dZ.sum(axis=1, keepdims=True) / m
        if l > 0:
            dZ = (W[l].T @ dZ) * activation_derivative(act, cache.Z[l - 1], negative_slope)
    return Gradients(float(loss), dW, db)


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """``max|ours - reference| / max|reference|`` (absolute where the reference is all zero): how far
    a gradient is from this oracle's, on the reference's own scale.

    Examples:
        >>> round(relative_error(np.array([1.0, 2.001]), np.array([1.0, 2.0])), 9)
        0.0005
    """
    scale = float(np.max(np.abs(reference)))
    return float(np.max(np.abs(ours - reference))) / (scale if scale > 0 else 1.0)


def _check(W: Sequence[np.ndarray], b: Sequence[np.ndarray], X: np.ndarray, labels: np.ndarray | None = None) -> None:
    if X.ndim != 2:
        raise ValueError(f"X must be (features, m) with one column per sample, got shape {X.shape}")
    if len(W) != len(b) or not W:
        raise ValueError(f"need one bias per weight matrix and at least one layer, got {len(W)} and {len(b)}")
    rows = X.shape[0]
    for l, (W_l, b_l) in enumerate(zip(W, b, strict=True)):
        if W_l.ndim != 2 or W_l.shape[1] != rows:
            raise ValueError(f"W[{l}] has shape {W_l.shape}, expected ({'n'}, {rows}) to follow the previous layer")
        if b_l.size != W_l.shape[0]:
            raise ValueError(f"b[{l}] has {b_l.size} entries, expected {W_l.shape[0]}")
        rows = W_l.shape[0]
    if labels is not None:
        if labels.shape != (X.shape[1],) or labels.dtype.kind not in "iu":
            raise ValueError(f"labels must be {X.shape[1]} integers (one per column of X), got shape "
                             f"{labels.shape} dtype {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= rows):
            raise ValueError(f"labels must be in [0, {rows - 1}], got {labels.min()}..{labels.max()}")
