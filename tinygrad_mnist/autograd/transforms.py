"""Functional transforms built on reverse mode: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``.

Each takes a function of Tensors and the point to evaluate at. Because the
engine's gradients are Tensors recorded with ``create_graph=True``, second
derivatives are reverse mode applied twice; ``jvp`` is true forward mode
([`tinygrad_mnist.autograd.forward_ad`][tinygrad_mnist.autograd.forward_ad]): one pass carrying the tangent.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> A = Tensor(np.array([[1.0, 2.0], [0.0, 3.0]]))
    >>> x = Tensor(np.array([1.0, -1.0]))
    >>> hessian(lambda x: x @ (A @ x), x)            # x^T A x  ->  A + A^T
    Tensor([[2., 2.],
            [2., 6.]], dtype=float64)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.functions import stack
from ..core.grad_mode import enable_grad
from ..core.tensor import Tensor
from .forward_ad import dual_level, make_dual, unpack_dual
from .functional import as_tensor_tuple, grad

Inputs = Tensor | Sequence[Tensor]


def _prepare(inputs: Inputs, create_graph: bool) -> tuple[tuple[Tensor, ...], bool]:
    """The inputs as leaves requiring grad; with ``create_graph`` ones already requiring grad are
    kept, so that the result stays differentiable with respect to them."""
    items = as_tensor_tuple(inputs, "inputs")
    for i, t in enumerate(items):
        if t.dtype.kind != "f":
            raise TypeError(f"inputs[{i}] must be floating point, got dtype {t.dtype}")
    prepared = tuple(t if create_graph and t.requires_grad else t.detach().requires_grad_() for t in items)
    return prepared, not isinstance(inputs, Tensor)


def _zeros_for_unused(grads: Sequence[Tensor | None], like: Sequence[Tensor]) -> tuple[Tensor, ...]:
    return tuple(g if g is not None else Tensor(np.zeros(x.shape, x.dtype)) for g, x in zip(grads, like, strict=True))


def _grad_or_none(out: Tensor, xs: tuple[Tensor, ...], seed: Tensor | None,
                  create_graph: bool) -> Sequence[Tensor | None]:
    """``grad`` that also accepts an output computed without the inputs (all None)."""
    if not out.requires_grad:
        return (None,) * len(xs)
    return grad(out, xs, grad_outputs=seed, create_graph=create_graph, allow_unused=True)


def _seed(v: Any, like: Tensor, what: str) -> Tensor:
    seed = v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=like.dtype))
    if seed.shape != like.shape:
        raise ValueError(f"{what}: v has shape {seed.shape}, expected {like.shape}")
    return seed


def _directions(v: Any, xs: tuple[Tensor, ...], many_inputs: bool, what: str) -> tuple[Tensor, ...]:
    vs = tuple(v) if many_inputs else (v,)
    if len(vs) != len(xs):
        raise ValueError(f"{what}: got {len(vs)} direction(s) in v for {len(xs)} inputs")
    return tuple(_seed(d, x, what) for d, x in zip(vs, xs, strict=True))


def _call(fn: Callable[..., Any], xs: tuple[Tensor, ...]) -> Any:
    with enable_grad():
        return fn(*xs)


def jacobian(fn: Callable[..., Any], inputs: Inputs, create_graph: bool = False) -> Any:
    """d fn(inputs) / d inputs, one reverse pass per output element.

    For one output and one input the result has shape ``output.shape +
    input.shape``; a tuple of inputs gives a tuple of blocks, and a tuple of
    outputs a tuple of those.

    Examples:
        >>> x = Tensor(np.array([1.0, 2.0]))
        >>> jacobian(lambda x: x * x, x)
        Tensor([[2., 0.],
                [0., 4.]], dtype=float64)
    """
    xs, many_inputs = _prepare(inputs, create_graph)
    raw = _call(fn, xs)
    outputs = as_tensor_tuple(raw, "fn output")
    result = []
    for out in outputs:
        rows: list[list[Tensor]] = [[] for _ in xs]
        for j in range(out.data.size):
            if out.requires_grad:
                seed = np.zeros(out.shape, dtype=out.dtype)
                seed.flat[j] = 1
                grads = grad(out, xs, grad_outputs=Tensor(seed), retain_graph=True,
                             create_graph=create_graph, allow_unused=True)
            else:  # does not depend on the inputs at all
                grads = (None,) * len(xs)
            for i, g in enumerate(_zeros_for_unused(grads, xs)):
                rows[i].append(g)
        blocks = tuple(
            stack(r).reshape(out.shape + x.shape) if r else Tensor(np.zeros(out.shape + x.shape, x.dtype))
            for r, x in zip(rows, xs, strict=True)
        )
        result.append(blocks if many_inputs else blocks[0])
    return tuple(result) if not isinstance(raw, Tensor) else result[0]


def hessian(fn: Callable[..., Tensor], inputs: Inputs) -> Any:
    """Second derivatives of a scalar ``fn``: shape ``input.shape * 2`` for one input,
    ``H[i][j]`` blocks for a tuple of inputs."""
    xs, many_inputs = _prepare(inputs, create_graph=False)

    def gradient(*ys: Tensor) -> tuple[Tensor, ...]:
        out = fn(*ys)
        if out.data.size != 1:
            raise ValueError(f"hessian: fn must return a single value, got shape {out.shape}")
        return _zeros_for_unused(_grad_or_none(out, ys, None, create_graph=True), ys)

    blocks = jacobian(gradient, xs)
    return blocks if many_inputs else blocks[0][0]


def vjp(fn: Callable[..., Tensor], inputs: Inputs, v: Any = None, create_graph: bool = False) -> tuple[Tensor, Any]:
    """``(fn(inputs), v^T J)``; ``v`` may be omitted for a one-element output."""
    xs, many_inputs = _prepare(inputs, create_graph)
    out = _call(fn, xs)
    seed = None if v is None else _seed(v, out, "vjp")
    if v is None and out.data.size != 1:
        raise ValueError(f"vjp: fn returned shape {out.shape}; pass v shaped like it")
    grads = _zeros_for_unused(_grad_or_none(out, xs, seed, create_graph), xs)
    return (out if create_graph else out.detach()), (grads if many_inputs else grads[0])


def jvp(fn: Callable[..., Tensor], inputs: Inputs, v: Any, create_graph: bool = False) -> tuple[Tensor, Tensor]:
    """``(fn(inputs), J v)`` by forward mode; ``v`` is shaped like the input(s).

    One evaluation of ``fn`` with the inputs carrying ``v`` as tangents (a dual
    level is opened for it). With ``create_graph`` both results stay connected
    to the graph of inputs that require grad.

    Examples:
        >>> x = Tensor(np.array([1.0, 2.0]))
        >>> jvp(lambda x: x * x, x, Tensor(np.array([1.0, 1.0])))[1]
        Tensor([2., 4.], dtype=float64)
    """
    items = as_tensor_tuple(inputs, "inputs")
    for i, t in enumerate(items):
        if t.dtype.kind != "f":
            raise TypeError(f"inputs[{i}] must be floating point, got dtype {t.dtype}")
    xs = items if create_graph else tuple(t.detach() for t in items)
    directions = _directions(v, xs, not isinstance(inputs, Tensor), "jvp")
    with dual_level():
        out = _call(fn, tuple(make_dual(x, d.to(x.dtype)) for x, d in zip(xs, directions, strict=True)))
        primal, tangent = unpack_dual(out)
    if tangent is None:  # the output does not depend on the inputs
        tangent = Tensor(np.zeros(primal.shape, primal.dtype))
    if not create_graph:
        return primal.detach(), tangent.detach()
    return primal, tangent


def hvp(fn: Callable[..., Tensor], inputs: Inputs, v: Any) -> tuple[Tensor, Any]:
    """``(fn(inputs), H v)`` for a scalar ``fn``, without forming the Hessian."""
    xs, many_inputs = _prepare(inputs, create_graph=False)
    directions = _directions(v, xs, many_inputs, "hvp")
    out = _call(fn, xs)
    if out.data.size != 1:
        raise ValueError(f"hvp: fn must return a single value, got shape {out.shape}")
    gradients = _grad_or_none(out, xs, None, create_graph=True)
    used = [(g, d) for g, d in zip(gradients, directions, strict=True) if g is not None and g.requires_grad]
    if not used:
        products: tuple[Tensor, ...] = _zeros_for_unused([None] * len(xs), xs)
    else:
        products = _zeros_for_unused(grad([g for g, _ in used], xs, grad_outputs=[d for _, d in used],
                                          allow_unused=True), xs)
    return out.detach(), (products if many_inputs else products[0])
