"""The gradients of a one-hidden-layer ReLU MLP with mean cross-entropy, by the closed-form backprop
equations of ``mnist.reference.closed_form``: the oracle the engine's MLP tests compare against."""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.mnist.reference import closed_form


def mlp_grads(x: np.ndarray, labels: np.ndarray, w1: np.ndarray, b1: np.ndarray,
              w2: np.ndarray, b2: np.ndarray) -> list[np.ndarray]:
    """dL/dw1, dL/db1, dL/dw2, dL/db2 of ``mean CE(relu(x w1 + b1) w2 + b2, labels)``, in float64.

    Weights are (in, out) and examples are rows, as in the tests; the oracle lays
    weights out as (out, in) and examples as columns, hence the transposes.
    """
    x, w1, b1, w2, b2 = (np.asarray(a, dtype=np.float64) for a in (x, w1, b1, w2, b2))
    grads = closed_form.backward([w1.T, w2.T], [b1, b2], x.T, labels)
    return [grads.dW[0].T, grads.db[0].ravel(), grads.dW[1].T, grads.db[1].ravel()]
