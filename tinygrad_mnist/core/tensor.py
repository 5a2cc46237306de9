"""The ``Tensor``: a numpy array that remembers how it was computed.

A tensor holds its value in ``.data`` (a numpy array). When it is the result of
an operation on tensors that require gradients, it also holds a node of the
computation graph (the primitive and its inputs); ``backward()`` walks those
nodes in reverse and leaves gradients in the ``.grad`` of the leaves.

Every method here is either a call of one primitive of the rule table
(:mod:`tinygrad_mnist.core.rules`) or of a composite written in such calls
(:mod:`tinygrad_mnist.core.composites`), so everything is differentiable to any order.

>>> from tinygrad_mnist import Tensor
>>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
Tensor([2., 4., 6.])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from . import composites, graph, rules
from .coerce import DEFAULT_FLOAT as _DEFAULT_FLOAT
from .coerce import Axis, index_arrays, permutation, shape_arguments
from .coerce import as_array as _as_array
from .coerce import normalize_axes as _axes
from .coerce import resolve_shape as _resolve_shape

ArrayLike = Union["Tensor", np.ndarray, float, int, Sequence[Any]]


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: a numpy array (its dtype is kept, no copy is made), a Python number
            or a nested list of numbers (stored as float32), or another Tensor
            (its data is shared, its graph is not).
        requires_grad: record operations on this tensor so that ``backward()``
            can fill its ``.grad``. Only floating-point tensors can require grad.

    >>> Tensor([[1, 2], [3, 4]]).dtype
    dtype('float32')
    >>> Tensor(np.zeros(3)).dtype
    dtype('float64')
    """

    __slots__ = ("__weakref__", "_ctx", "data", "grad", "name", "requires_grad")
    __array_ufunc__ = None  # so that ndarray OP Tensor defers to Tensor's reflected operator

    data: np.ndarray
    grad: Tensor | None
    requires_grad: bool

    def __init__(self, data: ArrayLike, requires_grad: bool = False) -> None:
        self.data = data.data if isinstance(data, Tensor) else _as_array(data)
        self.grad = None
        self._ctx: Any = None
        self.name: str | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(data: np.ndarray) -> Tensor:
        """A plain Tensor around ``data`` with no checks: the fast path for op outputs
        (the graph module builds every result through it, also from a Parameter)."""
        out = Tensor.__new__(Tensor)
        out.data = data
        out.grad = None
        out.requires_grad = False
        out._ctx = None
        out.name = None
        return out

    # ---- properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed (a transpose for 2-d)."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation."""
        return self._ctx is None

    @property
    def grad_fn(self) -> str | None:
        """The name of the primitive that produced this tensor, or None for a leaf."""
        return None if self._ctx is None else self._ctx.prim.name

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, "
                f"got dtype {self.data.dtype}"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_: cannot turn off gradients of a non-leaf tensor; use detach()")
        self.requires_grad = requires_grad
        return self

    def backward(
        self,
        gradient: ArrayLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Args:
            gradient: the vector in the vector-Jacobian product, shaped like self;
                may be omitted only for a one-element tensor (it is then 1).
            retain_graph: keep the graph so backward can run through it again;
                defaults to ``create_graph``.
            create_graph: record the backward pass itself, so that the gradients
                can be differentiated again (grad of grad, Hessian-vector products).
        """
        graph.backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph)

    # ---- representation ---------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = []
        if self.data.dtype != _DEFAULT_FLOAT:
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx.prim.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "Tensor(" + ", ".join([body, *extras]) + ")"

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"bool: the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all() on .data")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    __hash__ = object.__hash__

    # ---- arithmetic (broadcasting; the engine reduces gradients to each input's shape)
    def __add__(self, other: ArrayLike) -> Tensor:
        return rules.add(self, _lift(other, self))

    def __radd__(self, other: ArrayLike) -> Tensor:
        return rules.add(_lift(other, self), self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return rules.sub(self, _lift(other, self))

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return rules.sub(_lift(other, self), self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return rules.mul(self, _lift(other, self))

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return rules.mul(_lift(other, self), self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return rules.div(self, _lift(other, self))

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return rules.div(_lift(other, self), self)

    def __pow__(self, exponent: ArrayLike) -> Tensor:
        return rules.power(self, _lift(exponent, self))

    def __rpow__(self, base: ArrayLike) -> Tensor:
        return rules.power(_lift(base, self), self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return rules.matmul(self, _lift(other, self))

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return rules.matmul(_lift(other, self), self)

    def __neg__(self) -> Tensor:
        return rules.neg(self)

    def __pos__(self) -> Tensor:
        return self

    # ---- comparisons: plain boolean tensors, no gradient -------------------------
    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(np.equal(self.data, _raw(other)))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(np.not_equal(self.data, _raw(other)))

    def __lt__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.less(self.data, _raw(other)))

    def __le__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.less_equal(self.data, _raw(other)))

    def __gt__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.greater(self.data, _raw(other)))

    def __ge__(self, other: ArrayLike) -> Tensor:
        return Tensor._wrap(np.greater_equal(self.data, _raw(other)))

    # ---- unary math ---------------------------------------------------------------
    def exp(self) -> Tensor:
        return rules.exp(self)

    def log(self) -> Tensor:
        return rules.log(self)

    def sqrt(self) -> Tensor:
        return composites.sqrt(self)

    def tanh(self) -> Tensor:
        return rules.tanh(self)

    def sigmoid(self) -> Tensor:
        return rules.sigmoid(self)

    def relu(self) -> Tensor:
        return rules.relu(self)

    def abs(self) -> Tensor:
        """|x|; its gradient at 0 is 0 (the sign), as in PyTorch."""
        return composites.absolute(self)

    def maximum(self, other: ArrayLike) -> Tensor:
        """Elementwise maximum; at ties each side gets half the gradient."""
        return rules.maximum(self, _lift(other, self))

    def minimum(self, other: ArrayLike) -> Tensor:
        return composites.minimum(self, _lift(other, self))

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Limit values to [min, max]; the gradient passes where the value was inside."""
        return composites.clip(self, min, max)

    def where(self, condition: ArrayLike, other: ArrayLike) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (see :func:`where`)."""
        return where(condition, self, other)

    # ---- reductions ---------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return rules.reduce_sum(self, axis=_axes(axis, self.ndim), keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return composites.mean(self, _axes(axis, self.ndim), keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Maximum along axes; the gradient is shared equally among tied maxima."""
        return rules.reduce_max(self, axis=_axes(axis, self.ndim), keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return composites.amin(self, _axes(axis, self.ndim), keepdims)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))), shifted by the (constant) maximum so it never overflows.

        >>> x = Tensor(np.array([1e4, 1e4]))
        >>> round(x.logsumexp().item() - 1e4, 6)  # log(2)
        0.693147
        """
        return composites.logsumexp(self, _axes(axis, self.ndim), keepdims)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """``x - logsumexp(x)`` along ``axis``, stable for any magnitude (one fused primitive)."""
        (axis,) = _axes(axis, self.ndim) if self.ndim else (0,)
        return composites.log_softmax(self, axis)

    def softmax(self, axis: int = -1) -> Tensor:
        (axis,) = _axes(axis, self.ndim) if self.ndim else (0,)
        return composites.softmax(self, axis)

    # ---- shape ----------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        new_shape = _resolve_shape(shape_arguments(shape), self.size)
        if new_shape == self.data.shape:
            return self  # nothing to record
        return rules.reshape(self, shape=new_shape)

    def flatten(self, start_axis: int = 0) -> Tensor:
        """Merge all axes from ``start_axis`` on into one."""
        (start,) = _axes(start_axis, self.ndim) if self.ndim else (0,)
        return self.reshape(*self.shape[:start], -1)

    def transpose(self, *axes: int) -> Tensor:
        """Permute axes (all reversed when none are given), like ``np.transpose``."""
        return rules.transpose(self, axes=permutation(shape_arguments(axes), self.shape))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        (axis1,), (axis2,) = _axes(axis1, self.ndim), _axes(axis2, self.ndim)
        perm = list(range(self.ndim))
        perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
        return rules.transpose(self, axes=tuple(perm))

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return rules.broadcast_to(self, shape=tuple(shape))

    def sum_to_size(self, *size: int | Sequence[int]) -> Tensor:
        """Sum over the axes that broadcasting to this shape would add or stretch, giving ``size``
        (``size`` must broadcast to ``self.shape``); how gradients undo broadcasting.

        >>> Tensor(np.ones((2, 3))).sum_to_size(1, 3)
        Tensor([[2., 2., 2.]], dtype=float64)
        """
        return composites.sum_to_size(self, shape_arguments(size))

    def __getitem__(self, index: Any) -> Tensor:
        return rules.getitem(self, index=index_arrays(index))

    def matmul(self, other: ArrayLike) -> Tensor:
        return self @ other

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype``; the gradient is converted back."""
        return rules.cast(self, dtype=np.dtype(dtype))

    def double(self) -> Tensor:
        """A float64 copy (for gradient checks)."""
        return self.astype(np.float64)

    def float(self) -> Tensor:
        """A float32 copy."""
        return self.astype(np.float32)


