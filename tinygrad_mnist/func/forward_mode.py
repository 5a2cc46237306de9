"""Forward-mode transforms: ``jvp``, ``jacfwd`` and ``hessian`` (forward over reverse).

``jvp`` opens a dual level ([`tinygrad_mnist.autograd.forward_ad`][tinygrad_mnist.autograd.forward_ad]), gives
each primal its tangent with ``make_dual``, calls the function once, and reads
the outputs' tangents: one forward pass gives ``f(x)`` and ``J v`` together.
``jacfwd`` builds the Jacobian a column at a time, one such pass per input
element; ``hessian`` is ``jacfwd(jacrev(f))``: the tangents are pushed through
the recorded backward pass of ``jacrev``. Dual levels do not nest, so neither
do the forward-mode transforms (``jacfwd(jacfwd(f))`` raises); reverse mode
nests inside and outside them.

Examples:
    >>> import tinygrad_mnist as tm
    >>> from tinygrad_mnist.func import jvp
    >>> jvp(lambda x: x * x, (tm.tensor([1.0, 2.0]),), (tm.tensor([1.0, 0.0]),))
    (Tensor([1., 4.]), Tensor([2., 0.]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import random
from ..autograd.forward_ad import dual_level, make_dual, unpack_dual
from ..core.forward import FORWARD
from ..core.functions import stack
from ..core.grad_mode import STATE
from ..core.tensor import Tensor
from ._tree import (
    check_argnums,
    check_bool,
    check_callable,
    detach_unless,
    flatten,
    reaches_outside,
    resolve_argnums,
    split_aux,
    tensor_leaves,
    unflatten,
)
from .reverse import jacrev

__all__ = ["hessian", "jacfwd", "jvp"]

_RANDOMNESS = ("error", "different", "same")


def _no_open_level(name: str) -> None:
    if FORWARD.level is not None:
        raise RuntimeError(f"{name}: forward mode does not nest: a dual level is already open (a jvp, jacfwd or "
                           "hessian inside another, or inside forward_ad.dual_level()); use reverse mode (grad, "
                           "vjp, jacrev) for the inner or the outer transform")


def _outputs(name: str, result: Any, has_aux: bool) -> tuple[list[Tensor], Any, Any]:
    """The output tensors of one call (flattened), their structure and the aux."""
    out, aux = split_aux(name, result, has_aux)
    leaves, spec = flatten(out)
    for k, leaf in enumerate(leaves):
        if not isinstance(leaf, Tensor):
            where = "func's output" if spec.kind is None else f"func's output (leaf {k})"
            raise TypeError(f"{name}: {where} must be a Tensor, got {type(leaf).__name__} {leaf!r}")
    if has_aux:
        for leaf in flatten(aux)[0]:
            if not isinstance(leaf, Tensor):
                raise TypeError(f"{name}: the aux output must hold only Tensors, got {type(leaf).__name__} {leaf!r}")
    return leaves, spec, aux


def _tangent(t: Tensor) -> Tensor:
    """``t``'s tangent in the open level; zeros for an output that does not depend on the primals."""
    tangent = unpack_dual(t).tangent
    return tangent if tangent is not None else Tensor._wrap(np.zeros(t.data.shape, dtype=t.data.dtype))


def jvp(func: Callable[..., Any], primals: Any, tangents: Any, *, strict: bool = False,
        has_aux: bool = False) -> tuple[Any, ...]:
    """``(func(*primals), J tangents)`` by forward mode, and ``aux`` third with ``has_aux``.

    ``primals`` is the tuple of arguments (each a Tensor, or a tuple, list or dict of
    them) and ``tangents`` has the same structure, shapes and dtypes. The tangent
    output has the structure of the output. ``strict=True`` is not supported.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> x, y = tm.tensor([1.0, 2.0]), tm.tensor([3.0, 4.0])
        >>> jvp(lambda x, y: x * y, (x, y), (tm.ones(2), tm.zeros(2)))[1]   # d/dx (x y) = y
        Tensor([3., 4.])
    """
    check_callable("jvp", func)
    check_bool("jvp", "strict", strict)
    check_bool("jvp", "has_aux", has_aux)
    if strict:
        raise NotImplementedError("jvp: strict=True is not supported (as in PyTorch)")
    for argument, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, tuple):
            raise TypeError(f"jvp: {argument} must be a tuple (func is called as func(*primals)), got "
                            f"{type(value).__name__}")
    primal_leaves, spec = tensor_leaves("jvp", "primals", primals)
    tangent_leaves, tangent_spec = flatten(tangents)
    if tangent_spec != spec:
        raise ValueError(f"jvp: tangents must have the structure of primals, {spec!r}, got {tangent_spec!r}")
    for k, (p, t) in enumerate(zip(primal_leaves, tangent_leaves, strict=True)):
        if not isinstance(t, Tensor):
            raise TypeError(f"jvp: tangent {k} must be a Tensor, got {type(t).__name__} {t!r}")
        if t.shape != p.shape:
            raise ValueError(f"jvp: tangent {k} has shape {t.shape}, expected its primal's shape {p.shape}")
        if t.dtype != p.dtype:
            raise TypeError(f"jvp: tangent {k} has dtype {t.dtype}, expected its primal's dtype {p.dtype}")
    _no_open_level("jvp")
    outer_enabled = STATE.enabled
    with dual_level():
        duals = [make_dual(p, t) for p, t in zip(primal_leaves, tangent_leaves, strict=True)]
        result = func(*unflatten(duals, spec))
        leaves, out_spec, aux = _outputs("jvp", result, has_aux)
        pairs = [(unpack_dual(o).primal, _tangent(o)) for o in leaves]
    keep = outer_enabled and reaches_outside([t for pair in pairs for t in pair] + (flatten(aux)[0] if has_aux else []))
    outputs = detach_unless(keep, unflatten([p for p, _ in pairs], out_spec))
    products = detach_unless(keep, unflatten([t for _, t in pairs], out_spec))
    return (outputs, products, detach_unless(keep, aux)) if has_aux else (outputs, products)


