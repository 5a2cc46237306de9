"""THE table of primitives: each one's forward (numpy) beside its vector-Jacobian products.

A primitive is a numpy function plus one VJP per input. A VJP receives the
incoming gradient ``g`` (shaped like the output), the output ``out`` and the
inputs, all as Tensors, plus the primitive's keyword parameters, and returns
the gradient for its input. VJPs are written in Tensor operations, so when the
engine runs them with ``create_graph=True`` they are recorded and can be
differentiated again.

Binary primitives broadcast like numpy; a VJP may return a gradient shaped
like the broadcast output and the engine reduces it with :func:`unbroadcast`,
the one place where that reduction is written.

Everything else (composites such as ``mean``, ``softmax``, ``logsumexp``,
``abs``, ``clip``, the losses) is built from these in
:mod:`tinygrad_mnist.tensor` and :mod:`tinygrad_mnist.nn.functional`. Two
entries are fusions kept for speed, each with its own VJP in Tensor ops:
``linear`` (x @ w.T + b) and ``log_softmax``.

>>> from tinygrad_mnist import Tensor
>>> x = Tensor([0.5, 2.0], requires_grad=True)
>>> y = exp(x)
>>> y.grad_fn
'exp'
"""

from __future__ import annotations

import builtins  # the table below defines its own sum and max
import itertools
from typing import Any, Callable

import numpy as np

from .anomaly import check_forward, creation_site
from .conv import (conv2d_forward, conv2d_input_grad_forward, conv2d_weight_grad_forward, max_pool2d_forward,
                   window_gather_forward, window_scatter_forward)
from .grad_mode import STATE
from .tensor import Tensor

Vjp = Callable[..., Tensor]


_NO_PARAMS: dict[str, Any] = {}
_creation_order = itertools.count()


class Node:
    """One recorded application of a primitive: what ``backward`` needs to go through it.

    ``inputs`` and ``params`` are dropped once backward has used them (unless the
    graph is retained); a node with ``inputs is None`` has been released.
    """

    __slots__ = ("prim", "inputs", "params", "mark", "seq", "site")

    def __init__(self, prim: Primitive, inputs: tuple[Tensor, ...], params: dict[str, Any]) -> None:
        self.site: str | None = None  # the user's file:line, recorded under detect_anomaly
        self.seq = next(_creation_order)  # larger than the seq of every node it depends on
        self.mark: object = None  # set by a graph walk that has visited this node
        self.prim = prim
        self.inputs: tuple[Tensor, ...] | None = inputs
        self.params: dict[str, Any] | None = params or _NO_PARAMS  # most nodes share one empty dict

    def release(self) -> None:
        self.inputs = None
        self.params = None


class Primitive:
    """A differentiable numpy function: ``forward(*arrays, **params)`` and one VJP per input."""

    __slots__ = ("name", "forward", "vjps", "saves")

    def __init__(self, name: str, forward: Callable[..., Any], *vjps: Vjp, saves: tuple[str, ...] = ()) -> None:
        self.name = name
        self.forward = forward
        self.vjps = vjps
        # names of extra results of forward (after the output) that the VJPs receive as parameters,
        # for what the forward pass finds anyway and the backward pass would otherwise recompute
        self.saves = saves

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *inputs: Tensor, **params: Any) -> Tensor:
        try:
            data = self.forward(*[t.data for t in inputs], **params)
        except (ValueError, IndexError, TypeError) as exc:
            raise _explain(self.name, inputs, exc) from None
        if self.saves:
            data, *saved = data
            params = {**params, **dict(zip(self.saves, saved))}
        if type(data) is not np.ndarray:  # numpy turns 0-d results into scalars; keep arrays
            data = np.asarray(data)
        out = Tensor._wrap(data)
        if STATE.enabled:
            for t in inputs:
                if t.requires_grad:
                    out.requires_grad = True
                    out._ctx = Node(self, inputs, params)
                    break
        if STATE.anomaly:
            site = creation_site()
            if out._ctx is not None:
                out._ctx.site = site
            check_forward(self.name, [t.data for t in inputs], data, site)
        return out


