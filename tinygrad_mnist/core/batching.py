"""Batching for ``func.vmap``: batched arrays, and one batching rule per primitive of the rule table.

Inside ``vmap(f)(x)``, ``f`` sees tensors of the per-example (*logical*) shape,
while each batched tensor physically holds the whole batch. The mark of
batching lives on the array itself: a batched tensor is a plain ``Tensor``
whose ``.data`` is a ``BatchedArray``, a numpy array whose leading axes
are batch axes, one per active vmap *level* (the innermost level first), and
whose ``shape``, ``ndim``, ``size`` and ``len`` report the logical shape. So
``Tensor.shape``, the backward walk's shape checks (``sum_to_size`` of
broadcast gradients) and every composite see logical shapes, and nested vmaps
are levels of the same mark.

Two mechanisms keep batched values correct:

1. **Batching rules** (the table ``RULES``, keyed by primitive name). While a
   vmap level is open, ``Primitive.__call__`` sends a call with a batched input
   (or a batched parameter: a ``where`` condition, an index, a max-pool
   position) to ``call``. It folds every batched input's batch axes into
   one axis 0 (``None`` marks an unbatched input, as JAX's batch dims) and the
   rule returns the output with the batch on axis 0: elementwise rows broadcast
   after aligning ranks, reductions, transposes, reshapes, indexing and
   scatter shift axes, ``matmul``/``linear`` use batched matrix products,
   convolutions and pooling fold the batch into N, and a batched weight turns
   into a grouped convolution (groups times the batch). The node is recorded
   on the batched tensors as usual, so ``grad`` inside ``vmap`` walks them,
   calling VJP rules whose primitives are batched in turn: per-example gradients.
2. **Batched numpy**: the few forwards, composites and VJPs that read ``.data``
   directly (masks such as ``a.data > 0``, ``np.max(x.data, axis=...)``,
   ``out.data.reshape(kept)``) get a ``BatchedArray``, whose ufuncs align
   logical ranks, whose reductions, reshapes and indexing shift axes past the
   batch axes, and whose result stays marked. A numpy function without such
   handling raises ``NotImplementedError`` naming it, never a silent wrong
   answer. ``any()``/``all()`` without an axis answer for the whole batch (they
   only choose between equivalent formulas), and ``bool()`` of a batched value
   is allowed only when every example agrees (data-dependent control flow).

The batched arrays themselves are in ``tinygrad_mnist.core.batched_array``.

Examples:
    >>> import numpy as np
    >>> sorted(RULES)[:4]
    ['add', 'broadcast_to', 'cast', 'ceil']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .batched_array import (
    BATCHING,
    BatchedArray,
    Levels,
    batch_sizes,
    batched_index,
    is_index_array,
    lift_levels,
    mark,
    physical_index,
    physical_shape,
    plain,
)
from .kernels import (
    conv2d_forward,
    conv2d_input_grad_forward,
    conv2d_weight_grad_forward,
)
from .pool_kernels import max_pool2d_forward, window_gather_forward, window_scatter_forward

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .graph import Primitive
    from .tensor import Tensor

__all__ = ["BATCHING", "RULES", "BatchedArray", "call", "mark"]


# ---- the dispatch ------------------------------------------------------------------------
_FOLDED = (-1,)  # the pseudo-level of a parameter array whose batch axes a rule sees folded into one


def _fold(a: Any, levels: Levels, sizes: dict[int, int]) -> Any:
    """A batched array as a plain array with all of ``levels`` folded into one axis 0."""
    lifted = lift_levels(a, levels, sizes, a.ndim)
    return lifted if len(levels) == 1 else lifted.reshape((-1, *physical_shape(lifted)[len(levels):]))


def _fold_param(v: Any, levels: Levels, sizes: dict[int, int]) -> Any:
    if isinstance(v, BatchedArray):
        return mark(_fold(v, levels, sizes), _FOLDED)
    if isinstance(v, tuple) and any(isinstance(i, BatchedArray) for i in v):
        return tuple(_fold_param(i, levels, sizes) for i in v)
    return v


def _param_arrays(params: dict[str, Any]) -> list[Any]:
    found = []
    for v in params.values():
        for item in v if isinstance(v, tuple) else (v,):
            if isinstance(item, BatchedArray):
                found.append(item)
    return found


def call(prim: Primitive, inputs: Sequence[Tensor], params: dict[str, Any]) -> tuple[Any, Any] | None:
    """Run ``prim`` on batched inputs through its batching rule: the batched output and saved extras
    (None when no input or parameter is batched: the caller runs the plain forward)."""
    datas = [t.data for t in inputs]
    arrays = [d for d in datas if isinstance(d, BatchedArray)] + _param_arrays(params)
    if not arrays:
        return None
    rule = RULES.get(prim.name)
    if rule is None:
        raise NotImplementedError(f"vmap: primitive {prim.name!r} has no batching rule")
    levels, sizes = batch_sizes(arrays)
    batch = tuple(sizes[level] for level in levels)
    flags = [isinstance(d, BatchedArray) for d in datas]
    folded = [_fold(d, levels, sizes) if b else d for d, b in zip(datas, flags, strict=True)]
    folded_params = {k: _fold_param(v, levels, sizes) for k, v in params.items()}
    result = rule(prim.forward, folded, flags, math.prod(batch), **folded_params)
    out, saved = result if isinstance(result, tuple) else (result, None)
    out = mark(np.asarray(out).reshape(batch + np.shape(out)[1:]), levels)
    if saved:
        saved = {k: mark(v.view(np.ndarray).reshape(batch + physical_shape(v)[1:]), levels)
                 if isinstance(v, BatchedArray) else v for k, v in saved.items()}
    return out, saved


# ---- the rules: plain arrays, batched ones with the batch on axis 0 -------------------------
Rule = Callable[..., Any]


def _full(x: np.ndarray, b: bool, size: int) -> np.ndarray:
    """``x`` with the batch on axis 0 (an unbatched ``x`` broadcast, without a copy)."""
    return x if b else np.broadcast_to(x, (size, *np.shape(x)))


def _ranked(xs: Sequence[Any], bs: Sequence[bool]) -> list[Any]:
    """Batched arrays given size-1 axes after the batch so that every logical rank is the same."""
    rank = max(np.ndim(x) - b for x, b in zip(xs, bs, strict=True))
    return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim + 1) + x.shape[1:]) if b else x
            for x, b in zip(xs, bs, strict=True)]


def _shift(axis: int) -> int:
    return axis + 1 if axis >= 0 else axis


def _where(xs: list[Any], bs: list[bool], size: int, cond: Any) -> Any:
    c = isinstance(cond, BatchedArray)
    a, b, cond = _ranked([*xs, plain(cond)], [*bs, c])
    return np.where(cond, a, b)


def _matmul(xs: list[Any], bs: list[bool], size: int) -> Any:
    (a, b), (ba, bb) = xs, bs
    vec_a, vec_b = a.ndim - ba == 1, b.ndim - bb == 1
    if vec_a:  # a row vector, dropped again below
        a = a[..., None, :]
    if vec_b:
        b = b[..., :, None]
    a, b = _ranked([a, b], [ba, bb])
    # an outer product (per-example weight gradients): broadcasting beats a batch of rank-1 matrix products
    out = np.multiply(a, b) if a.shape[-1] == 1 and b.shape[-2] == 1 else np.matmul(a, b)
    if vec_b:
        out = out[..., 0]
    return out[..., 0, :] if vec_a else out


def _linear(xs: list[Any], bs: list[bool], size: int) -> Any:
    x, w, b = xs
    out = _matmul([x, np.swapaxes(w, -1, -2)], bs[:2], size)
    out += b if not bs[2] or not any(bs[:2]) else b.reshape(b.shape[:1] + (1,) * (out.ndim - b.ndim) + b.shape[1:])
    return out


def _broadcast_to(xs: list[Any], bs: list[bool], size: int, shape: tuple[int, ...]) -> Any:
    (x,) = xs
    x = x.reshape(x.shape[:1] + (1,) * (len(shape) - x.ndim + 1) + x.shape[1:])
    return np.broadcast_to(x, (size, *shape))


def _join(forward: Callable[..., Any]) -> Rule:
    def rule(xs: list[Any], bs: list[bool], size: int, axis: int) -> Any:
        return forward([_full(x, b, size) for x, b in zip(xs, bs, strict=True)], axis=_shift(axis))
    return rule


def _getitem(xs: list[Any], bs: list[bool], size: int, index: Any) -> Any:
    return batched_index(_full(xs[0], bs[0], size), 1, index)


def _scatter(xs: list[Any], bs: list[bool], size: int, index: Any, shape: tuple[int, ...]) -> Any:
    physical, move = physical_index(len(shape), size, index)
    src = _full(xs[0], bs[0], size)
    if move is not None:
        src = np.moveaxis(src, move[1], move[0])
    out = np.zeros((size, *shape), dtype=src.dtype)
    if any(is_index_array(i) for i in physical[1:]) or move is not None or not isinstance(physical[0], slice):
        np.add.at(out, physical, src)  # repeated indices must add up
    else:
        out[physical] = src
    return out


def _fold_n(x: np.ndarray) -> np.ndarray:
    """(batch, N, ...) as (batch * N, ...)."""
    return x.reshape((-1, *x.shape[2:]))


def _into_channels(x: np.ndarray) -> np.ndarray:
    """(batch, N, C, H, W) as (N, batch * C, H, W): each example's channels a block of its own."""
    return x.transpose(1, 0, 2, 3, 4).reshape(x.shape[1], -1, *x.shape[3:])


