"""``check_module``: the error-bounded gradient check of every parameter of a model, in one call.

See [`check_gradients`][tinygrad_mnist.autograd.errorcheck.check_gradients] for the method.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..func.functional_call import functional_call
from .errorcheck import GradientCheckResult, check_gradients

__all__ = ["check_module"]


def _float64_input(value: Any, check: bool) -> Any:
    """A float64 copy of a floating Tensor or array (requiring grad when ``check`` and the original did)."""
    if isinstance(value, Tensor) and value.dtype.kind == "f":
        return Tensor(np.array(value.data, dtype=np.float64), requires_grad=check and value.requires_grad)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return Tensor(value.astype(np.float64))
    return value


def check_module(
    model: Any,
    loss_fn: Callable[[Any], Tensor],
    *inputs: Any,
    check_inputs: bool = True,
    max_elements: int | None = None,
    seed: int = 0,
    safety: float = 10.0,
    atol: float = 1e-12,
    modes: Sequence[str] = ("rev",),
    fast: bool = False,
    raise_exception: bool = True,
) -> GradientCheckResult:
    """[`check_gradients`][tinygrad_mnist.autograd.errorcheck.check_gradients] of ``loss_fn(model(*inputs))`` with
    respect to every parameter, in one call.

    The check runs on a deep copy of ``model`` converted to float64 (the model
    itself is not touched), with float64 copies of the floating ``inputs``;
    inputs that require grad are checked too when ``check_inputs``. Each
    parameter is reported under its dotted name (``result.worst["0.weight"]``),
    and a failure names it. For big layers, ``max_elements`` checks only that
    many elements of each parameter and input, a random subset drawn from
    ``seed`` (the Jacobian rows are still computed whole; the cost is two
    evaluations per step per checked element). Put the model in ``eval()`` mode
    first if it has dropout: the loss must be a deterministic function.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor, nn
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        >>> x = Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
        >>> result = check_module(net, lambda out: (out * out).mean(), x)
        >>> result.passed, sorted(result.worst), net[0].weight.dtype
        (True, ['0.bias', '0.weight', '2.bias', '2.weight'], dtype('float32'))
    """
    if not (hasattr(model, "named_parameters") and hasattr(model, "double")):
        raise TypeError(f"check_module: expected an nn.Module, got {type(model).__name__}")
    twin = copy.deepcopy(model).double()
    named = [(name, p) for name, p in twin.named_parameters() if p.requires_grad]
    args = [_float64_input(x, check_inputs) for x in inputs]
    n_inputs = len(args)
    params = [Tensor(np.array(p.data, dtype=np.float64), requires_grad=True) for _, p in named]
    if not named and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        raise ValueError("check_module: the model has no parameter that requires grad, and no input does")

    def loss(*values: Any) -> Tensor:
        swapped = {name: value for (name, _), value in zip(named, values[n_inputs:], strict=True)}
        return loss_fn(functional_call(twin, swapped, tuple(values[:n_inputs])))

    names = [f"input {i}" for i in range(n_inputs)] + [name for name, _ in named]
    return check_gradients(loss, [*args, *params], safety=safety, atol=atol, modes=modes, fast=fast,
                           raise_exception=raise_exception, max_elements=max_elements, seed=seed, names=names)
