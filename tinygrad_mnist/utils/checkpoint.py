"""Checkpointing (rematerialisation): trade compute for memory, under PyTorch's names.

``checkpoint(function, *args)`` returns what ``function(*args)`` returns, but
the tensors computed inside ``function`` are not kept for backward: when
backward reaches the call it runs ``function`` again with recording on and
sends the gradients through that fresh graph. The gradients are the ones
without checkpointing, bit for bit, for the inputs and for every tensor from
outside that ``function`` uses (a module's parameters, say); the peak memory
of a deep network's training step falls from one set of activations per layer
to the checkpointed segments' outputs plus one segment's activations.

Examples:
    >>> import numpy as np
    >>> import tinygrad_mnist as tm
    >>> from tinygrad_mnist.utils.checkpoint import checkpoint
    >>> w = tm.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    >>> x = tm.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    >>> y = checkpoint(lambda a: (a * w).tanh(), x, use_reentrant=False)
    >>> y.sum().backward()
    >>> bool(np.allclose(w.grad.numpy(), x.numpy() * (1 - y.numpy() ** 2)))
    True

How it works. The first call records ``function``'s graph for a moment, to
learn which tensors made before the call its outputs depend on (the inputs,
parameters and any other captured tensor that requires grad); then each output
that was computed inside is given one node, ``checkpoint``, whose inputs are
those tensors, and the graph inside is dropped when ``function`` returns.
That node's derivative rule restores the random generator (dropout draws the
same masks), runs ``function`` again, and runs reverse mode through the new
graph down to those tensors only, whose gradients it hands back to the walk
in progress: hooks, ``retain_grad``, ``autograd.grad(..., inputs)`` and the
in-place checks work as for any other node. With several outputs, one node
makes a hidden flat buffer (no memory: a broadcast zero) and each output is a
slice of it, so ``function`` is still run once per backward. With
``create_graph=True`` the rerun is recorded, so second derivatives work.

``use_reentrant``: PyTorch has two implementations; here one serves both and
the flag selects PyTorch's observable rules. ``True`` (also the default
``None``, which warns as PyTorch 2.13 does): keyword arguments and
``context_fn``/``debug`` are refused, and when no input requires grad the call
warns and its outputs do not require grad (parameters inside get no
gradient). ``False`` (recommended): outputs require grad whenever they depend
on anything that does. Unlike PyTorch's reentrant variant, ``autograd.grad``
and double backward work in both modes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np

from .. import random
from ..core import graph
from ..core.functions import cat
from ..core.grad_mode import STATE, no_grad, set_grad_enabled
from ..core.graph import Node, Primitive
from ..core.hooks import HOOKS
from ..core.tensor import Tensor

__all__ = ["CheckpointError", "checkpoint", "checkpoint_sequential", "noop_context_fn"]

ContextFn = Callable[[], tuple[AbstractContextManager[Any], AbstractContextManager[Any]]]
_DETERMINISM_CHECKS = ("default", "none")
_EXPLICIT = ("pass use_reentrant=False (recommended) or use_reentrant=True explicitly; "
             "None means True, as in PyTorch 2.13")


class CheckpointError(RuntimeError):
    """The rerun of a checkpointed function did not produce what the first run did."""


def noop_context_fn() -> tuple[AbstractContextManager[Any], AbstractContextManager[Any]]:
    """The default ``context_fn``: two context managers that do nothing (first run, rerun).

    Examples:
        >>> first, rerun = noop_context_fn()
        >>> with first, rerun:
        ...     pass
    """
    return nullcontext(), nullcontext()


def checkpoint(function: Callable[..., Any], *args: Any, use_reentrant: bool | None = None,
               context_fn: ContextFn = noop_context_fn,
               determinism_check: str = "default", debug: bool = False, early_stop: bool = True,
               preserve_rng_state: bool = True, **kwargs: Any) -> Any:
    """Run ``function(*args, **kwargs)`` without keeping its intermediates; rerun it in backward.

    The result is ``function``'s (a Tensor, or tuples, lists and dicts holding
    Tensors and other values, returned as they are). ``preserve_rng_state``
    makes the rerun draw the same random numbers as the first run (the
    generator's state after backward is as if the rerun had not happened).
    ``context_fn`` returns two context managers, entered around the first run
    and around the rerun. ``determinism_check="default"`` raises
    [`CheckpointError`][tinygrad_mnist.utils.checkpoint.CheckpointError] if the rerun's outputs differ in number, shape
    or
    dtype (``"none"``: only in number); ``debug=True`` lists every output of
    both runs in that error. ``early_stop`` is accepted for PyTorch's
    signature: the rerun always runs the whole function. Under ``no_grad``
    this is a plain call. See the module's text for ``use_reentrant``.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> from tinygrad_mnist import nn
        >>> layer = nn.Linear(3, 2)
        >>> x = tm.randn(4, 3)
        >>> y = checkpoint(layer, x, use_reentrant=False)   # no input requires grad: the weights still do
        >>> y.sum().backward()
        >>> layer.weight.grad.shape
        (2, 3)
    """
    if use_reentrant is None:
        warnings.warn("checkpoint: use_reentrant was not given; " + _EXPLICIT, UserWarning, stacklevel=2)
        use_reentrant = True
    if not callable(function):
        raise TypeError(f"checkpoint: function must be callable, got {type(function).__name__}")
    if use_reentrant:
        if kwargs:
            raise ValueError(f"checkpoint: unexpected keyword arguments {', '.join(kwargs)} with use_reentrant=True, "
                             "which passes positional arguments only; pass use_reentrant=False to forward keywords")
        if context_fn is not noop_context_fn or debug:
            raise ValueError("checkpoint: context_fn and debug are supported only with use_reentrant=False")
    else:
        if determinism_check not in _DETERMINISM_CHECKS:
            raise ValueError(f"checkpoint: determinism_check must be one of {list(_DETERMINISM_CHECKS)}, "
                             f"got {determinism_check!r}")
        if debug and context_fn is not noop_context_fn:
            raise ValueError("checkpoint: debug=True cannot be combined with a context_fn of your own")
    first_ctx, rerun_ctx = context_fn()
    if use_reentrant and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("checkpoint: none of the inputs requires grad, so with use_reentrant=True the outputs "
                      "will not require grad and no gradient will flow through this call (parameters used "
                      "inside included); pass use_reentrant=False to differentiate them", UserWarning, stacklevel=2)
        with no_grad(), first_ctx:
            return function(*args)
    if not STATE.enabled:
        with first_ctx:
            return function(*args, **kwargs)
    rng_state = random.get_rng_state() if preserve_rng_state else None
    start = next(graph._creation_order)  # every node made by function is numbered above start
    with first_ctx:
        result = function(*args, **kwargs)
    found = list(_tensors_in(result))
    positions, made, seen = [], [], set()
    for i, t in enumerate(found):
        if t._ctx is not None and t._ctx.seq > start and id(t) not in seen:
            seen.add(id(t))
            positions.append(i)
            made.append(t)
    if not made:  # nothing computed inside requires grad: no graph to drop
        return result
    plan = _Plan(function, args, kwargs, rng_state, rerun_ctx, len(found), positions,
                 [(t.shape, t.dtype) for t in made], determinism_check == "default", debug)
    _install(made, _outside_tensors(made, start), plan)
    return result


def checkpoint_sequential(functions: Any, segments: int, input: Tensor, use_reentrant: bool | None = None,
                          **kwargs: Any) -> Any:
    """Run a sequence of modules (an ``nn.Sequential`` or a list) in ``segments`` chunks, all but the last checkpointed.

    As in PyTorch, each of the first ``segments - 1`` chunks holds
    ``len(functions) // segments`` modules and the last chunk, not
    checkpointed, holds the rest. The only keyword accepted is
    ``preserve_rng_state``.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> from tinygrad_mnist import nn
        >>> model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh())
        >>> x = tm.randn(2, 4, requires_grad=True)
        >>> y = checkpoint_sequential(model, 2, x, use_reentrant=False)
        >>> import numpy as np
        >>> bool(np.allclose(y.numpy(), model(x).numpy()))
        True
    """
    if use_reentrant is None:
        warnings.warn("checkpoint_sequential: use_reentrant was not given; " + _EXPLICIT, UserWarning, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError(f"checkpoint_sequential: unexpected keyword arguments {', '.join(kwargs)}; "
                         "only preserve_rng_state is accepted")
    try:
        modules = list(functions)
    except TypeError:
        raise TypeError("checkpoint_sequential: functions must be an nn.Sequential or a list of callables, "
                        f"got {type(functions).__name__}") from None
    if isinstance(segments, bool) or not isinstance(segments, (int, np.integer)) or segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be a positive integer, got {segments!r}")
    size = len(modules) // segments
    end = 0
    for begin in range(0, size * (segments - 1), size):
        end = begin + size
        input = checkpoint(_Chain(modules[begin:end]), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return _Chain(modules[end:])(input)


class _Chain:
    """Calls the modules one after the other."""

    def __init__(self, modules: Sequence[Callable[[Any], Any]]) -> None:
        self.modules = modules

    def __call__(self, x: Any) -> Any:
        for module in self.modules:
            x = module(x)
        return x


class _Plan:
    """What the rerun needs: the call, the generator's state before it, and the outputs to expect."""

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 rng_state: dict[str, Any] | None, rerun_ctx: AbstractContextManager[Any], count: int,
                 positions: list[int], metas: list[tuple[tuple[int, ...], np.dtype]], check: bool,
                 debug: bool) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng_state, self.rerun_ctx = rng_state, rerun_ctx
        self.count, self.positions, self.metas = count, positions, metas
        self.check, self.debug = check, debug
        self.offsets = [0]  # where each output sits in the flat buffer of a call with several outputs
        for shape, _ in metas:
            self.offsets.append(self.offsets[-1] + int(np.prod(shape, dtype=np.int64)))

    def rerun(self) -> list[Tensor]:
        """Run the function again, recording, with the first run's random numbers; its outputs to differentiate."""
        with _rng(self.rng_state), set_grad_enabled(True), self.rerun_ctx:
            result = self.function(*self.args, **self.kwargs)
        found = list(_tensors_in(result))
        if len(found) != self.count:
            self._fail(f"the rerun returned {len(found)} tensor(s), the first run {self.count}", found)
        outputs = [found[p] for p in self.positions]
        if self.check and [(t.shape, t.dtype) for t in outputs] != self.metas:
            self._fail("the rerun's outputs differ in shape or dtype from the first run's", found)
        for p, t in zip(self.positions, outputs, strict=True):
            if not t.requires_grad:
                self._fail(f"output {p} requires grad in the first run but not in the rerun", found)
        return outputs

    def _fail(self, what: str, found: list[Tensor]) -> None:
        name = getattr(self.function, "__name__", type(self.function).__name__)
        detail = ""
        if self.debug:
            detail = (f"; first run: {[(tuple(s), str(d)) for s, d in self.metas]}, "
                      f"rerun: {[(t.shape, str(t.dtype)) for t in found]}")
        raise CheckpointError(f"checkpoint: {name} is not deterministic: {what}{detail}; a checkpointed function "
                              "must compute the same thing when backward reruns it")

    def gradients(self, g: Tensor, outside: tuple[Tensor, ...]) -> list[Tensor]:
        """The derivative rule of the ``checkpoint`` node: rerun, then reverse mode down to ``outside``."""
        create_graph = STATE.enabled  # the walk records derivative rules only for create_graph=True
        if len(self.metas) == 1:
            seeds = [g]
        else:
            seeds = []
            for (shape, dtype), lo, hi in zip(self.metas, self.offsets, self.offsets[1:], strict=False):
                part = g[lo:hi].reshape(shape)
                seeds.append(part if part.dtype == dtype else part.astype(dtype))
        outputs = self.rerun()
        with _as_leaves(outside):
            grads = graph.backward(outputs, seeds, retain_graph=create_graph, create_graph=create_graph,
                                   inputs=list(outside))
        assert grads is not None
        return [Tensor(np.zeros_like(t.data)) if d is None else d for d, t in zip(grads, outside, strict=True)]