def _out_of_channels(y: np.ndarray, size: int) -> np.ndarray:
    return y.reshape(y.shape[0], size, -1, *y.shape[2:]).transpose(1, 0, 2, 3, 4)


def _conv2d(xs: list[Any], bs: list[bool], size: int, stride: Any, padding: Any, dilation: Any = 1,
            groups: int = 1) -> Any:
    (x, w), (bx, bw) = xs, bs
    if not bw:  # a batch of inputs, one weight: the batch joins N
        out, _ = conv2d_forward(_fold_n(x), w, stride, padding, dilation, groups)
        return out.reshape(size, x.shape[1], *out.shape[1:]), {"cols": None}
    x = _full(x, bx, size)  # a weight per example: a grouped convolution, groups times the batch
    out, _ = conv2d_forward(_into_channels(x), _fold_n(w), stride, padding, dilation, groups * size)
    return _out_of_channels(out, size), {"cols": None}


def _conv2d_bias(xs: list[Any], bs: list[bool], size: int, stride: Any, padding: Any, dilation: Any = 1,
                 groups: int = 1) -> Any:
    """The convolution of the batch (as ``_conv2d``), then each example's bias or the one bias."""
    out, saved = _conv2d(xs[:2], bs[:2], size, stride, padding, dilation, groups)
    bias = xs[2].reshape((size if bs[2] else 1), 1, -1, 1, 1)
    return out + bias, saved


