"""``check_second_derivatives``: the error-bounded check applied to the gradient itself.

A VJP that is right in value can still be wrong as a function of its inputs:
computed partly in numpy or on detached tensors, it gives correct first
derivatives and wrong (usually zero) second ones, so grad-of-grad, Hessians
and double backward go wrong without any first-order check noticing. As
[`gradgradcheck`][tinygrad_mnist.autograd.gradgradcheck] does with fixed tolerances,
this checks the map ``(inputs, v) -> v^T J`` (the gradient of ``v . fn``,
built with ``create_graph=True``), here with
[`check_gradients`][tinygrad_mnist.autograd.check_gradients] and its error bound: every
second derivative of ``fn``, with respect to the inputs, and the first
derivatives with respect to ``v``.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    >>> result = check_second_derivatives(lambda t: (t.tanh() * t.exp()).sum(), x)
    >>> result.passed, sorted(result.worst)
    (True, ['grad_outputs[0]', 'input 0'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..core.tensor import Tensor
from .checkresult import GradientCheckResult
from .errorcheck import check_gradients
from .gradcheck import _differentiable_inputs as differentiable_inputs
from .gradcheck import _grad_output_vectors as grad_output_vectors
from .gradcheck import _vjp_map as vjp_map

__all__ = ["check_second_derivatives"]


def check_second_derivatives(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    grad_outputs: Sequence[Any] | None = None,
    *,
    seed: int = 0,
    **options: Any,
) -> GradientCheckResult:
    """Check the derivatives of ``v^T J`` (``J`` the Jacobian of ``fn``) with the error-bounded check.

    ``grad_outputs`` gives ``v``, one Tensor per output of ``fn`` that
    requires grad (standard normal float64 from ``seed`` when omitted). Every
    other keyword (``safety``, ``atol``, ``modes``, ``fast``,
    ``raise_exception``, ``max_elements``, ...) goes to
    [`check_gradients`][tinygrad_mnist.autograd.check_gradients], whose result is
    returned; reports name the inputs ``"input i"`` and the vectors
    ``"grad_outputs[j]"``, and ``output_index`` counts the gradients, one per
    input that requires grad.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> from tinygrad_mnist.core import rules
        >>> saved = rules.tanh.vjps
        >>> rules.tanh.vjps = (lambda g, out, a: g * Tensor(1 - out.data ** 2),)  # right value, cut from the graph
        >>> try:
        ...     result = check_second_derivatives(Tensor.tanh, Tensor(np.array([0.5]), requires_grad=True),
        ...                                       raise_exception=False)
        ... finally:
        ...     rules.tanh.vjps = saved
        >>> result.passed, result.failures[0].input_name, result.failures[0].analytical
        (False, 'input 0', 0.0)
    """
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    chosen = differentiable_inputs(args)
    vectors = grad_output_vectors(fn, args, grad_outputs, seed, "check_second_derivatives")
    names = [f"input {i}" for i in range(len(args))] + [f"grad_outputs[{j}]" for j in range(len(vectors))]
    return check_gradients(vjp_map(fn, len(args), chosen), (*args, *vectors), names=names, seed=seed, **options)