def _checkpoint_vjp(g: Tensor, out: Tensor, *outside: Tensor, plan: _Plan) -> list[Tensor]:
    return plan.gradients(g, outside)


def _output_vjp(g: Tensor, out: Tensor, flat: Tensor, *, offset: int) -> list[Tensor]:
    """One output of a call with several: its gradient placed in the flat buffer's gradient."""
    piece = g.reshape(-1)
    if piece.dtype != flat.dtype:
        piece = piece.astype(flat.dtype)
    before = Tensor(np.zeros(offset, flat.dtype))
    after = Tensor(np.zeros(flat.shape[0] - offset - piece.shape[0], flat.dtype))
    return [cat([before, piece, after])]


def _not_called(*arrays: np.ndarray, **params: Any) -> np.ndarray:
    raise RuntimeError("checkpoint: this primitive's forward is run by checkpoint() only")


# The rule reads the tensors from outside again (the rerun): an in-place change of one after
# the call is refused by the walk, like for any rule that reads its inputs.
_CHECKPOINT = Primitive("checkpoint", _not_called, vjp=_checkpoint_vjp, reads=("inputs",))
_OUTPUT = Primitive("checkpoint_output", _not_called, vjp=_output_vjp, reads=())


def _install(made: list[Tensor], outside: tuple[Tensor, ...], plan: _Plan) -> None:
    """Replace the graph behind ``made`` by one ``checkpoint`` node on the tensors from outside."""
    if len(made) == 1:
        made[0]._ctx = Node(_CHECKPOINT, outside, {"plan": plan}, None)
        return
    dtype = np.result_type(*[t.dtype for t in made])
    flat = Tensor._wrap(np.broadcast_to(np.zeros((), dtype), (plan.offsets[-1],)))  # a shape, no memory
    flat.requires_grad = True
    flat._ctx = Node(_CHECKPOINT, outside, {"plan": plan}, None)
    for t, offset in zip(made, plan.offsets, strict=False):
        t._ctx = Node(_OUTPUT, (flat,), {"offset": offset}, None)