def _conv2d_weight_grad(xs: list[Any], bs: list[bool], size: int, w_shape: tuple[int, ...], stride: Any,
                        padding: Any, dilation: Any = 1, groups: int = 1, cols: Any = None) -> Any:
    x, g = (_full(v, b, size) for v, b in zip(xs, bs, strict=True))
    shape = (size * w_shape[0], *w_shape[1:])
    out = conv2d_weight_grad_forward(_into_channels(x), _into_channels(g), shape, stride, padding, dilation,
                                     groups * size)
    return out.reshape(size, *w_shape)


def _conv2d_input_grad(xs: list[Any], bs: list[bool], size: int, x_shape: tuple[int, ...], stride: Any,
                       padding: Any, dilation: Any = 1, groups: int = 1) -> Any:
    (g, w), (bg, bw) = xs, bs
    if not bw:
        out = conv2d_input_grad_forward(_fold_n(g), w, (size * x_shape[0], *x_shape[1:]), stride, padding,
                                        dilation, groups)
        return out.reshape(size, *x_shape)
    g = _full(g, bg, size)
    shape = (x_shape[0], size * x_shape[1], *x_shape[2:])
    out = conv2d_input_grad_forward(_into_channels(g), _fold_n(w), shape, stride, padding, dilation, groups * size)
    return _out_of_channels(out, size)


