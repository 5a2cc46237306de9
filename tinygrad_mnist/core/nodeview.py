"""PyTorch's view of the graph: ``tensor.grad_fn`` as an object with ``name()`` and ``next_functions``.

A node names its primitive and lists where each input's gradient goes next:
``(node, 0)`` for a tensor made by an operation, ``(AccumulateGrad, 0)`` for a
leaf that requires grad (its ``.variable`` is the leaf) and ``(None, 0)`` for a
constant. ``NodeView`` is a base class of ``Node``.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> node = (x * 2.0)._ctx
    >>> node.name(), [f if f is None else f.name() for f, _ in node.next_functions]
    ('mul', ['AccumulateGrad', None])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only
    from .tensor import Tensor

FREED = "next_functions: the graph behind this tensor was freed by an earlier backward()"


class NodeView:
    """``name()`` and ``next_functions`` of a recorded node (see the module docstring)."""

    __slots__ = ()
    prim: Any
    inputs: tuple[Tensor, ...] | None

    def name(self) -> str:
        return str(self.prim.name)

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        if self.inputs is None:
            raise RuntimeError(FREED)
        return tuple((t._ctx if t._ctx is not None else AccumulateGrad(t) if t.requires_grad else None, 0)
                     for t in self.inputs)

    def __repr__(self) -> str:
        return f"<{self.prim.name}>"


class AccumulateGrad:
    """Where a leaf's gradient ends up (``.variable`` is the leaf), as listed in ``next_functions``."""

    __slots__ = ("variable",)
    next_functions: tuple[()] = ()

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"
