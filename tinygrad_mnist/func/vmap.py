"""``vmap``: a function of one example mapped over a batch by batching rules, without a Python loop.

``vmap(f, in_dims, out_dims)(*args)`` moves each batched argument's ``in_dims``
axis to the front of its array and marks it as a batch axis of a new *level*
(``batching``): ``f`` then sees tensors of the
per-example shape, and every primitive it calls runs once for the whole batch
through its batching rule. On the way out the batch axis moves to
``out_dims``. Levels nest (``vmap(vmap(f))``), and the other transforms compose
inside: ``vmap(grad(f))`` gives per-example gradients, ``vmap(jvp(f, ...))``
and ``vmap(jacrev(f))`` batch their forward and backward passes alike.

Differentiating *through* a vmap from outside (``grad(vmap(f))``,
``backward()`` on a vmap's output) is not supported and raises when the
gradient reaches the vmap; take gradients inside instead.

Examples:
    >>> import tinygrad_mnist as tm
    >>> from tinygrad_mnist.func import grad, vmap
    >>> x = tm.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tm.float64)
    >>> vmap(grad(lambda v: (v * v).sum()))(x)      # one gradient 2v per row
    Tensor([[2., 4.],
            [6., 8.]], dtype=float64)
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .. import random
from ..core import graph
from ..core.batching import BATCHING, BatchedArray, mark
from ..core.tensor import Tensor
from ._tree import check_callable, flatten, unflatten

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")
_levels = itertools.count()


def _raise_through(g: Tensor, out: Tensor, x: Tensor, **params: Any) -> Tensor:
    raise NotImplementedError("vmap: differentiating through vmap from outside (grad of a vmapped function, or "
                              "backward() on a vmap's output) is not supported; take the gradient inside: "
                              "vmap(grad(f))")


def _enter_array(data: Any, dim: int, level: int) -> Any:
    """``data`` with logical axis ``dim`` turned into the batch axis of ``level`` (innermost, so first)."""
    outer = data.levels if isinstance(data, BatchedArray) else ()
    plain = data.view(np.ndarray) if isinstance(data, BatchedArray) else data
    return mark(np.moveaxis(plain, len(outer) + dim, 0), (level, *outer))


def _exit_array(data: Any, dim: int, level: int, size: int) -> Any:
    """``data``'s batch axis of ``level`` moved to logical axis ``dim`` (broadcast there if it has none)."""
    levels = data.levels if isinstance(data, BatchedArray) else ()
    plain = data.view(np.ndarray) if isinstance(data, BatchedArray) else np.asarray(data)
    rest = tuple(v for v in levels if v != level)
    if level in levels:
        moved = np.moveaxis(plain, levels.index(level), len(rest) + dim)
    else:  # not batched at this level: every example gave the same value
        moved = np.expand_dims(plain, len(rest) + dim)
        at = len(rest) + dim
        moved = np.broadcast_to(moved, (*moved.shape[:at], size, *moved.shape[at + 1:])).copy()
    return mark(moved, rest)


def _enter_jvp(vs: list[Tensor | None], out: Tensor, x: Tensor, dim: int, level: int) -> Tensor:
    assert vs[0] is not None
    return graph.record(_ENTER, (vs[0],), _enter_array(vs[0].data, dim, level), {"dim": dim, "level": level})


def _exit_jvp(vs: list[Tensor | None], out: Tensor, x: Tensor, dim: int, level: int, size: int) -> Tensor:
    assert vs[0] is not None
    params = {"dim": dim, "level": level, "size": size}
    return graph.record(_EXIT, (vs[0],), _exit_array(vs[0].data, dim, level, size), params)


