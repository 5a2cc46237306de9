"""THE table of primitives: each one's forward (numpy) beside its vector-Jacobian products.

Each row is ``name = Primitive("name", forward, vjp for input 0, vjp for input 1, ...)``
(the format is ``Primitive``). A VJP receives
the incoming gradient ``g`` (shaped like the output), the output ``out`` and
the inputs, all as Tensors, plus the primitive's parameters and what its
forward saved, as keywords; it returns the gradient for its input. VJPs are
written in Tensor operations, so when the engine runs them with
``create_graph=True`` they are recorded and can be differentiated again.

Binary primitives broadcast like numpy; a VJP may return a gradient shaped
like the broadcast output and the engine sums it down to the input's shape.

Everything else (``mean``, ``softmax``, ``logsumexp``, ``abs``, ``clip``,
pooling by averages, ...) is a composite of these rows, in
``tinygrad_mnist.core.composites``. Two rows are fusions kept for speed,
each with its own VJPs in Tensor ops: ``linear`` (x @ w.T + b) and ``log_softmax``.
The Python names ``reduce_sum``, ``reduce_max`` and ``power`` keep clear of
Python's own ``sum``, ``max`` and ``pow``; the primitives are called "sum",
"max" and "pow".

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([0.5, 2.0], requires_grad=True)
    >>> y = exp(x)
    >>> y.grad_fn.name()
    'exp'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .forward import DIAGONAL, zeros_like
from .graph import Primitive
from .kernels import (
    conv2d_bias_forward,
    conv2d_forward,
    conv2d_input_grad_forward,
    conv2d_weight_grad_forward,
)
from .pool_kernels import max_pool2d_forward, window_gather_forward, window_scatter_forward

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _has_integer_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


# The forwards below word the caller's mistakes (a bad shape or index) naming the primitive;
# any other exception inside a forward is a bug and surfaces as itself.
def _reshape_forward(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    try:
        return np.reshape(a, shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape shape {a.shape} ({a.size} elements) into {shape}") from None


_SMALL_FILL = 4096  # up to this many elements, broadcasting one value fills a new array (7x cheaper than a view)


def _broadcast_to_forward(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if a.size == 1 and type(a) is np.ndarray and len(shape) >= a.ndim and math.prod(shape) <= _SMALL_FILL:
        out = np.empty(shape, dtype=a.dtype)  # the common seed of a full reduction's VJP
        out[...] = a
        return out
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: shape {a.shape} cannot be broadcast to {shape}") from None


def _getitem_forward(a: np.ndarray, index: Any) -> np.ndarray:
    try:
        return a[index]
    except IndexError as exc:
        raise IndexError(f"getitem: index {index!r} does not fit shape {a.shape}: {exc}") from None


def _check_same_shapes(op: str, arrays: tuple[np.ndarray, ...], axis: int | None) -> None:
    """Shapes that must match exactly (except along ``axis``, for concatenate)."""
    first = arrays[0].shape
    for k, a in enumerate(arrays[1:], start=1):
        same = a.shape == first if axis is None else a.ndim == len(first) and all(
            n == m for i, (n, m) in enumerate(zip(a.shape, first, strict=True)) if i != axis)
        if not same:
            along = "" if axis is None else f" except along axis {axis}"
            raise ValueError(f"{op}: tensor {k} has shape {a.shape}, expected {first}{along} like tensor 0")


def _stack_forward(*arrays: np.ndarray, axis: int) -> np.ndarray:
    _check_same_shapes("stack", arrays, None)
    return np.stack(arrays, axis=axis)


def _concatenate_forward(*arrays: np.ndarray, axis: int) -> np.ndarray:
    _check_same_shapes("concatenate", arrays, axis)
    return np.concatenate(arrays, axis=axis)


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


def _rows(t: Tensor) -> Tensor:
    """``t`` as one matrix: every leading axis folded into the rows (sizes spelled out, so 0 is fine)."""
    return t.reshape(math.prod(t.shape[:-1]), t.shape[-1])


def _packed(t: Tensor) -> Tensor:
    """``t``, or a copy of it if it is a broadcast view: numpy's matmul cannot hand an operand with a
    zero stride to BLAS and multiplies it in a loop many times slower. The gradient of a sum is such a
    view (``(x @ w).sum()``); the copy is a cast to its own dtype, so it stays differentiable."""
    return cast(t, dtype=t.dtype) if 0 in t.data.strides else t


# Both weight orientations, x @ w with w shaped (in, out) and x @ w.mT with w shaped (out, in), come
# here as 2-D products and take one GEMM each way: numpy hands a transposed operand to BLAS as it is
# (a flag, no copy). A stack of rows (a of 3 or more axes) times one matrix is folded into one tall
# matrix first, so that db is one GEMM, not a GEMM per matrix of the stack summed by the walk.
def _matmul_vjp_a(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 1:  # out = a . b over the last axis: da = g outer b
        return g.reshape(*g.shape, 1) * b
    g = _packed(g)
    if a.ndim == 1:  # a acts as a row vector: da = b @ g, summed over the batch by the walk
        return (b @ g.reshape(*g.shape, 1)).reshape(*g.shape[:-1], b.shape[-2])
    if a.ndim > 2 and b.ndim == 2:  # rows of a stack times one matrix: one GEMM for all of them
        return (_rows(g) @ b.mT).reshape(*g.shape[:-1], b.shape[-2])
    return g @ b.mT


def _matmul_vjp_b(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:  # db = a outer g
        return a.reshape(-1, 1) * g.reshape(*g.shape[:-1], 1, g.shape[-1])
    g = _packed(g)
    if b.ndim == 1:  # db = g^T a over every row of a: one matrix-vector product, no outer product to sum
        return g.reshape(math.prod(g.shape)) @ _rows(a)
    if a.ndim > 2 and b.ndim == 2:  # db = a^T g with the stack folded into the rows: one GEMM, nothing to sum
        return _rows(a).mT @ _rows(g)
    return a.mT @ g


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
    return g * b * a ** (b - 1).where(~singular, 1.0)


def _pow_vjp_exponent(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    # a^b log a; where a == 0 the term is 0 (out is 0), and log(0) must not turn it into nan
    return g * out * log(a.where(a.data != 0, 1.0))


_ERF = np.frompyfunc(math.erf, 1, 1)


def _erf_forward(a: np.ndarray) -> np.ndarray:
    return np.asarray(_ERF(a), dtype=a.dtype)


def _sigmoid_forward(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))  # never overflows, unlike exp(-a) for very negative a
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _sum_vjp(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...], keepdims: bool) -> Tensor:
    # put the reduced axes back as length 1 (a 0-d g, from a full reduction, broadcasts as it is)
    if not keepdims and g.data.ndim != a.data.ndim and g.data.ndim != 0:
        g = reshape(g, shape=_kept_shape(a.data.shape, axis))
    return broadcast_to(g, shape=a.data.shape)


def _max_vjp(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...], keepdims: bool) -> Tensor:
    kept = _kept_shape(a.shape, axis)
    winners = a.data == out.data.reshape(kept)
    share = (winners / winners.sum(axis=axis, keepdims=True)).astype(a.dtype)  # ties split evenly
    return g.reshape(kept) * share


def _max_jvp(vs: list[Tensor | None], out: Tensor, a: Tensor, axis: tuple[int, ...], keepdims: bool) -> Tensor:
    kept = _kept_shape(a.shape, axis)
    winners = a.data == out.data.reshape(kept)
    share = (winners / winners.sum(axis=axis, keepdims=True)).astype(a.dtype)  # ties average the tangents
    return reduce_sum(vs[0] * share, axis=axis, keepdims=keepdims)


def _sum_terms(terms: list[Tensor]) -> Tensor:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _bilinear_jvp(fn: Callable[[Tensor, Tensor], Tensor]) -> Callable[..., Tensor]:
    """The JVP of a function linear in each of its two inputs: ``f(va, b) + f(a, vb)``."""
    def jvp(vs: list[Tensor | None], out: Tensor, a: Tensor, b: Tensor, **params: Any) -> Tensor:
        va, vb = vs
        terms = ([] if va is None else [fn(va, b, **params)]) + ([] if vb is None else [fn(a, vb, **params)])
        return _sum_terms(terms)
    return jvp


def _joint_linear_jvp(vs: list[Tensor | None], inputs: tuple[Tensor, ...]) -> list[Tensor]:
    """The tangents of every input of a function linear in all of them jointly (zeros where none)."""
    return [zeros_like(t) if v is None else v for v, t in zip(vs, inputs, strict=True)]


def _linear_jvp(vs: list[Tensor | None], out: Tensor, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    vx, vw, vb = vs
    terms = [] if vx is None else [matmul(vx, transpose(w, axes=(1, 0)))]
    terms += [] if vw is None else [matmul(x, transpose(vw, axes=(1, 0)))]
    return _sum_terms(terms + ([] if vb is None else [vb]))


def _maximum_share(first: np.ndarray, second: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.where(first > second, 1.0, np.where(first == second, 0.5, 0.0)).astype(dtype)


def _concatenate_vjp(g: Tensor, out: Tensor, *inputs: Tensor, axis: int) -> list[Tensor]:
    ends = np.cumsum([t.shape[axis] for t in inputs])
    starts = ends - [t.shape[axis] for t in inputs]
    return [g[(slice(None),) * axis + (slice(int(start), int(end)),)] for start, end in zip(starts, ends, strict=True)]


# ---- the table ---------------------------------------------------------------------
# name = Primitive(name, forward, vjp for input 0, vjp for input 1, ...)

# rows that VJPs and JVPs above their own row call (declared so that a type checker knows them)
reduce_sum: Primitive
reshape: Primitive
broadcast_to: Primitive
scatter: Primitive
matmul: Primitive
stack: Primitive
concatenate: Primitive
conv2d: Primitive
getitem: Primitive
cast: Primitive
conv2d_weight_grad: Primitive
conv2d_input_grad: Primitive
window_scatter: Primitive
window_gather: Primitive
cos: Primitive
transpose: Primitive

add = Primitive("add", np.add,
                lambda g, out, a, b: g,
                lambda g, out, a, b: g, reads=(), jvp=DIAGONAL)
sub = Primitive("sub", np.subtract,
                lambda g, out, a, b: g,
                lambda g, out, a, b: -g, reads=(), jvp=DIAGONAL)
mul = Primitive("mul", np.multiply,
                lambda g, out, a, b: g * b,
                lambda g, out, a, b: g * a, reads=("inputs",), jvp=DIAGONAL)
div = Primitive("div", np.true_divide,
                lambda g, out, a, b: g / b,
                lambda g, out, a, b: -g * out / b, reads=(("inputs",), ("inputs", "output")), jvp=DIAGONAL)
power = Primitive("pow", np.power, _pow_vjp_base, _pow_vjp_exponent, reads=(("inputs",), ("inputs", "output")),
                  jvp=DIAGONAL)
neg = Primitive("neg", np.negative,
                lambda g, out, a: -g, reads=(), jvp=DIAGONAL)
exp = Primitive("exp", np.exp,
                lambda g, out, a: g * out, reads=("output",), jvp=DIAGONAL)
log = Primitive("log", np.log,
                lambda g, out, a: g / a, reads=("inputs",), jvp=DIAGONAL)
tanh = Primitive("tanh", np.tanh,
                 lambda g, out, a: g * (1 - out * out), reads=("output",), jvp=DIAGONAL)
log1p = Primitive("log1p", np.log1p,
                  lambda g, out, a: g / (a + 1), reads=("inputs",), jvp=DIAGONAL)
expm1 = Primitive("expm1", np.expm1,
                  lambda g, out, a: g * (out + 1), reads=("output",), jvp=DIAGONAL)
sin = Primitive("sin", np.sin,
                lambda g, out, a: g * cos(a), reads=("inputs",), jvp=DIAGONAL)
cos = Primitive("cos", np.cos,
                lambda g, out, a: -g * sin(a), reads=("inputs",), jvp=DIAGONAL)
# the error function (numpy has none): math.erf per element; d/da erf(a) = 2/sqrt(pi) exp(-a^2)
erf = Primitive("erf", _erf_forward,
                lambda g, out, a: g * exp(a * a * -1.0) * (2.0 / math.sqrt(math.pi)), reads=("inputs",), jvp=DIAGONAL)
# piecewise constant: a zero gradient everywhere, as in PyTorch
sign = Primitive("sign", np.sign, lambda g, out, a: g * 0.0, reads=(), jvp=DIAGONAL)
floor = Primitive("floor", np.floor, lambda g, out, a: g * 0.0, reads=(), jvp=DIAGONAL)
ceil = Primitive("ceil", np.ceil, lambda g, out, a: g * 0.0, reads=(), jvp=DIAGONAL)
# rint: Python's round stays unshadowed; halves go to even, as in PyTorch
rint = Primitive("round", np.round, lambda g, out, a: g * 0.0, reads=(), jvp=DIAGONAL)
sigmoid = Primitive("sigmoid", _sigmoid_forward,
                    lambda g, out, a: g * out * (1 - out), reads=("output",), jvp=DIAGONAL)
# fused because every classifier's loss goes through it: one node instead of six
log_softmax = Primitive("log_softmax", _log_softmax_forward,
                        lambda g, out, a, axis: g - exp(out) * reduce_sum(g, axis=(axis,), keepdims=True),
                        reads=("output",),
                        jvp=lambda vs, out, a, axis: vs[0] - reduce_sum(exp(out) * vs[0], axis=(axis,), keepdims=True))
relu = Primitive("relu", lambda a: np.maximum(a, 0),
                 lambda g, out, a: g * (a.data > 0), reads=("inputs",), jvp=DIAGONAL)
maximum = Primitive("maximum", np.maximum,
                    lambda g, out, a, b: g * _maximum_share(a.data, b.data, g.dtype),
                    lambda g, out, a, b: g * _maximum_share(b.data, a.data, g.dtype), reads=("inputs",), jvp=DIAGONAL)
where = Primitive("where", lambda a, b, cond: np.where(cond, a, b),
                  lambda g, out, a, b, cond: g * cond,
                  lambda g, out, a, b, cond: g * ~cond, reads=(), jvp=DIAGONAL)
# the rows below are linear (or bilinear) in their inputs: each JVP is the row itself applied to the tangents
reduce_sum = Primitive("sum", lambda a, axis, keepdims: a.sum(axis=axis, keepdims=keepdims),
                       _sum_vjp, reads=("inputs",),
                       jvp=lambda vs, out, a, axis, keepdims: reduce_sum(vs[0], axis=axis, keepdims=keepdims))
reduce_max = Primitive("max", lambda a, axis, keepdims: a.max(axis=axis, keepdims=keepdims),
                       _max_vjp, jvp=_max_jvp)
reshape = Primitive("reshape", _reshape_forward,
                    lambda g, out, a, shape: g.reshape(a.shape), reads=("inputs",),
                    jvp=lambda vs, out, a, shape: reshape(vs[0], shape=out.shape))
transpose = Primitive("transpose", lambda a, axes: np.transpose(a, axes),
                      lambda g, out, a, axes: transpose(g, axes=tuple(int(i) for i in np.argsort(axes))),
                      reads=("inputs",), jvp=lambda vs, out, a, axes: transpose(vs[0], axes=axes))
broadcast_to = Primitive("broadcast_to", _broadcast_to_forward,
                         lambda g, out, a, shape: g.sum_to_size(a.shape), reads=("inputs",),
                         jvp=lambda vs, out, a, shape: broadcast_to(vs[0], shape=shape))
scatter = Primitive("scatter", _scatter_forward,
                    lambda g, out, src, index, shape: getitem(g, index=index), reads=(),
                    jvp=lambda vs, out, src, index, shape: scatter(vs[0], index=index, shape=shape))
getitem = Primitive("getitem", _getitem_forward,
                    lambda g, out, a, index: scatter(g, index=index, shape=a.shape), reads=("inputs",),
                    jvp=lambda vs, out, a, index: getitem(vs[0], index=index))
matmul = Primitive("matmul", _matmul_forward, _matmul_vjp_a, _matmul_vjp_b, reads=("inputs",),
                   jvp=_bilinear_jvp(lambda a, b: matmul(a, b)))
# any number of inputs: one rule gives every input its slice of g
stack = Primitive("stack", _stack_forward,
                  vjp=lambda g, out, *inputs, axis: [g[(slice(None),) * axis + (i,)] for i in range(len(inputs))],
                  reads=("inputs",),
                  jvp=lambda vs, out, *inputs, axis: stack(*_joint_linear_jvp(vs, inputs), axis=axis))
concatenate = Primitive("concatenate", _concatenate_forward,
                        vjp=_concatenate_vjp, reads=("inputs",),
                        jvp=lambda vs, out, *inputs, axis: concatenate(*_joint_linear_jvp(vs, inputs), axis=axis))
cast = Primitive("cast", lambda a, dtype: a.astype(dtype),  # always a new array
                 lambda g, out, a, dtype: cast(g, dtype=a.dtype), reads=("inputs",),
                 jvp=lambda vs, out, a, dtype: cast(vs[0], dtype=dtype))
# x @ w.T + b fused: the affine map of nn.Linear in one node, with gradients laid out like w
linear = Primitive("linear", _linear_forward,
                   lambda g, out, x, w, b: matmul(g, w),
                   _linear_vjp_w,
                   lambda g, out, x, w, b: g.sum_to_size(b.shape), reads=("inputs",), jvp=_linear_jvp)

# convolution of NCHW x with OIHW w; the three conv primitives are each other's VJPs,
# so gradients of any order stay convolutions (stride, padding, dilation: (height, width) pairs)
def _conv_params(stride: Any, padding: Any, dilation: Any = 1, groups: int = 1) -> dict[str, Any]:
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


conv2d = Primitive("conv2d", conv2d_forward,
                   lambda g, out, x, w, cols, **conv: conv2d_input_grad(
                       g, w, x_shape=x.shape, **_conv_params(**conv)),
                   lambda g, out, x, w, cols, **conv: conv2d_weight_grad(
                       x, g, w_shape=w.shape, cols=cols, **_conv_params(**conv)),
                   saves=("cols",), reads=("inputs",),
                   jvp=lambda vs, out, x, w, cols, **conv: _bilinear_jvp(
                       lambda a, b: conv2d(a, b, **_conv_params(**conv)))(vs, out, x, w))


def _conv2d_bias_jvp(vs: list[Tensor | None], out: Tensor, x: Tensor, w: Tensor, b: Tensor, cols: Any,
                     **conv: Any) -> Tensor:
    vx, vw, vb = vs
    terms = [] if vx is None else [conv2d(vx, w, **_conv_params(**conv))]
    terms += [] if vw is None else [conv2d(x, vw, **_conv_params(**conv))]
    return _sum_terms(terms + ([] if vb is None else [
        broadcast_to(reshape(vb, shape=(1, -1, 1, 1)), shape=out.shape)]))


# conv2d plus a bias (O,) per output channel, added as the output is written: one pass less
conv2d_bias = Primitive("conv2d_bias", conv2d_bias_forward,
                        lambda g, out, x, w, b, cols, **conv: conv2d_input_grad(
                            g, w, x_shape=x.shape, **_conv_params(**conv)),
                        lambda g, out, x, w, b, cols, **conv: conv2d_weight_grad(
                            x, g, w_shape=w.shape, cols=cols, **_conv_params(**conv)),
                        lambda g, out, x, w, b, cols, **conv: reduce_sum(g, axis=(0, 2, 3), keepdims=False),
                        saves=("cols",), reads=(("inputs",), ("inputs",), ()), jvp=_conv2d_bias_jvp)
conv2d_weight_grad = Primitive(
    "conv2d_weight_grad", conv2d_weight_grad_forward,
    lambda h, out, x, g, w_shape, cols=None, **conv: conv2d_input_grad(
        g, h, x_shape=x.shape, **_conv_params(**conv)),
    lambda h, out, x, g, w_shape, cols=None, **conv: conv2d(x, h, **_conv_params(**conv)),
    reads=("inputs",),
    jvp=lambda vs, out, x, g, w_shape, cols=None, **conv: _bilinear_jvp(
        lambda a, b: conv2d_weight_grad(a, b, w_shape=w_shape, **_conv_params(**conv)))(vs, out, x, g))
conv2d_input_grad = Primitive(
    "conv2d_input_grad", conv2d_input_grad_forward,
    lambda h, out, g, w, x_shape, **conv: conv2d(h, w, **_conv_params(**conv)),
    lambda h, out, g, w, x_shape, **conv: conv2d_weight_grad(
        h, g, w_shape=w.shape, **_conv_params(**conv)), reads=("inputs",),
    jvp=lambda vs, out, g, w, x_shape, **conv: _bilinear_jvp(
        lambda a, b: conv2d_input_grad(a, b, x_shape=x_shape, **_conv_params(**conv)))(vs, out, g, w))
# max over kh x kw windows (dilated, strided); the gradient goes to each window's first maximum
max_pool2d = Primitive("max_pool2d", max_pool2d_forward,
                       lambda g, out, x, position, **window: window_scatter(
                           g, position=position, shape=x.shape, **window),
                       saves=("position",), reads=("inputs",),
                       jvp=lambda vs, out, x, position, **window: window_gather(vs[0], position=position, **window))
# put one value into each window at a given position, and its transpose, take it back out
window_scatter = Primitive("window_scatter", window_scatter_forward,
                           lambda h, out, g, position, shape, **window: window_gather(
                               h, position=position, **window), reads=(),
                           jvp=lambda vs, out, g, position, shape, **window: window_scatter(
                               vs[0], position=position, shape=shape, **window))
window_gather = Primitive("window_gather", window_gather_forward,
                          lambda h, out, x, position, **window: window_scatter(
                              h, position=position, shape=x.shape, **window),
                          reads=("inputs",),
                          jvp=lambda vs, out, x, position, **window: window_gather(vs[0], position=position, **window))

PRIMITIVES: dict[str, Primitive] = {
    p.name: p for p in globals().values() if isinstance(p, Primitive)
}
