"""Forward mode: tangents carried beside values, pushed through each primitive by its JVP rule.

Inside a dual level (``autograd.forward_ad.dual_level()``), a tensor may carry
a *tangent*: a direction ``v`` of the same shape. Every primitive called on
such inputs also computes the tangent of its output, the Jacobian-vector
product ``J v``, from the JVP rule in its row of the table
(``rules``). So one forward pass gives both ``f(x)`` and
``J_f(x) v``: the dual-number picture, ``x + v e`` with ``e^2 = 0``.

The tangents live in this module, not on the tensors: a table of the active
level from a tensor's id to (a weak reference to the tensor, its tangent), so
that a tensor without a tangent costs nothing and a tangent goes away with its
tensor or with its level. A JVP rule is computed in Tensor operations with
reverse-mode recording as usual (so reverse-over-forward works) and with
tangent propagation switched off (the rule works on primal values; levels do
not nest, as in PyTorch).

Examples:
    >>> import tinygrad_mnist as tm
    >>> from tinygrad_mnist.autograd import forward_ad as fwAD
    >>> with fwAD.dual_level():
    ...     x = fwAD.make_dual(tm.tensor([1.0, 2.0]), tm.tensor([1.0, 0.0]))
    ...     y = (x * x).sum()                       # d/dx sum(x^2) = 2x, along (1, 0)
    ...     fwAD.unpack_dual(y).tangent
    Tensor(2.)
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .graph import Primitive
    from .tensor import Tensor

DIAGONAL = "diagonal"
"""The ``jvp=`` of a row whose Jacobian is diagonal (an elementwise function of broadcast inputs): its
VJP ``g * df/da`` is also its JVP ``v * df/da``, so each input's VJP serves as that input's JVP."""


class _Level:
    """One dual level: the tangents given or computed while it is open."""

    __slots__ = ("index", "tangents")

    def __init__(self, index: int) -> None:
        self.index = index
        self.tangents: dict[int, tuple[weakref.ref[Tensor], Tensor]] = {}


class _ForwardState:
    def __init__(self) -> None:  # instance attributes: read on every operation, the fastest to read
        self.level: _Level | None = None  # the open dual level, if any
        self.pushing = True  # False while a JVP rule runs: rules work on primal values


FORWARD = _ForwardState()


def enter_level() -> int:
    """Open a dual level and return its index (only one may be open, as in PyTorch)."""
    if FORWARD.level is not None:
        raise RuntimeError("forward_ad: nested dual levels are not supported; a dual level is already open "
                           f"(level {FORWARD.level.index})")
    FORWARD.level = _Level(0)
    return 0


def exit_level(index: int | None = None) -> None:
    """Close the open dual level: every tangent made in it is dropped."""
    if FORWARD.level is None or (index is not None and index != FORWARD.level.index):
        raise RuntimeError(f"forward_ad: no open dual level {'' if index is None else index} to exit")
    FORWARD.level = None


def tangent_of(t: Tensor) -> Tensor | None:
    """``t``'s tangent in the open level, or None."""
    level = FORWARD.level
    if level is None:
        return None
    entry = level.tangents.get(id(t))
    if entry is None or entry[0]() is not t:
        return None
    return entry[1]


def set_tangent(t: Tensor, tangent: Tensor | None) -> None:
    """Attach ``tangent`` to ``t`` in the open level (None removes it)."""
    level = FORWARD.level
    if level is None:
        raise RuntimeError("forward_ad: tangents exist only inside a dual level (with forward_ad.dual_level(): ...)")
    key = id(t)
    if tangent is None:
        level.tangents.pop(key, None)
        return
    tangents = level.tangents

    def forget(_: object) -> None:  # the tensor is gone: so is its tangent
        tangents.pop(key, None)

    tangents[key] = (weakref.ref(t, forget), tangent)


def push(prim: Primitive, inputs: Sequence[Tensor], out: Tensor, params: dict[str, Any],
         saved: dict[str, Any] | None) -> None:
    """Give ``out`` the tangent ``J v`` when an input of this call of ``prim`` has a tangent."""
    if not FORWARD.pushing:
        return
    tangents = [tangent_of(t) for t in inputs]
    if all(v is None for v in tangents) or out.data.dtype.kind not in "fc":
        return
    keywords = {**params, **saved} if saved else params
    FORWARD.pushing = False
    try:
        if prim.jvp == DIAGONAL:
            total: Tensor | None = None
            for vjp, v in zip(prim.vjps, tangents, strict=True):
                if v is not None:
                    term = vjp(v, out, *inputs, **keywords)
                    total = term if total is None else total + term
        elif callable(prim.jvp):
            total = prim.jvp(tangents, out, *inputs, **keywords)
        else:
            raise NotImplementedError(f"forward mode: primitive {prim.name!r} has no JVP rule (an autograd.Function "
                                      "needs a jvp(ctx, *tangents) static method)")
        assert total is not None
        if total.shape != out.shape:
            total = total.broadcast_to(out.shape)
        if total.data.dtype != out.data.dtype:
            total = total.to(out.data.dtype)
    finally:
        FORWARD.pushing = True
    set_tangent(out, total)


def zeros_like(t: Tensor) -> Tensor:
    """A zero tangent for ``t`` (for rules that need one per input)."""
    return t._wrap(np.zeros(t.data.shape, dtype=t.data.dtype))