def _window(forward: Callable[..., Any], shaped: bool = False, saves: bool = False) -> Rule:
    """Pooling rows: the batch joins N (a position computed per example is batched too)."""
    def rule(xs: list[Any], bs: list[bool], size: int, **params: Any) -> Any:
        x = _full(xs[0], bs[0], size)
        if "position" in params:
            position = params["position"]
            params["position"] = _fold_n(_full(plain(position), isinstance(position, BatchedArray), size))
        if shaped:
            params["shape"] = (size * params["shape"][0], *params["shape"][1:])
        result = forward(_fold_n(x), **params)
        if saves:
            out, position = result
            return (out.reshape(size, -1, *out.shape[1:]),
                    {"position": mark(position.reshape(size, -1, *position.shape[1:]), _FOLDED)})
        return result.reshape(size, -1, *result.shape[1:])
    return rule


def _elementwise(forward: Callable[..., Any], xs: list[Any], bs: list[bool], size: int, **params: Any) -> Any:
    return forward(*_ranked(xs, bs), **params)


def _axes(forward: Callable[..., Any], xs: list[Any], bs: list[bool], size: int, axis: Any, **params: Any) -> Any:
    """Rows with an ``axis`` (an int or a tuple): the same forward, the axes shifted past the batch."""
    shifted = tuple(_shift(a) for a in axis) if isinstance(axis, tuple) else _shift(axis)
    return forward(xs[0], axis=shifted, **params)


def _numpy(rule: Callable[..., Any]) -> Rule:
    """A rule that does not need the row's own forward."""
    return lambda forward, *args, **params: rule(*args, **params)


_ELEMENTWISE = ("add", "sub", "mul", "div", "pow", "neg", "exp", "log", "tanh", "log1p", "expm1", "sin", "cos",
                "erf", "sign", "floor", "ceil", "round", "sigmoid", "relu", "maximum", "cast")

RULES: dict[str, Rule] = {
    **dict.fromkeys(_ELEMENTWISE, _elementwise),
    **dict.fromkeys(("log_softmax", "sum", "max"), _axes),
    "where": _numpy(_where),
    "reshape": _numpy(lambda xs, bs, size, shape: xs[0].reshape((size, *shape))),
    "transpose": _numpy(lambda xs, bs, size, axes: np.transpose(xs[0], (0, *(a + 1 for a in axes)))),
    "broadcast_to": _numpy(_broadcast_to), "getitem": _numpy(_getitem), "scatter": _numpy(_scatter),
    "matmul": _numpy(_matmul), "linear": _numpy(_linear),
    "stack": _numpy(_join(np.stack)), "concatenate": _numpy(_join(np.concatenate)),
    "conv2d": _numpy(_conv2d), "conv2d_bias": _numpy(_conv2d_bias), "conv2d_weight_grad": _numpy(_conv2d_weight_grad),
    "conv2d_input_grad": _numpy(_conv2d_input_grad),
    "max_pool2d": _numpy(_window(max_pool2d_forward, saves=True)),
    "window_scatter": _numpy(_window(window_scatter_forward, shaped=True)),
    "window_gather": _numpy(_window(window_gather_forward)),
}
"""The batching rule of each primitive, by name: ``rule(forward, arrays, batched, size, **params)`` with
the row's numpy forward, the inputs (batched ones with the batch on axis 0), which are batched, the batch
size and the parameters; it returns the output with the batch on axis 0 (and, for rows that save
extras, ``(output, saved)``)."""