def _explain(name: str, inputs: tuple[Tensor, ...], exc: Exception) -> Exception:
    """Re-raise a numpy failure naming the primitive and the shapes it was given."""
    message = str(exc)
    if message.startswith(name + ":"):
        return exc
    shapes = " and ".join(str(t.shape) for t in inputs)
    if "broadcast" in message:
        return ValueError(f"{name}: shapes {shapes} cannot be broadcast together")
    return type(exc)(f"{name}: failed on input shape(s) {shapes}: {message}")


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    >>> unbroadcast(Tensor(np.ones((2, 3, 4))), (3, 1)).shape
    (3, 1)
    """
    if grad.data.shape == shape:
        return grad
    if grad.data.shape[1:] == shape:  # one leading batch axis: the bias of a layer
        return sum(grad, axis=(0,), keepdims=False)
    lead = grad.data.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, grad.shape[lead:])):
        raise RuntimeError(f"unbroadcast: a gradient of shape {grad.shape} cannot be reduced to shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    summed = sum(grad, axis=axes, keepdims=lead == 0)
    return summed if summed.shape == shape else reshape(summed, shape=shape)


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _has_integer_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


def _scatter_forward(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if _has_integer_array(index):
        np.add.at(out, index, g)  # repeated indices must add up, not overwrite
    else:
        out[index] = g
    return out


def _matmul_forward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    inner_b, where_b = (b.shape[0], "first") if b.ndim == 1 else (b.shape[-2], "second-to-last")
    if a.shape[-1] != inner_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last axis of the first "
            f"({a.shape[-1]}) must equal the {where_b} axis of the second ({inner_b})"
        )
    return np.matmul(a, b)


def _matmul_vjp_a(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 1:  # out = a . b over the last axis: da = g outer b
        return g.reshape(*g.shape, 1) * b
    if a.ndim == 1:  # a acts as a row vector: da = b @ g, summed over batch by unbroadcast
        return (b @ g.reshape(*g.shape, 1)).reshape(*g.shape[:-1], b.shape[-2])
    return g @ b.swapaxes(-1, -2)


def _matmul_vjp_b(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:  # db = a outer g
        return a.reshape(-1, 1) * g.reshape(*g.shape[:-1], 1, g.shape[-1])
    if b.ndim == 1:  # db = sum over rows of a * g
        return g.reshape(*g.shape, 1) * a
    return a.swapaxes(-1, -2) @ g


def _linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = _matmul_forward(x, w.T)
    out += b
    return out


def _linear_vjp_w(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    if x.data.ndim != 2:  # fold leading batch axes into one
        g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
    return matmul(transpose(g, axes=(1, 0)), x)  # g^T x


def _log_softmax_forward(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - np.max(a, axis=axis, keepdims=True)  # exp never overflows
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def _pow_vjp_base(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    # b * a^(b-1); at a == b == 0 the term is 0 (b is), and 0^(-1) must not turn it into nan
    singular = (a.data == 0) & (b.data == 0)
    if not singular.any():
        return g * b * a ** (b - 1)
    return g * b * a ** where(b - 1, Tensor._wrap(np.ones((), dtype=b.dtype)), cond=~singular)


def _pow_vjp_exponent(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    # a^b log a; where a == 0 the term is 0 (out is 0), and log(0) must not turn it into nan
    base = where(a, Tensor._wrap(np.ones((), dtype=a.dtype)), cond=a.data != 0)
    return g * out * log(base)


def _sigmoid_forward(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))  # never overflows, unlike exp(-a) for very negative a
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _sum_vjp(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...], keepdims: bool) -> Tensor:
    if not keepdims and g.data.ndim != a.data.ndim:  # put the reduced axes back as length 1
        g = reshape(g, shape=_kept_shape(a.data.shape, axis))
    return broadcast_to(g, shape=a.data.shape)


def _max_vjp(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...], keepdims: bool) -> Tensor:
    kept = _kept_shape(a.shape, axis)
    winners = a.data == out.data.reshape(kept)
    share = (winners / winners.sum(axis=axis, keepdims=True)).astype(a.dtype)  # ties split evenly
    return g.reshape(kept) * share


def _maximum_share(first: np.ndarray, second: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.where(first > second, 1.0, np.where(first == second, 0.5, 0.0)).astype(dtype)


class _PerInput:
    """The VJPs of a primitive that takes any number of inputs: ``vjps[i]`` is one
    function told which input it is for."""

    def __init__(self, vjp: Callable[..., Tensor]) -> None:
        self.vjp = vjp

    def __getitem__(self, i: int) -> Vjp:
        return lambda *args, **params: self.vjp(i, *args, **params)


# ---- the table ---------------------------------------------------------------------
# name = Primitive(name, forward, vjp for input 0, vjp for input 1, ...)

add = Primitive("add", np.add,
                lambda g, out, a, b: g,
                lambda g, out, a, b: g)
sub = Primitive("sub", np.subtract,
                lambda g, out, a, b: g,
                lambda g, out, a, b: -g)
mul = Primitive("mul", np.multiply,
                lambda g, out, a, b: g * b,
                lambda g, out, a, b: g * a)
div = Primitive("div", np.true_divide,
                lambda g, out, a, b: g / b,
                lambda g, out, a, b: -g * out / b)
pow = Primitive("pow", np.power, _pow_vjp_base, _pow_vjp_exponent)
neg = Primitive("neg", np.negative,
                lambda g, out, a: -g)
exp = Primitive("exp", np.exp,
                lambda g, out, a: g * out)
log = Primitive("log", np.log,
                lambda g, out, a: g / a)
tanh = Primitive("tanh", np.tanh,
                 lambda g, out, a: g * (1 - out * out))
sigmoid = Primitive("sigmoid", _sigmoid_forward,
                    lambda g, out, a: g * out * (1 - out))
# fused because every classifier's loss goes through it: one node instead of six
log_softmax = Primitive("log_softmax", _log_softmax_forward,
                        lambda g, out, a, axis: g - exp(out) * sum(g, axis=(axis,), keepdims=True))
relu = Primitive("relu", lambda a: np.maximum(a, 0),
                 lambda g, out, a: g * (a.data > 0))
maximum = Primitive("maximum", np.maximum,
                    lambda g, out, a, b: g * _maximum_share(a.data, b.data, g.dtype),
                    lambda g, out, a, b: g * _maximum_share(b.data, a.data, g.dtype))
where = Primitive("where", lambda a, b, cond: np.where(cond, a, b),
                  lambda g, out, a, b, cond: g * cond,
                  lambda g, out, a, b, cond: g * ~cond)
sum = Primitive("sum", lambda a, axis, keepdims: a.sum(axis=axis, keepdims=keepdims),
                _sum_vjp)
max = Primitive("max", lambda a, axis, keepdims: a.max(axis=axis, keepdims=keepdims),
                _max_vjp)
reshape = Primitive("reshape", lambda a, shape: np.reshape(a, shape),
                    lambda g, out, a, shape: g.reshape(a.shape))
transpose = Primitive("transpose", lambda a, axes: np.transpose(a, axes),
                      lambda g, out, a, axes: g.transpose(tuple(np.argsort(axes))))
broadcast_to = Primitive("broadcast_to", lambda a, shape: np.broadcast_to(a, shape),
                         lambda g, out, a, shape: unbroadcast(g, a.shape))
scatter = Primitive("scatter", _scatter_forward,
                    lambda g, out, src, index, shape: getitem(g, index=index))
getitem = Primitive("getitem", lambda a, index: a[index],
                    lambda g, out, a, index: scatter(g, index=index, shape=a.shape))
matmul = Primitive("matmul", _matmul_forward, _matmul_vjp_a, _matmul_vjp_b)
stack = Primitive("stack", lambda *arrays, axis: np.stack(arrays, axis=axis))
stack.vjps = _PerInput(lambda i, g, out, *inputs, axis: g[(slice(None),) * axis + (i,)])
concatenate = Primitive("concatenate", lambda *arrays, axis: np.concatenate(arrays, axis=axis))
concatenate.vjps = _PerInput(lambda i, g, out, *inputs, axis: g[(slice(None),) * axis + (
    slice(builtins.sum(t.shape[axis] for t in inputs[:i]), builtins.sum(t.shape[axis] for t in inputs[:i + 1])),)])
cast = Primitive("cast", lambda a, dtype: a.astype(dtype),  # always a new array
                 lambda g, out, a, dtype: cast(g, dtype=a.dtype))
# x @ w.T + b fused: the affine map of nn.Linear in one node, with gradients laid out like w
linear = Primitive("linear", _linear_forward,
                   lambda g, out, x, w, b: matmul(g, w),
                   _linear_vjp_w,
                   lambda g, out, x, w, b: unbroadcast(g, b.shape))

# convolution of NCHW x with OIHW w; the three conv primitives are each other's VJPs,
# so gradients of any order stay convolutions
conv2d = Primitive("conv2d", conv2d_forward,
                   lambda g, out, x, w, stride, padding, cols: conv2d_input_grad(
                       g, w, x_shape=x.shape, stride=stride, padding=padding),
                   lambda g, out, x, w, stride, padding, cols: conv2d_weight_grad(
                       x, g, w_shape=w.shape, stride=stride, padding=padding, cols=cols),
                   saves=("cols",))
conv2d_weight_grad = Primitive(
    "conv2d_weight_grad", conv2d_weight_grad_forward,
    lambda h, out, x, g, w_shape, stride, padding, cols=None: conv2d_input_grad(
        g, h, x_shape=x.shape, stride=stride, padding=padding),
    lambda h, out, x, g, w_shape, stride, padding, cols=None: conv2d(x, h, stride=stride, padding=padding))
conv2d_input_grad = Primitive(
    "conv2d_input_grad", conv2d_input_grad_forward,
    lambda h, out, g, w, x_shape, stride, padding: conv2d(h, w, stride=stride, padding=padding),
    lambda h, out, g, w, x_shape, stride, padding: conv2d_weight_grad(
        h, g, w_shape=w.shape, stride=stride, padding=padding))
# max over kernel_size x kernel_size windows; the gradient goes to each window's first maximum
max_pool2d = Primitive("max_pool2d", max_pool2d_forward,
                       lambda g, out, x, kernel_size, stride, position: window_scatter(
                           g, position=position, kernel_size=kernel_size, stride=stride, shape=x.shape),
                       saves=("position",))
# put one value into each window at a given position, and its transpose, take it back out
window_scatter = Primitive("window_scatter", window_scatter_forward,
                           lambda h, out, g, position, kernel_size, stride, shape: window_gather(
                               h, position=position, kernel_size=kernel_size, stride=stride))
window_gather = Primitive("window_gather", window_gather_forward,
                          lambda h, out, x, position, kernel_size, stride: window_scatter(
                              h, position=position, kernel_size=kernel_size, stride=stride, shape=x.shape))

PRIMITIVES: dict[str, Primitive] = {
    p.name: p for p in globals().values() if isinstance(p, Primitive)
}