_CONSTANTS: dict[tuple[Any, ...], Tensor] = {}
_MAX_CONSTANTS = 4096


def _constant(value: float, dtype: np.dtype) -> Tensor:
    """A shared read-only 0-d tensor for a Python number: graphs reuse constants such
    as ``1.0001`` or ``1/N`` instead of allocating one per operation."""
    key = (dtype, value, math.copysign(1.0, value))  # the sign keeps 0.0 and -0.0 apart
    cached = _CONSTANTS.get(key)
    if cached is None:
        array = np.asarray(value, dtype=dtype)
        array.flags.writeable = False
        cached = Tensor._wrap(array)
        if len(_CONSTANTS) < _MAX_CONSTANTS and not math.isnan(value):  # nan never equals itself as a key
            _CONSTANTS[key] = cached
    return cached


def _lift(value: Any, like: Tensor) -> Tensor:
    """Turn an operand into a Tensor; Python numbers take the other side's dtype."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        dtype = like.data.dtype if like.data.dtype.kind == "f" else np.result_type(like.data, value)
        return _constant(value, dtype)
    if type(value) is np.ndarray and value.dtype.kind in "biuf":  # masks and constants in VJPs
        return Tensor._wrap(value)
    return Tensor(value)


def _raw(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def where(condition: ArrayLike, x: ArrayLike, y: ArrayLike) -> Tensor:
    """Choose ``x`` where ``condition`` is true and ``y`` elsewhere; gradients follow the choice.

    >>> where(Tensor([1.0, -1.0]) > 0, Tensor([1.0, 2.0]), 0.0)
    Tensor([1., 0.])
    """
    cond = np.asarray(_raw(condition), dtype=bool)
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else Tensor(x)
    return rules.where(_lift(x, like), _lift(y, like), cond=cond)