def _outside_tensors(made: list[Tensor], start: int) -> tuple[Tensor, ...]:
    """The tensors requiring grad, made before node number ``start``, that ``made`` was computed from."""
    outside: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack = list(made)
    while stack:
        node = stack.pop()._ctx
        for inp in node.inputs or ():
            if not inp.requires_grad or id(inp) in seen:
                continue
            seen.add(id(inp))
            if inp._ctx is None or inp._ctx.seq < start:
                outside[id(inp)] = inp
            else:
                stack.append(inp)
    return tuple(outside.values())


def _tensors_in(value: Any) -> Iterator[Tensor]:
    """The Tensors in ``value``, searched through tuples, lists and dict values, in order."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item)


@contextmanager
def _rng(state: dict[str, Any] | None) -> Iterator[None]:
    """Run with the generator at ``state``, then put back the state it had."""
    if state is None:
        yield
        return
    current = random.get_rng_state()
    random.set_rng_state(state)
    try:
        yield
    finally:
        random.set_rng_state(current)


@contextmanager
def _as_leaves(tensors: tuple[Tensor, ...]) -> Iterator[None]:
    """Let a nested walk stop at ``tensors``: hide their graphs and their hooks (the outer walk runs those)."""
    graphs = [(t, t._ctx) for t in tensors if t._ctx is not None]
    hooks = {id(t): HOOKS.pop(id(t)) for t in tensors if id(t) in HOOKS}
    try:
        for t, _ in graphs:
            t._ctx = None
        yield
    finally:
        for t, node in graphs:
            t._ctx = node
        HOOKS.update(hooks)
