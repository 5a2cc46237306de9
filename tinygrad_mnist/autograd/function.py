"""Custom operations with a hand-written gradient: subclass ``Function``, as in PyTorch.

``forward(ctx, *args)`` receives numpy arrays (Tensors are unwrapped; other
arguments pass through) and returns one numpy array. ``backward(ctx, grad)``
receives the gradient of that output as a numpy array and returns one gradient
per forward argument (None for arguments that need none). ``Fn.apply(...)``
runs it and records it in the graph like any primitive, so ``gradcheck`` can
verify the hand-written gradient.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> from tinygrad_mnist.autograd import gradcheck
    >>> class Cube(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return grad * 3 * x ** 2
    >>> x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    Tensor([ 3., 12.], dtype=float64)
    >>> gradcheck(Cube.apply, x)
    True

    The backward works on numpy arrays, so the engine cannot differentiate it
    again: with ``create_graph=True`` a graph through a Function raises
    ``RuntimeError`` rather than returning a silently wrong second derivative.

    For forward mode, define ``jvp(ctx, *tangents)`` too: one tangent (a numpy
    array, zeros where the input has none; None for non-tensor arguments) per
    forward argument in, the output's tangent out:

    >>> from tinygrad_mnist.autograd import forward_ad as fwAD
    >>> class Square(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_forward(x)
    ...         return x ** 2
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return grad * 2 * x
    ...     @staticmethod
    ...     def jvp(ctx, tangent):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * tangent
    >>> with fwAD.dual_level():
    ...     y = Square.apply(fwAD.make_dual(Tensor(np.array([3.0])), Tensor(np.array([1.0]))))
    ...     fwAD.unpack_dual(y).tangent
    Tensor([6.], dtype=float64)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.grad_mode import STATE, no_grad
from ..core.graph import Primitive, record
from ..core.tensor import Tensor


class FunctionCtx:
    """Per-call storage shared by ``forward`` and ``backward``."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple[Any, ...] = ()
        self._positions: list[int] = []  # where the Tensors are among the forward's arguments

    def save_for_backward(self, *values: Any) -> None:
        """Keep arrays for ``backward`` (available there as ``ctx.saved_tensors``)."""
        self.saved_tensors = values

    def save_for_forward(self, *values: Any) -> None:
        """Keep arrays for ``jvp`` (available there as ``ctx.saved_tensors``, as in PyTorch)."""
        self.saved_tensors = values


class Function:
    """Base class of custom operations; subclasses define ``forward`` and ``backward`` as static methods.

    Each subclass is one primitive (``Fn.primitive``), made once when the class
    is defined; its derivative rule gives all the inputs' gradients at once
    from one call of ``backward``, and each call's ``ctx`` is saved on its node.
    An optional ``jvp(ctx, *tangents)`` is its forward-mode rule.
    """

    primitive: ClassVar[Primitive]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        has_jvp = cls.jvp is not Function.jvp
        cls.primitive = Primitive(cls.__name__, cls.forward, vjp=cls._input_gradients,
                                  jvp=cls._output_tangent if has_jvp else None)

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> np.ndarray:
        raise NotImplementedError("a Function must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, grad: np.ndarray) -> Any:
        raise NotImplementedError("a Function must define backward(ctx, grad)")

    @staticmethod
    def jvp(ctx: FunctionCtx, *tangents: Any) -> Any:
        raise NotImplementedError("this Function has no forward-mode rule: define jvp(ctx, *tangents)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` and record the call so that ``backward`` runs in reverse mode."""
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            out = cls.forward(ctx, *[a.data if isinstance(a, Tensor) else a for a in args])
        if not isinstance(out, (np.ndarray, np.generic)):
            raise TypeError(f"{cls.__name__}.forward must return a numpy array, got {type(out).__name__}")
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not tensors:
            return Tensor(np.asarray(out))
        ctx._positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        return record(cls.primitive, tensors, out, {}, {"ctx": ctx})

    @classmethod
    def _output_tangent(cls, tangents: list[Tensor | None], out: Tensor, *inputs: Tensor,
                        ctx: FunctionCtx) -> Tensor:
        """The forward-mode rule: one call of ``jvp`` with a tangent array per forward argument."""
        name = cls.__name__
        if STATE.enabled and any(v is not None and v.requires_grad for v in tangents):
            raise RuntimeError(f"{name}: its jvp works on numpy arrays and cannot be differentiated in "
                               "reverse mode; write the operation in Tensor ops for that")
        arrays: list[Any] = [None] * len(ctx.needs_input_grad)
        for position, inp, v in zip(ctx._positions, inputs, tangents, strict=True):
            arrays[position] = np.zeros(inp.shape, dtype=inp.dtype) if v is None else v.data
        result = np.asarray(cls.jvp(ctx, *arrays))
        if result.shape != out.shape:
            raise ValueError(f"{name}.jvp returned a tangent of shape {result.shape}, expected the output's "
                             f"shape {out.shape}")
        return Tensor(result.astype(out.dtype, copy=False))

    @classmethod
    def _input_gradients(cls, g: Tensor, out: Tensor, *inputs: Tensor, ctx: FunctionCtx) -> list[Tensor | None]:
        """The derivative rule: one call of ``backward``, its gradients checked and handed to the tensor inputs."""
        name = cls.__name__
        if STATE.enabled:  # the engine runs VJPs with recording on only for create_graph=True
            raise RuntimeError(
                f"{name}: its backward works on numpy arrays and cannot be differentiated again "
                "(create_graph=True); write the operation in Tensor ops for higher derivatives"
            )
        result = cls.backward(ctx, g.data)
        grads = result if isinstance(result, tuple) else (result,)
        arity = len(ctx.needs_input_grad)
        if len(grads) != arity:
            raise ValueError(f"{name}.backward returned {len(grads)} gradient(s), expected {arity} "
                             "(one per forward argument, None where there is none)")
        sent: list[Tensor | None] = []
        for position, inp in zip(ctx._positions, inputs, strict=True):
            grad = grads[position]
            if not inp.requires_grad:
                sent.append(None)
                continue
            if grad is None:
                raise ValueError(f"{name}.backward returned None for argument {position}, which requires grad")
            grad = np.asarray(grad)
            if grad.shape != inp.shape:
                raise ValueError(f"{name}.backward returned a gradient of shape {grad.shape} for argument "
                                 f"{position}, expected {inp.shape}")
            sent.append(Tensor(grad.astype(inp.dtype, copy=False)))
        return sent
