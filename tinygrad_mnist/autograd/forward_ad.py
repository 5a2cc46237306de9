"""Forward-mode automatic differentiation with PyTorch's ``torch.autograd.forward_ad`` API.

Open a dual level, attach a tangent ``v`` to an input with [`make_dual`][tinygrad_mnist.autograd.forward_ad.make_dual],
compute as usual, and read each result's tangent ``J v`` with
[`unpack_dual`][tinygrad_mnist.autograd.forward_ad.unpack_dual]: one pass gives a Jacobian-vector product, where reverse
mode would need one backward pass per output element to build the same
column of the Jacobian. The tangents are pushed through each primitive by the
JVP rule in its row of the table (``tinygrad_mnist.core.rules``).

Examples:
    >>> import tinygrad_mnist as tm
    >>> import tinygrad_mnist.autograd.forward_ad as fwAD
    >>> x, v = tm.tensor([0.0, 1.0], dtype=tm.float64), tm.tensor([1.0, 1.0], dtype=tm.float64)
    >>> with fwAD.dual_level():
    ...     y = fwAD.make_dual(x, v).sin() * 2          # J v = 2 cos(x) * v
    ...     primal, tangent = fwAD.unpack_dual(y)
    >>> tangent
    Tensor([2.        , 1.08060461], dtype=float64)

Tangents are Tensors made by recorded operations, so reverse mode goes
through them (reverse-over-forward), and tangents flow through a backward pass
computed inside a dual level (forward-over-reverse, e.g. Hessian-vector
products). Dual levels do not nest, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from ..core.forward import FORWARD, enter_level, exit_level, set_tangent, tangent_of
from ..core.grad_mode import STATE
from ..core.tensor import Tensor

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]


class UnpackedDualTensor(NamedTuple):
    """What [`unpack_dual`][tinygrad_mnist.autograd.forward_ad.unpack_dual] returns: the primal value and its tangent
    (None when there is none)."""

    primal: Tensor
    tangent: Tensor | None


def enter_dual_level() -> int:
    """Open a dual level and return its index; [`dual_level`][tinygrad_mnist.autograd.forward_ad.dual_level] is the
    usual way.

    Examples:
        >>> exit_dual_level(level=enter_dual_level())
    """
    return enter_level()


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the open dual level; the tangents made in it are dropped."""
    exit_level(level)


@contextmanager
def dual_level() -> Iterator[int]:
    """A dual level for the ``with`` block: tangents exist inside it and are dropped at its end.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> with dual_level():
        ...     x = make_dual(tm.tensor([3.0]), tm.tensor([1.0]))
        >>> unpack_dual(x).tangent is None      # the level has closed
        True
    """
    index = enter_level()
    try:
        yield index
    finally:
        exit_level(index)


def _alias(t: Tensor) -> Tensor:
    """A new tensor with ``t``'s value, connected to ``t``'s graph when ``t`` is recorded, without tangent."""
    if not (t.requires_grad and STATE.enabled):
        return t._wrap(t.data)
    before, FORWARD.pushing = FORWARD.pushing, False
    try:
        return t.view_as(t)  # a recorded reshape: gradients still reach t
    finally:
        FORWARD.pushing = before


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """``tensor``'s value carrying ``tangent`` (same shape, a floating dtype) in the open dual level.

    The result is a new tensor: gradients computed through it reach ``tensor``,
    which itself keeps no tangent.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> with dual_level():
        ...     x = make_dual(tm.tensor([1.0, 2.0]), tm.tensor([0.5, 0.5]))
        ...     unpack_dual(x * 3).tangent
        Tensor([1.5, 1.5])
    """
    if FORWARD.level is None:
        raise RuntimeError("make_dual: no dual level is open; use it inside 'with forward_ad.dual_level():'")
    if level is not None and level != FORWARD.level.index:
        raise RuntimeError(f"make_dual: level {level} is not the open dual level {FORWARD.level.index}")
    for name, value in (("tensor", tensor), ("tangent", tangent)):
        if not isinstance(value, Tensor):
            raise TypeError(f"make_dual: {name} must be a Tensor, got {type(value).__name__}")
    if tensor.dtype.kind not in "fc":
        raise ValueError(f"make_dual: only floating point tensors carry tangents, got dtype {tensor.dtype}")
    if tangent.shape != tensor.shape:
        raise ValueError(f"make_dual: the tangent has shape {tangent.shape}, expected the tensor's shape "
                         f"{tensor.shape}")
    if tangent.dtype != tensor.dtype:
        raise ValueError(f"make_dual: the tangent has dtype {tangent.dtype}, expected the tensor's dtype "
                         f"{tensor.dtype}")
    dual = _alias(tensor)
    set_tangent(dual, tangent)
    return dual


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor`` in the open dual level; the tangent is None when there is none
    (or no level is open). The primal is a new tensor without tangent, connected to ``tensor``'s graph."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual: expected a Tensor, got {type(tensor).__name__}")
    if FORWARD.level is not None and level is not None and level != FORWARD.level.index:
        raise RuntimeError(f"unpack_dual: level {level} is not the open dual level {FORWARD.level.index}")
    tangent = tangent_of(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    return UnpackedDualTensor(_alias(tensor), tangent)
