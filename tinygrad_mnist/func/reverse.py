"""Reverse-mode transforms: ``grad``, ``grad_and_value``, ``vjp``, ``jacrev``.

Each call of a transformed function gives every tensor of the differentiated
arguments a fresh *alias* (a recorded view, see ``alias``), calls
``func`` on the aliases and runs reverse mode back to them. Gradients are taken
with respect to the aliases only, so a transform nested inside another never
mixes its variable up with the outer one's ("perturbation confusion"), while
the outer transform still sees, through the alias, that the result depends on
its own variable. The backward pass is recorded (``create_graph``) only when
someone outside can differentiate the result: an enclosing transform, the
caller's own graph (an argument or a captured tensor that requires grad) or an
open dual level (forward mode over reverse mode).

Examples:
    >>> import tinygrad_mnist as tm
    >>> from tinygrad_mnist.func import grad
    >>> x = tm.tensor(2.0)
    >>> grad(lambda x: x ** 3)(x), grad(grad(lambda x: x ** 3))(x)
    (Tensor(12.), Tensor(12.))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import graph
from ..core.forward import FORWARD
from ..core.functions import stack
from ..core.grad_mode import STATE, enable_grad
from ..core.tensor import Tensor
from ._tree import (
    Spec,
    alias,
    check_argnums,
    check_bool,
    check_callable,
    close_scope,
    detach_unless,
    flatten,
    map_leaves,
    open_scope,
    reaches_outside,
    resolve_argnums,
    split_aux,
    tensor_leaves,
    unflatten,
    zeros_for,
)

__all__ = ["grad", "grad_and_value", "jacrev", "vjp"]


class _Traced:
    """``func`` called on fresh aliases of the tensors of the chosen arguments: what reverse mode needs."""

    def __init__(self, name: str, func: Callable[..., Any], positions: tuple[int, ...], args: tuple[Any, ...],
                 kwargs: dict[str, Any], has_aux: bool) -> None:
        self.name = name
        outer_enabled = STATE.enabled
        self.inputs: list[Tensor] = []  # the aliases, all positions flattened in order
        self.specs: list[Spec] = []
        call_args = list(args)
        scope = open_scope()
        try:
            for i in positions:
                leaves, spec = tensor_leaves(name, f"argument {i}", args[i])
                aliases = [alias(t, scope) for t in leaves]
                call_args[i] = unflatten(aliases, spec)
                self.inputs.extend(aliases)
                self.specs.append(spec)
            with enable_grad():
                result = func(*call_args, **kwargs)
            self.output, aux = split_aux(name, result, has_aux)
            self.aux = None if aux is None else map_leaves(self._aux_leaf, aux)
            self.output_leaves, self.output_spec = flatten(self.output)
            for k, leaf in enumerate(self.output_leaves):
                if not isinstance(leaf, Tensor):
                    where = "func's output" if self.output_spec.kind is None else f"func's output (leaf {k})"
                    raise TypeError(f"{name}: {where} must be a Tensor, got {type(leaf).__name__} {leaf!r}")
            # Record the backward pass only if its results can be differentiated from outside.
            self.create_graph = FORWARD.level is not None or (
                outer_enabled and reaches_outside(self.output_leaves, scope))
        finally:
            close_scope(scope)

    def _aux_leaf(self, leaf: Any) -> Any:
        if not isinstance(leaf, Tensor):
            raise TypeError(f"{self.name}: the aux output must hold only Tensors, got {type(leaf).__name__} {leaf!r}")
        return leaf

    def gradients(self, roots: list[Tensor], seeds: list[Tensor] | None,
                  create_graph: bool | None = None) -> list[Tensor]:
        """``sum_k seeds[k]^T d roots[k] / d inputs``, one gradient per alias (zeros where unused)."""
        record = self.create_graph if create_graph is None else create_graph
        live = [k for k, r in enumerate(roots) if r.requires_grad]
        found: list[Tensor | None] = [None] * len(self.inputs)
        if live and self.inputs:
            found = graph.backward([roots[k] for k in live], None if seeds is None else [seeds[k] for k in live],
                                   True, record, inputs=self.inputs) or found
        return [_like(g, x) for g, x in zip(found, self.inputs, strict=True)]

    def per_argument(self, flat: list[Any]) -> list[Any]:
        """``flat`` (one item per alias) regrouped into one pytree per chosen argument."""
        grouped, start = [], 0
        for spec in self.specs:
            grouped.append(unflatten(flat[start:start + spec.size], spec))
            start += spec.size
        return grouped

    def finish(self, value: Any) -> Any:
        """A result handed back to the caller: cut from the graph unless the graph is needed outside."""
        return detach_unless(self.create_graph, value)


def _like(g: Tensor | None, x: Tensor) -> Tensor:
    """The gradient for ``x``: zeros when unused, in ``x``'s dtype."""
    if g is None:
        return zeros_for(x)
    return g if g.data.dtype == x.data.dtype else g.to(x.data.dtype)


