"""The "long form" of backpropagation: dense Jacobian matrices multiplied along the chain.

For one sample x the loss is a chain of maps: the affine map of each layer,
the activation, the softmax, and the cross-entropy. Each has a Jacobian
matrix, and the gradient of the loss with respect to any parameter is the
product of the Jacobians from the loss back to that parameter:

* cross-entropy ``-log s_y``:   dL/ds = -e_y^T / s_y               (1 x K)
* softmax ``s = softmax(z)``:   ds/dz = diag(s) - s s^T             (K x K)
* activation ``a = g(z)``:      da/dz = diag(g'(z))                 (n x n)
* affine ``z = W a + b``:       dz/da = W, dz/db = I,
                                dz/dvec(W) = I (x) a^T              (n x n*n_in, a Kronecker product)

The batch gradient is the mean of the per-sample gradients. Every Jacobian is
materialised as a dense matrix, which is what makes this method explode with
width and batch: see `memory_estimate`. It computes the same numbers as
`closed_form` (which never builds a Jacobian) and as the engine (whose
vector-Jacobian products never do either).

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> W = [rng.normal(size=(4, 3)), rng.normal(size=(2, 4))]
    >>> b = [rng.normal(size=(4, 1)), rng.normal(size=(2, 1))]
    >>> X, labels = rng.normal(size=(3, 5)), np.array([0, 1, 1, 0, 1])
    >>> from tinygrad_mnist.mnist.reference import closed_form
    >>> long, short = backward(W, b, X, labels), closed_form.backward(W, b, X, labels)
    >>> all(np.allclose(p, q) for p, q in zip(long.dW + long.db, short.dW + short.db))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .closed_form import Gradients, _check, activation, activation_derivative


def softmax_jacobian(s: np.ndarray) -> np.ndarray:
    """ds/dz = diag(s) - s s^T for s = softmax(z)."""
    return np.diag(s) - np.outer(s, s)


def weight_jacobian(a: np.ndarray, rows: int) -> np.ndarray:
    """dz/dvec(W) for z = W a + b, W with ``rows`` rows flattened row by row: I (x) a^T."""
    return np.kron(np.eye(rows), a.reshape(1, -1))


def sample_gradients(W: Sequence[np.ndarray], b: Sequence[np.ndarray], x: np.ndarray, label: int, act: str = "relu",
                     negative_slope: float = 0.01) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """Loss and parameter gradients for one sample x (features,), by multiplying Jacobians."""
    zs, acts = [], [x]
    for l, (W_l, b_l) in enumerate(zip(W, b, strict=True)):
        zs.append(W_l @ acts[-1] + b_l.reshape(-1))
        if l < len(W) - 1:
            acts.append(activation(act, zs[-1], negative_slope))
    z = zs[-1]
    s = np.exp(z - z.max())
    s /= s.sum()
    loss = -np.log(max(s[label], 1e-300))
    row = np.zeros((1, len(s)))
    row[0, label] = -1.0 / s[label]  # dL/ds
    row = row @ softmax_jacobian(s)  # dL/dz_L
    dW: list[np.ndarray] = [np.empty(0)] * len(W)
    db: list[np.ndarray] = [np.empty(0)] * len(W)
    for l in range(len(W) - 1, -1, -1):
        rows = W[l].shape[0]
        dW[l] = (row @ weight_jacobian(acts[l], rows)).reshape(W[l].shape)
        db[l] = (row @ np.eye(rows)).reshape(-1, 1)
        if l > 0:
            row = row @ W[l]  # dz_l/da_{l-1}
            row = row @ np.diag(activation_derivative(act, zs[l - 1], negative_slope))  # da/dz
    return float(loss), dW, db


def backward(W: Sequence[np.ndarray], b: Sequence[np.ndarray], X: np.ndarray, labels: np.ndarray,
             act: str = "relu", negative_slope: float = 0.01, l2: float = 0.0) -> Gradients:
    """Mean over the columns of X of the per-sample gradients, plus the L2 term's lam W."""
    _check(W, b, X, labels)
    m = X.shape[1]
    total_loss = 0.0
    dW = [np.zeros_like(W_l, dtype=np.float64) for W_l in W]
    db = [np.zeros((W_l.shape[0], 1)) for W_l in W]
    for i in range(m):
        loss, gW, gb = sample_gradients(W, b, X[:, i], int(labels[i]), act, negative_slope)
        total_loss += loss
        for l in range(len(W)):
            dW[l] += gW[l]
            db[l] += gb[l]
    penalty = 0.5 * l2 * sum(float(np.sum(W_l**2)) for W_l in W)
    return Gradients(total_loss / m + penalty, [d / m + l2 * W_l for d, W_l in zip(dW, W, strict=True)],
                     [d / m for d in db])


@dataclass
class MemoryEstimate:
    """Entries and bytes of the dense Jacobians the long form builds."""

    per_sample_entries: int
    batch: int
    bytes_per_entry: int

    @property
    def per_sample_bytes(self) -> int:
        return self.per_sample_entries * self.bytes_per_entry

    @property
    def batch_bytes(self) -> int:
        """All samples' Jacobians held at once (the batch materialised densely)."""
        return self.per_sample_bytes * self.batch


def memory_estimate(layer_sizes: Sequence[int], batch: int, bytes_per_entry: int = 4) -> MemoryEstimate:
    """Memory for the long form's Jacobians of an MLP with ``layer_sizes`` (inputs first).

    Per sample and layer: dz/dvec(W) (n x n*n_in), dz/db (n x n), dz/da_in (n x n_in)
    except for the first layer (no gradient is sent to the input), the activation's
    diag(g') (n x n) for hidden layers, and softmax's K x K.

    Examples:
        >>> estimate = memory_estimate([784, 512, 10], batch=50)
        >>> round(estimate.batch_bytes / 1e9)           # float32, the write-up's network and batch
        41
    """
    entries = 0
    for layer, (n_in, n) in enumerate(pairwise(layer_sizes)):
        entries += n * n * n_in + n * n + (n * n_in if layer > 0 else 0)
    entries += sum(n * n for n in layer_sizes[1:-1])  # activations
    entries += layer_sizes[-1] ** 2  # softmax
    return MemoryEstimate(entries, batch, bytes_per_entry)