# The two crossings of a vmap's boundary: recorded, so that forward mode carries tangents across them
# and reverse mode from outside stops there with a clear error. They are called through graph.record
# (never dispatched to batching rules): their forwards are the relabelling of batch axes itself.
_ENTER = graph.Primitive("vmap_enter", lambda a, dim, level: a, _raise_through, reads=(), jvp=_enter_jvp)
_EXIT = graph.Primitive("vmap_exit", lambda a, dim, level, size: a, _raise_through, reads=(), jvp=_exit_jvp)


def _check_dim(what: str, dim: Any, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise ValueError(f"vmap: {what} must be an int or None, got {dim!r}")  # noqa: TRY004 (as PyTorch)
    d = operator.index(dim)
    if not -ndim <= d < max(ndim, 1) or ndim == 0:
        raise ValueError(f"vmap: {what} is {d}, but the tensor has {ndim - (what.startswith('out'))} dimensions "
                         f"(expected a dim in [{-ndim}, {ndim - 1}])")
    return d % ndim


def _dims_per_leaf(what: str, dims: Any, tree: Any, count: int) -> list[Any]:
    """``dims`` (an int or None for the whole tree, or a tree of them shaped like ``tree``) per leaf."""
    if dims is None or isinstance(dims, (int, np.integer)):
        return [dims] * count
    dim_leaves, dim_spec = flatten(dims)
    _, spec = flatten(tree)
    if dim_spec != spec:
        raise ValueError(f"vmap: {what} {dims!r} does not match the structure of the value it describes")
    return dim_leaves


def _randomness_proxy(mode: str, level: int, size: int) -> Any:
    real = random.generator()
    return _RaisingGenerator(real) if mode == "error" else _BatchedGenerator(real, level, size)


class _RaisingGenerator:
    """Refuses every draw; reading or restoring the state (``bit_generator``) is not a draw and passes."""

    def __init__(self, real: np.random.Generator) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        if name == "bit_generator":
            return self.real.bit_generator
        raise RuntimeError("vmap: a random operation was called inside vmap with randomness='error'; pass "
                           "randomness='different' (independent draws per example) or 'same' (one draw for all)")


class _BatchedGenerator:
    """Draws of the given shape per example: the batch size is put in front and the result marked batched."""

    _SIZE_AT: ClassVar[dict[str, int]] = {"random": 0, "standard_normal": 0, "integers": 2, "normal": 2, "uniform": 2}

    def __init__(self, real: np.random.Generator, level: int, size: int) -> None:
        self.real, self.level, self.size = real, level, size

    def __getattr__(self, name: str) -> Any:
        if name == "bit_generator":  # the state, read or restored (not a draw)
            return self.real.bit_generator
        if name not in self._SIZE_AT:
            raise NotImplementedError(f"vmap: randomness='different' does not support the generator's {name}()")
        at = self._SIZE_AT[name]

        def draw(*args: Any, **kwargs: Any) -> Any:
            args_list = list(args)
            shape = kwargs.pop("size", args_list.pop(at) if len(args_list) > at else None)
            shape = () if shape is None else (shape,) if isinstance(shape, int) else tuple(shape)
            return mark(getattr(self.real, name)(*args_list, size=(self.size, *shape), **kwargs), (self.level,))
        return draw


def vmap(func: Callable[..., Any], in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable[..., Any]:
    """``func`` mapped over a batch: ``in_dims`` says which axis of each argument is the batch (None: not
    batched; an int for all, or one entry per argument, or a tree of them shaped like an argument),
    ``out_dims`` where the batch axis goes in each output. ``randomness`` is 'error' (random draws
    inside raise), 'different' (independent draws per example) or 'same' (one draw shared by all).
    Keyword arguments are passed unbatched. ``chunk_size`` must be None (the whole batch at once).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> from tinygrad_mnist.func import vmap
        >>> w = tm.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> vmap(lambda v: w @ v, in_dims=1, out_dims=1)(tm.tensor([[1.0, 2.0], [3.0, 4.0]]))
        Tensor([[1., 2.],
                [6., 8.]])
    """
    check_callable("vmap", func)
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"vmap: randomness must be one of {_RANDOMNESS}, got {randomness!r}")
    if chunk_size is not None:
        raise NotImplementedError(f"vmap: chunk_size must be None (the whole batch at once), got {chunk_size!r}")
    if not (in_dims is None or isinstance(in_dims, (int, tuple))) or isinstance(in_dims, bool):
        raise ValueError(f"vmap: in_dims must be an int, None or a tuple (one entry per argument), got {in_dims!r}")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        per_arg = [in_dims] * len(args) if not isinstance(in_dims, tuple) else list(in_dims)
        if len(per_arg) != len(args):
            raise ValueError(f"vmap: in_dims has {len(per_arg)} entries but the function got {len(args)} "
                             "positional arguments")
        leaves, spec = flatten(tuple(args))
        dims = [d for a, dim in zip(args, per_arg, strict=True) for d in _dims_per_leaf("in_dims", dim, a,
                                                                                         len(flatten(a)[0]))]
        size = None
        for k, (leaf, d) in enumerate(zip(leaves, dims, strict=True)):
            if d is None:
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(f"vmap: in_dims entry {d} is given for an input of type {type(leaf).__name__} "  # noqa: TRY004
                                 f"(leaf {k}); only tensors can be batched: use None for it")
            dims[k] = d = _check_dim(f"in_dim {d} of input {k}", d, leaf.ndim)
            if size is None:
                size = leaf.shape[d]
            elif leaf.shape[d] != size:
                raise ValueError(f"vmap: every batched input needs the same size along its in_dim: input {k} has "
                                 f"{leaf.shape[d]} where an earlier one has {size}")
        if size is None:
            raise ValueError("vmap: at least one input must be batched (an in_dims entry that is not None for a "
                             "tensor)")
        level = next(_levels)
        saved_generator = random._generator
        BATCHING.levels.append(level)
        BATCHING.sizes[level] = size
        try:
            if randomness != "same":
                random._generator = _randomness_proxy(randomness, level, size)
            inner = [leaf if d is None else graph.record(_ENTER, (leaf,), _enter_array(leaf.data, d, level),
                                                         {"dim": d, "level": level})
                     for leaf, d in zip(leaves, dims, strict=True)]
            result = func(*unflatten(inner, spec), **kwargs)
        finally:
            random._generator = saved_generator
            BATCHING.levels.pop()
            del BATCHING.sizes[level]
        return _exit(result, out_dims, level, size)

    return wrapper


def _exit(result: Any, out_dims: Any, level: int, size: int) -> Any:
    leaves, spec = flatten(result)
    if isinstance(out_dims, tuple):
        if not isinstance(result, tuple) or len(out_dims) != len(result):
            raise ValueError(f"vmap: out_dims {out_dims!r} must have one entry per output of the function")
        dims = [d for r, od in zip(result, out_dims, strict=True)
                for d in _dims_per_leaf("out_dims", od, r, len(flatten(r)[0]))]
    else:
        dims = _dims_per_leaf("out_dims", out_dims, result, len(leaves))
    outs = []
    for k, (leaf, d) in enumerate(zip(leaves, dims, strict=True)):
        if not isinstance(leaf, Tensor):
            raise ValueError(  # noqa: TRY004 (PyTorch's error type)
                f"vmap: the function must return tensors, got {type(leaf).__name__} (output {k})")
        batched = isinstance(leaf.data, BatchedArray) and level in leaf.data.levels
        if d is None:
            if batched:
                raise ValueError(f"vmap: out_dims is None for output {k}, but it differs between examples")
            outs.append(leaf)
            continue
        d = _check_dim(f"out_dim {d} of output {k}", d, leaf.ndim + 1)
        params = {"dim": d, "level": level, "size": size}
        outs.append(graph.record(_EXIT, (leaf,), _exit_array(leaf.data, d, level, size), params))
    return unflatten(outs, spec)
