"""Independent oracles for the engine's gradients, in numpy only (no Tensor, no VJP table).

- `closed_form`: the column-major backprop equations (dZ2 = A2 - Y, dW2 = 1/m dZ2 A1^T, ...).
- `jacobian_chain`: the same gradients by multiplying dense per-sample Jacobian matrices.
"""

from . import closed_form, jacobian_chain

__all__ = ["closed_form", "jacobian_chain"]