def _pick(argnums: int | tuple[int, ...], grouped: list[Any]) -> Any:
    return tuple(grouped) if isinstance(argnums, tuple) else grouped[0]


def _check_transform(name: str, func: Any, argnums: Any, has_aux: Any) -> None:
    check_callable(name, func)
    check_argnums(name, argnums)
    check_bool(name, "has_aux", has_aux)


def _grad_and_value(name: str, func: Callable[..., Any], argnums: int | tuple[int, ...], has_aux: bool,
                    args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    traced = _Traced(name, func, resolve_argnums(name, argnums, len(args)), args, kwargs, has_aux)
    out = traced.output
    if not isinstance(out, Tensor):
        first = " (as the first item with has_aux=True)" if has_aux else ""
        raise TypeError(f"{name}: func must return a Tensor{first}, got {type(out).__name__}")
    if out.ndim != 0:
        raise RuntimeError(f"{name}: func must return a scalar (0-dimensional) Tensor, got shape {out.shape}; "
                           "use vjp or jacrev for other outputs")
    grads = _pick(argnums, traced.per_argument(traced.gradients([out], None)))
    value = traced.finish(out)
    return grads, ((value, traced.finish(traced.aux)) if has_aux else value)


def grad_and_value(func: Callable[..., Any], argnums: int | tuple[int, ...] = 0,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(gradient, value)`` of ``func``; with ``has_aux``, ``(gradient, (value, aux))``.

    ``func`` returns a 0-dimensional Tensor (or ``(that, aux)`` with ``has_aux``).
    The gradient is taken with respect to the argument at ``argnums`` (a Tensor or
    a tuple, list or dict of Tensors, and the gradient has its structure), or a
    tuple of gradients for a tuple of ``argnums``.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> g, value = grad_and_value(lambda x: (x * x).sum())(tm.tensor([1.0, 2.0]))
        >>> g, value
        (Tensor([2., 4.]), Tensor(5.))
    """
    _check_transform("grad_and_value", func, argnums, has_aux)

    def wrapper(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return _grad_and_value("grad_and_value", func, argnums, has_aux, args, kwargs)

    return wrapper


def grad(func: Callable[..., Any], argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """A function returning the gradient of the scalar ``func`` with respect to the argument(s) at ``argnums``.

    With ``has_aux``, ``func`` returns ``(scalar, aux)`` and the new function
    ``(gradient, aux)``. Transforms nest: ``grad(grad(f))`` is the second derivative.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(tm.tensor([1.0, 2.0]), tm.tensor([3.0, 4.0]))
        (Tensor([3., 4.]), Tensor([1., 2.]))
    """
    _check_transform("grad", func, argnums, has_aux)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        grads, value = _grad_and_value("grad", func, argnums, has_aux, args, kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapper


def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(func(*primals), vjp_fn)``, and ``aux`` third with ``has_aux``.

    ``vjp_fn(cotangents)`` takes cotangents with the structure and shapes of the
    output and returns a tuple with one ``cotangents^T J`` per primal (shaped like
    it); it may be called any number of times.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> out, vjp_fn = vjp(lambda x: x * x, tm.tensor([1.0, 2.0]))
        >>> vjp_fn(tm.tensor([1.0, 10.0]))
        (Tensor([ 2., 40.]),)
    """
    check_callable("vjp", func)
    check_bool("vjp", "has_aux", has_aux)
    traced = _Traced("vjp", func, tuple(range(len(primals))), primals, {}, has_aux)
    outputs, spec = traced.output_leaves, traced.output_spec

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: bool | None = None) -> tuple[Any, ...]:
        seeds, seed_spec = flatten(cotangents)
        if seed_spec != spec:
            raise ValueError(f"vjp_fn: cotangents must have the structure of func's output, {spec!r}, "
                             f"got {seed_spec!r}")
        for k, (seed, out) in enumerate(zip(seeds, outputs, strict=True)):
            if not isinstance(seed, Tensor):
                raise TypeError(f"vjp_fn: cotangent {k} must be a Tensor, got {type(seed).__name__} {seed!r}")
            if seed.shape != out.shape:
                raise ValueError(f"vjp_fn: cotangent {k} has shape {seed.shape}, expected the output's shape "
                                 f"{out.shape}")
        record = create_graph
        if record is None:  # differentiable when the results or the cotangents are
            record = traced.create_graph or (STATE.enabled and any(s.requires_grad for s in seeds))
        return tuple(traced.per_argument(traced.gradients(outputs, seeds, record)))

    result = traced.finish(traced.output)
    return (result, vjp_fn, traced.finish(traced.aux)) if has_aux else (result, vjp_fn)


def jacrev(func: Callable[..., Any], argnums: int | tuple[int, ...] = 0, *, has_aux: bool = False,
           chunk_size: int | None = None) -> Callable[..., Any]:
    """A function returning the Jacobian of ``func`` by reverse mode: one vector-Jacobian product per
    output element, all through one recorded graph.

    For an output ``o`` and an input ``x`` the block has shape ``o.shape + x.shape``;
    outputs and inputs that are tuples, lists or dicts nest as in PyTorch: the
    output's structure outside, the input's (or a tuple over ``argnums``) inside.
    ``chunk_size`` is accepted for compatibility (a positive int or None); the
    rows are computed one at a time whatever it is.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> jacrev(lambda x: x.sin())(tm.tensor([0.0, 0.0]))
        Tensor([[1., 0.],
                [0., 1.]])
    """
    _check_transform("jacrev", func, argnums, has_aux)
    if chunk_size is not None and (not isinstance(chunk_size, int) or isinstance(chunk_size, bool)
                                   or chunk_size <= 0):
        raise ValueError(f"jacrev: chunk_size must be a positive int or None, got {chunk_size!r}")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        traced = _Traced("jacrev", func, resolve_argnums("jacrev", argnums, len(args)), args, kwargs, has_aux)
        blocks = [_pick(argnums, traced.per_argument(_rows(traced, out))) for out in traced.output_leaves]
        jac = unflatten(blocks, traced.output_spec)
        return (jac, traced.finish(traced.aux)) if has_aux else jac

    return wrapper


def _rows(traced: _Traced, out: Tensor) -> list[Tensor]:
    """d out / d input for every alias, shaped ``out.shape + input.shape``: one backward pass per element."""
    inputs = traced.inputs
    if not out.requires_grad or out.data.size == 0:
        return [Tensor._wrap(np.zeros(out.shape + x.shape, x.data.dtype)) for x in inputs]
    rows: list[list[Tensor]] = [[] for _ in inputs]
    eye = np.zeros(out.data.size, dtype=out.data.dtype)
    for j in range(out.data.size):
        eye[j] = 1
        seed = Tensor._wrap(eye.reshape(out.shape).copy())
        eye[j] = 0
        for k, g in enumerate(traced.gradients([out], [seed])):
            rows[k].append(g)
    if traced.create_graph:
        return [stack(r).reshape(out.shape + x.shape) for r, x in zip(rows, inputs, strict=True)]
    return [Tensor._wrap(np.stack([g.data for g in r]).reshape(out.shape + x.shape))
            for r, x in zip(rows, inputs, strict=True)]
