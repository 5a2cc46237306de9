"""The ``Tensor``: a numpy array that remembers how it was computed.

A tensor holds its value in ``.data`` (a numpy array). When it is the result of
an operation on tensors that require gradients, it also holds a node of the
computation graph (the primitive and its inputs); ``backward()`` walks those
nodes in reverse and leaves gradients in the ``.grad`` of the leaves.

Every method here is either a call of one primitive of the rule table
(``tinygrad_mnist.core.rules``) or of a composite written in such calls
(``tinygrad_mnist.core.composites``), so everything is differentiable to any order.

Examples:
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

from . import composites, conversions, elementwise, graph, reductions, rules, selection
from . import shape as shaping
from .coerce import as_array as _as_array
from .coerce import get_default_dtype, index_arrays, shape_arguments
from .inplace import InPlaceMethods

ArrayLike = Union["Tensor", np.ndarray, float, int, Sequence[Any]]
_NUMERIC = "biuf"  # the dtype kinds a tensor can hold: bool, integers, floats
_new = object.__new__  # a bare instance, for _wrap (Tensor defines no __new__ of its own)


class Tensor(InPlaceMethods):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: a numpy array (its dtype is kept, no copy is made), a Python number
            or a nested list of numbers (stored as float32), or another Tensor
            (its data is shared, its graph is not).
        requires_grad: record operations on this tensor so that ``backward()``
            can fill its ``.grad``. Only floating-point tensors can require grad.

    Examples:
        >>> Tensor([[1, 2], [3, 4]]).dtype
        dtype('float32')
        >>> Tensor(np.zeros(3)).dtype
        dtype('float64')
    """

    __slots__ = {  # the values are the slots' docstrings (help(Tensor.data))
        "__weakref__": None, "_changed_at": None, "_ctx": None, "_version": None,
        "data": "The values, a numpy array (shared: changing it changes the tensor, unrecorded).",
        "grad": "The accumulated gradient, filled by ``backward()`` in leaves that require grad; None before.",
        "name": "An optional label (None by default), shown in graph pictures and traces.",
        "requires_grad": "Whether operations on this tensor are recorded so that gradients can reach it.",
    }
    __array_ufunc__ = None  # so that ndarray OP Tensor defers to Tensor's reflected operator

    data: np.ndarray
    """The values, a numpy array (shared: changing it changes the tensor, unrecorded)."""
    grad: Tensor | None
    """The accumulated gradient, filled by ``backward()`` in leaves that require grad; None before."""
    name: str | None
    """An optional label (None by default), shown in graph pictures and traces."""
    requires_grad: bool
    """Whether operations on this tensor are recorded so that gradients can reach it."""

    def __init__(self, data: ArrayLike, requires_grad: bool = False) -> None:
        if type(data) is np.ndarray and data.dtype.kind in _NUMERIC:  # the common case: kept as it is
            self.data = data
        else:
            self.data = data.data if isinstance(data, Tensor) else _as_array(data)
        self.grad = None
        self._ctx: Any = None
        self.name: str | None = None
        self._version = 0  # in-place changes so far
        self._changed_at = 0  # the graph's creation count at the last in-place change (0: never)
        self.requires_grad = bool(requires_grad) and self.data.dtype.kind == "f"
        if requires_grad and not self.requires_grad:
            self.requires_grad_(True)  # not a floating-point dtype: raises, naming it

    @staticmethod
    def _wrap(data: np.ndarray) -> Tensor:
        """A plain Tensor around ``data`` with no checks: the fast path for op outputs
        (the graph module builds every result through it, also from a Parameter)."""
        out = _new(Tensor)
        out.data = data
        out.grad = None
        out.requires_grad = False
        out._ctx = None
        out.name = None
        out._version = 0
        out._changed_at = 0
        return out

    # ---- properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, a tuple of ints (``()`` for a 0-d tensor)."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the values (float32 by default)."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions, ``len(shape)``."""
        return self.data.ndim

    size = conversions.size
    dim = conversions.ndimension
    ndimension = conversions.ndimension
    numel = conversions.numel
    nelement = conversions.numel
    device = conversions.DEVICE
    """The device the values live on: always the CPU (``device(type='cpu')``)."""
    to = conversions.to
    type_as = conversions.type_as
    tolist = conversions.tolist

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation."""
        return self._ctx is None

    @property
    def grad_fn(self) -> graph.Node | None:
        """The node that recorded this tensor (None for a leaf), as in PyTorch: ``grad_fn.name()``
        is its primitive, ``grad_fn.next_functions`` where each input's gradient goes next.

        Examples:
            >>> y = Tensor([1.0, 2.0], requires_grad=True).exp()
            >>> y.grad_fn, y.grad_fn.name()
            (<exp>, 'exp')
        """
        return self._ctx

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
        inputs: Tensor | Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Args:
            gradient: the vector in the vector-Jacobian product, shaped like self;
                may be omitted only for a one-element tensor (it is then 1).
            retain_graph: keep the graph so backward can run through it again;
                defaults to ``create_graph``.
            create_graph: record the backward pass itself, so that the gradients
                can be differentiated again (grad of grad, Hessian-vector products).
            inputs: accumulate into the ``.grad`` of these tensors only (leaves or not).

        Examples:
            >>> a, b = Tensor(2.0, requires_grad=True), Tensor(5.0, requires_grad=True)
            >>> (a * b).backward(inputs=[a])
            >>> a.grad, b.grad
            (Tensor(5.), None)
        """
        seeds = None if gradient is None else (gradient,)
        if inputs is None:
            graph.backward((self,), seeds, retain_graph, create_graph)
        else:
            chosen = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
            graph.backward((self,), seeds, retain_graph, create_graph, inputs=chosen, accumulate=True)

    # ---- representation ---------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = []
        if self.data.dtype != get_default_dtype():
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
        return rules.add(self, other if isinstance(other, Tensor) else _lift(other, self))

    def __radd__(self, other: ArrayLike) -> Tensor:
        return rules.add(_lift(other, self), self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return rules.sub(self, other if isinstance(other, Tensor) else _lift(other, self))

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return rules.sub(_lift(other, self), self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return rules.mul(self, other if isinstance(other, Tensor) else _lift(other, self))

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return rules.mul(_lift(other, self), self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return rules.div(self, other if isinstance(other, Tensor) else _lift(other, self))

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return rules.div(_lift(other, self), self)

    def __pow__(self, exponent: ArrayLike) -> Tensor:
        return rules.power(self, exponent if isinstance(exponent, Tensor) else _lift(exponent, self))

    def __rpow__(self, base: ArrayLike) -> Tensor:
        return rules.power(_lift(base, self), self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return rules.matmul(self, other if isinstance(other, Tensor) else _lift(other, self))

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return rules.matmul(_lift(other, self), self)

    def __neg__(self) -> Tensor:
        return rules.neg(self)

    def __pos__(self) -> Tensor:
        return self

    # ---- comparisons: plain boolean tensors, no gradient (the functions eq, ne, ... below)
    __eq__ = elementwise.eq  # type: ignore[assignment]
    __ne__ = elementwise.ne  # type: ignore[assignment]
    __lt__, __le__, __gt__, __ge__ = elementwise.lt, elementwise.le, elementwise.gt, elementwise.ge

    # ---- elementwise (functions of core.elementwise) ----------------------------------
    exp, log, log1p, expm1 = elementwise.exp, elementwise.log, elementwise.log1p, elementwise.expm1
    sqrt, rsqrt, sin, cos = elementwise.sqrt, elementwise.rsqrt, elementwise.sin, elementwise.cos
    tanh, sigmoid, relu, abs = elementwise.tanh, elementwise.sigmoid, elementwise.relu, elementwise.abs
    sign, floor, ceil, round = elementwise.sign, elementwise.floor, elementwise.ceil, elementwise.round
    pow, nan_to_num, erf = elementwise.pow, elementwise.nan_to_num, elementwise.erf
    isnan, isfinite = elementwise.isnan, elementwise.isfinite
    eq, ne, lt, le = elementwise.eq, elementwise.ne, elementwise.lt, elementwise.le
    gt, ge = elementwise.gt, elementwise.ge
    logical_and, logical_or = elementwise.logical_and, elementwise.logical_or
    logical_xor, logical_not = elementwise.logical_xor, elementwise.logical_not

    def maximum(self, other: ArrayLike) -> Tensor:
        """Elementwise maximum; at ties each side gets half the gradient."""
        return rules.maximum(self, other if isinstance(other, Tensor) else _lift(other, self))

    def minimum(self, other: ArrayLike) -> Tensor:
        """Elementwise minimum; at ties each side gets half the gradient."""
        return composites.minimum(self, _lift(other, self))

    clamp = clip = selection.clamp

    def where(self, condition: ArrayLike, other: ArrayLike) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (see [`where`][tinygrad_mnist.core.tensor.where])."""
        return where(condition, self, other)

    # ---- reductions and selection (functions of core.reductions and core.selection) ----
    sum, mean, logsumexp = reductions.sum, reductions.mean, reductions.logsumexp
    max, min, amax, amin = reductions.max, reductions.min, reductions.amax, reductions.amin
    argmax, argmin = reductions.argmax, reductions.argmin
    softmax, log_softmax = reductions.softmax, reductions.log_softmax
    prod, var, std, norm, cumsum = selection.prod, selection.var, selection.std, selection.norm, selection.cumsum
    any, all, sort, argsort, topk = selection.any, selection.all, selection.sort, selection.argsort, selection.topk
    gather, scatter, scatter_add = selection.gather, selection.scatter, selection.scatter_add
    index_select, masked_fill = selection.index_select, selection.masked_fill

    # ---- shape (functions of core.shape) ------------------------------------------------
    reshape = shaping.reshape
    view = shaping.view
    is_contiguous = shaping.is_contiguous
    view_as = shaping.view_as
    flatten = shaping.flatten
    unflatten = shaping.unflatten
    transpose = shaping.transpose
    permute = shaping.permute
    t = shaping.t
    T = property(shaping.reversed_dims, doc="All dimensions reversed (the transpose of a matrix).")
    """All dimensions reversed (the transpose of a matrix)."""
    mT = property(shaping.matrix_transpose, doc="The last two dimensions swapped.")
    """The last two dimensions swapped."""
    unsqueeze = shaping.unsqueeze
    squeeze = shaping.squeeze
    expand = shaping.expand
    expand_as = shaping.expand_as
    repeat = shaping.repeat
    contiguous = shaping.contiguous
    clone = shaping.clone
    flip = shaping.flip
    narrow = shaping.narrow
    split = shaping.split
    chunk = shaping.chunk

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Dimensions ``axis1`` and ``axis2`` exchanged, as ``transpose(axis1, axis2)``."""
        return shaping.transpose(self, axis1, axis2)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Repeated along size-1 or new leading dimensions to ``shape`` (numpy's broadcasting rules); the
        gradient is summed back."""
        return rules.broadcast_to(self, shape=tuple(shape))

    def sum_to_size(self, *size: int | Sequence[int]) -> Tensor:
        """Sum over the axes that broadcasting to this shape would add or stretch, giving ``size``
        (``size`` must broadcast to ``self.shape``); how gradients undo broadcasting.

        Examples:
            >>> Tensor(np.ones((2, 3))).sum_to_size(1, 3)
            Tensor([[2., 2., 2.]], dtype=float64)
        """
        return composites.sum_to_size(self, shape_arguments(size))

    def __getitem__(self, index: Any) -> Tensor:
        return rules.getitem(self, index=index_arrays(index))

    def matmul(self, other: ArrayLike) -> Tensor:
        """The matrix product ``self @ other``, with numpy's rules for 1-d and batched operands."""
        return self @ other

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype``; the gradient is converted back."""
        return rules.cast(self, dtype=np.dtype(dtype))

    # last in the class body: these names shadow the builtins inside it
    half = conversions.half
    double = conversions.double
    long = conversions.long
    float = conversions.to_float
    int = conversions.to_int
    bool = conversions.to_bool


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

    Examples:
        >>> where(Tensor([1.0, -1.0]) > 0, Tensor([1.0, 2.0]), 0.0)
        Tensor([1., 0.])
    """
    cond = np.asanyarray(_raw(condition), dtype=bool)
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else Tensor(x)
    return rules.where(_lift(x, like), _lift(y, like), cond=cond)