def jacfwd(func: Callable[..., Any], argnums: int | tuple[int, ...] = 0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable[..., Any]:
    """A function returning the Jacobian of ``func`` by forward mode: one JVP per input element (a column).

    Blocks are shaped ``output.shape + input.shape`` and nest like [`jacrev`][tinygrad_mnist.func.jacrev]'s.
    The columns come from separate calls of ``func``, so ``randomness`` says what
    random draws inside it may do: ``"error"`` (raise if it draws), ``"different"``
    (each column draws anew) or ``"same"`` (every column sees the same draws).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> jacfwd(lambda x: x ** 2)(tm.tensor([1.0, 3.0]))
        Tensor([[2., 0.],
                [0., 6.]])
    """
    check_callable("jacfwd", func)
    check_argnums("jacfwd", argnums)
    check_bool("jacfwd", "has_aux", has_aux)
    if randomness not in _RANDOMNESS:
        raise ValueError(f"jacfwd: randomness must be one of {_RANDOMNESS}, got {randomness!r}")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        positions = resolve_argnums("jacfwd", argnums, len(args))
        _no_open_level("jacfwd")
        outer_enabled = STATE.enabled
        groups = [tensor_leaves("jacfwd", f"argument {i}", args[i]) for i in positions]
        inputs = [leaf for leaves, _ in groups for leaf in leaves]
        state = random.get_rng_state() if randomness != "different" else None

        def column(k: int, e: int) -> tuple[list[Tensor], Any, Any]:
            """The outputs' tangents along the e-th element of input k (k = -1: no tangent at all)."""
            if state is not None and randomness == "same":
                random.set_rng_state(state)
            with dual_level():
                flat = list(inputs)
                if k >= 0:
                    seed = np.zeros(inputs[k].data.size, dtype=inputs[k].data.dtype)
                    seed[e] = 1
                    flat[k] = make_dual(inputs[k], Tensor._wrap(seed.reshape(inputs[k].data.shape)))
                call_args, start = list(args), 0
                for i, (_, spec) in zip(positions, groups, strict=True):
                    call_args[i] = unflatten(flat[start:start + spec.size], spec)
                    start += spec.size
                leaves, out_spec, aux = _outputs("jacfwd", func(*call_args, **kwargs), has_aux)
                tangents = [_tangent(o) for o in leaves]
            if state is not None and randomness == "error" and random.get_rng_state() != state:
                raise RuntimeError("jacfwd: func draws random numbers, and randomness='error'; pass "
                                   "randomness='different' or 'same' to say what each column should see")
            return tangents, out_spec, aux

        columns = [column(k, e) for k, x in enumerate(inputs) for e in range(x.data.size)]
        first = columns[0] if columns else column(-1, 0)
        _, out_spec, aux = first
        outputs = first[0]
        blocks: list[list[Tensor]] = [[] for _ in outputs]  # per output: one block per input
        start = 0
        for x in inputs:
            cols = columns[start:start + x.data.size]
            start += x.data.size
            for o, out in enumerate(outputs):
                blocks[o].append(_assemble([c[0][o] for c in cols], out, x))
        per_output = []
        for o in range(len(outputs)):
            grouped, at = [], 0
            for _, spec in groups:
                grouped.append(unflatten(blocks[o][at:at + spec.size], spec))
                at += spec.size
            per_output.append(tuple(grouped) if isinstance(argnums, tuple) else grouped[0])
        jac = unflatten(per_output, out_spec)
        keep = outer_enabled and reaches_outside(flatten(jac)[0] + (flatten(aux)[0] if has_aux else []))
        return (detach_unless(keep, jac), detach_unless(keep, aux)) if has_aux else detach_unless(keep, jac)

    return wrapper


def _assemble(cols: list[Tensor], out: Tensor, x: Tensor) -> Tensor:
    """Columns d out / d x_e (each shaped like ``out``) as one block shaped ``out.shape + x.shape``."""
    shape = out.shape + x.shape
    if not cols:
        return Tensor._wrap(np.zeros(shape, dtype=out.data.dtype))
    if any(c.requires_grad for c in cols):  # recorded: keep the block differentiable
        return stack(cols, dim=out.ndim).reshape(shape)
    return Tensor._wrap(np.stack([c.data for c in cols], axis=-1).reshape(shape))


def hessian(func: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the second derivatives of the scalar ``func``: ``jacfwd(jacrev(func))``,
    forward mode over reverse mode. For one input the result has shape ``input.shape * 2``.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> hessian(lambda x: (x ** 3).sum())(tm.tensor([1.0, 2.0]))      # diag(6 x)
        Tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    check_callable("hessian", func)
    check_argnums("hessian", argnums)
    return jacfwd(jacrev(func, argnums), argnums)
