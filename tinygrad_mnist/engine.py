"""The reverse walk: topological order, VJP calls, gradient accumulation, graph freeing.

``backward`` is the whole of reverse mode:

1. order the graph that leads to the roots so that every tensor comes after
   all tensors computed from it (an iterative depth-first search: deep graphs
   need no recursion);
2. seed each root with its gradient and walk that order, calling the VJP of
   each primitive for the inputs that require a gradient and adding the
   results into a table keyed by tensor (fan-out sums here);
3. hand the finished gradients of leaves to ``.grad`` (or back to the caller,
   for :func:`tinygrad_mnist.autograd.grad`) and release each node's saved
   inputs unless the graph is retained.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .grad_mode import set_grad_enabled
from .ops import Node, cast, unbroadcast
from .tensor import Tensor

_RELEASED = (
    "backward: the graph behind this tensor was already freed by an earlier backward pass; "
    "pass retain_graph=True to the first backward() to go through it again"
)


def toposort(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors requiring grad that lead to ``roots``, each listed before its inputs."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in roots]
    while stack:
        tensor, children_done = stack.pop()
        if children_done:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        node = tensor._ctx
        if node is not None:
            if node.inputs is None:
                raise RuntimeError(_RELEASED)
            for inp in node.inputs:
                if inp.requires_grad and id(inp) not in seen:
                    stack.append((inp, False))
    order.reverse()
    return order


def _seed(root: Tensor, gradient: Any) -> Tensor:
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: the output has shape {root.shape}; a gradient can be created implicitly "
                f"only for one-element outputs, so pass gradient= shaped {root.shape}"
            )
        return Tensor._wrap(np.ones_like(root.data))
    seed = gradient if isinstance(gradient, Tensor) else Tensor(np.asarray(gradient, dtype=root.dtype))
    if seed.shape != root.shape:
        raise ValueError(f"backward: gradient has shape {seed.shape}, expected the output's shape {root.shape}")
    return seed


def backward(
    roots: Sequence[Tensor],
    gradients: Sequence[Any] | None,
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """Run reverse mode from ``roots``.

    With ``inputs=None`` the gradients of all leaves are accumulated into their
    ``.grad``; otherwise nothing is accumulated and the gradients with respect
    to ``inputs`` (leaves or not) are returned, ``None`` where one is unused.
    """
    if retain_graph is None:
        retain_graph = create_graph
    for root in roots:
        if not root.requires_grad:
            raise RuntimeError(
                f"backward: the tensor of shape {root.shape} does not require grad and has no graph; "
                "create a leaf with requires_grad=True and compute from it"
            )
    grads: dict[int, Tensor] = {}
    owned: set[int] = set()  # accumulation buffers created here, safe to add into in place
    handed: set[int] = set()  # arrays the caller also holds (seeds, earlier .grad): never stored twice
    for i, root in enumerate(roots):
        seed = _seed(root, None if gradients is None else gradients[i])
        handed.add(id(seed.data))
        _accumulate(grads, owned, root, seed, create_graph)

    wanted = None if inputs is None else {id(t): None for t in inputs}
    captured: dict[int, Tensor] = {}
    order = toposort(roots)
    with set_grad_enabled(create_graph):
        for tensor in order:
            key = id(tensor)
            grad = grads.pop(key, None)
            if grad is None:
                continue
            if wanted is not None and key in wanted:
                captured[key] = grad
            node: Node | None = tensor._ctx
            if node is None:
                if inputs is None:
                    _deposit(tensor, grad, create_graph, handed)
                continue
            if node.inputs is None:
                raise RuntimeError(_RELEASED)
            prim, node_inputs, params = node.prim, node.inputs, node.params
            for i, inp in enumerate(node_inputs):
                if not inp.requires_grad:
                    continue
                g = prim.vjps[i](grad, tensor, *node_inputs, **params)
                if g.shape != inp.shape:
                    g = unbroadcast(g, inp.shape)
                _accumulate(grads, owned, inp, g, create_graph)
            if not retain_graph:
                node.release()
    if inputs is None:
        return None
    return [captured.get(id(t)) for t in inputs]


def _accumulate(grads: dict[int, Tensor], owned: set[int], tensor: Tensor, g: Tensor, create_graph: bool) -> None:
    key = id(tensor)
    previous = grads.get(key)
    if previous is None:
        grads[key] = g
    elif create_graph:
        grads[key] = previous + g
    elif key in owned and previous.data.dtype == g.data.dtype:
        np.add(previous.data, g.data, out=previous.data)
    else:
        # The first gradient may be shared with another tensor (add passes g through),
        # so the sum goes to a fresh buffer that later contributions can reuse.
        grads[key] = Tensor._wrap(np.asarray(previous.data + g.data))
        owned.add(key)


def _deposit(leaf: Tensor, grad: Tensor, create_graph: bool, handed: set[int]) -> None:
    """Add a finished gradient into ``leaf.grad``.

    A new ``.grad`` gets an array of its own, writeable and in the leaf's dtype, so
    that editing one leaf's gradient in place (clipping, say) never changes another's
    or the caller's. Gradients fresh from a primitive (the usual case) are stored
    without a copy.
    """
    if leaf.grad is not None:
        leaf.grad = leaf.grad + grad
        return
    data = grad.data
    if not data.flags.writeable or data.base is not None or id(data) in handed or data.dtype != leaf.data.dtype:
        grad = cast(grad, dtype=leaf.data.dtype) if create_graph else Tensor._wrap(data.astype(leaf.data.dtype))
    handed.add(id(grad.data))
    leaf.grad = grad
