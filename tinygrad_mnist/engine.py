"""The reverse walk: topological order, VJP calls, gradient accumulation, graph freeing.

``backward`` is the whole of reverse mode:

1. seed each root with its gradient;
2. walk the graph in reverse topological order, without recursion: a tensor is
   processed only after every tensor computed from it (nodes are numbered at
   creation, and a heap hands out the newest first); processing calls the VJP
   of its primitive for each input that requires a gradient and adds the result
   into a table keyed by tensor (fan-out sums here);
3. hand the finished gradients of leaves to ``.grad`` (or back to the caller,
   for :func:`tinygrad_mnist.autograd.grad`) and release each node's saved
   inputs unless the graph is retained.

:func:`toposort` lists the same order explicitly, for tools that show the graph.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable, Sequence

import numpy as np

from .anomaly import check_gradient
from .grad_mode import STATE, set_grad_enabled
from .ops import Node, cast, unbroadcast
from .tensor import Tensor

_RELEASED = (
    "backward: the graph behind this tensor was already freed by an earlier backward pass; "
    "pass retain_graph=True to the first backward() to go through it again"
)

# Called once per node of the walk as observer(tensor, node, grad, sent), before the
# node is released; ``sent`` lists (input index, input, gradient sent to it or None).
Observer = Callable[[Tensor, Node, Tensor, list[tuple[int, Tensor, Tensor | None]]], None]


def toposort(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors requiring grad that lead to ``roots``, each listed before its inputs.

    A depth-first search with an explicit stack; an entry ``(tensor, True)`` means
    "all inputs of this tensor are listed, list it now". Visited nodes are marked
    with this walk's token (cheaper than a set of ids on long graphs); leaves,
    which have no node, go in a set.
    """
    order: list[Tensor] = []
    token = object()
    leaves: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in roots]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        node = tensor._ctx
        if node is None:
            if id(tensor) not in leaves:
                leaves.add(id(tensor))
                order.append(tensor)
            continue
        if node.mark is token:
            continue
        node.mark = token
        if node.inputs is None:
            raise RuntimeError(_RELEASED)
        stack.append((tensor, True))
        for inp in node.inputs:
            if inp.requires_grad and (inp._ctx is None or inp._ctx.mark is not token):
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
    observer: Observer | None = None,
) -> list[Tensor | None] | None:
    """Run reverse mode from ``roots``.

    With ``inputs=None`` the gradients of all leaves are accumulated into their
    ``.grad``; otherwise nothing is accumulated and the gradients with respect
    to ``inputs`` (leaves or not) are returned, ``None`` where one is unused.
    ``observer`` is told about each node the walk goes through (see :data:`Observer`;
    :func:`tinygrad_mnist.autograd.trace_backward` uses it).
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

    wanted = None if inputs is None else {id(t) for t in inputs}
    captured: dict[int, Tensor] = {}
    ready = _ReadyQueue()
    for root in roots:
        ready.push(root)
    # Under detect_anomaly each VJP's result is checked by the walk; the operations
    # inside a VJP are not checked as forwards, so a bad gradient is blamed on its primitive.
    anomaly, STATE.anomaly = STATE.anomaly, False
    try:
        _walk(ready, grads, owned, captured, wanted, retain_graph, create_graph, anomaly, observer)
    finally:
        STATE.anomaly = anomaly
    # Leaves are finished last, so a failure above leaves every .grad untouched.
    for key, leaf in ready.leaves.items():
        if inputs is None:
            _deposit(leaf, grads[key], create_graph, handed)
        elif key in wanted:  # type: ignore[operator]
            captured[key] = grads[key]
    if inputs is None:
        return None
    return [captured.get(id(t)) for t in inputs]


def _walk(ready: _ReadyQueue, grads: dict[int, Tensor], owned: set[int], captured: dict[int, Tensor],
          wanted: set[int] | None, retain_graph: bool, create_graph: bool, anomaly: bool,
          observer: Observer | None = None) -> None:
    """Pop tensors newest first and send each one's gradient through its primitive's VJPs."""
    heap, pop, push = ready.heap, heapq.heappop, ready.push  # locals: this loop runs once per node
    sent: list[tuple[int, Tensor]] | None = None if observer is None else []
    inspect = anomaly or sent is not None  # one test per input covers both, off in ordinary runs
    with set_grad_enabled(create_graph):
        while heap:
            tensor = pop(heap)[1]
            key = id(tensor)
            grad = grads.pop(key)
            if wanted is not None and key in wanted:
                captured[key] = grad
            node: Node = tensor._ctx
            prim, node_inputs, params = node.prim, node.inputs, node.params
            for i, inp in enumerate(node_inputs):  # type: ignore[arg-type]
                if not inp.requires_grad:
                    continue
                g = prim.vjps[i](grad, tensor, *node_inputs, **params)
                if g.data.shape != inp.data.shape:
                    g = unbroadcast(g, inp.data.shape)
                if inspect:
                    if anomaly:
                        check_gradient(prim.name, i, g.data, node.site)
                    if sent is not None:
                        sent.append((i, g))
                if id(inp) in grads:
                    _accumulate(grads, owned, inp, g, create_graph)
                else:  # the first contribution, by far the most common case
                    grads[id(inp)] = g
                push(inp)
            if sent is not None:
                got = dict(sent)
                sent.clear()
                observer(tensor, node, grad, [(i, inp, got.get(i)) for i, inp in enumerate(node_inputs)])  # type: ignore
            if not retain_graph:
                node.release()


class _ReadyQueue:
    """Non-leaf tensors waiting for their VJP, latest-created first; leaves set aside.

    Every node carries a creation number larger than those of its inputs' nodes,
    so popping the largest number first is a topological order: by the time a
    tensor is popped, all tensors computed from it have sent their gradients.
    Only the frontier of the walk is in the heap, and each node is visited once.
    """

    __slots__ = ("heap", "leaves", "token")

    def __init__(self) -> None:
        self.heap: list[tuple[int, Tensor]] = []
        self.leaves: dict[int, Tensor] = {}
        self.token = object()  # marks the nodes this walk has queued

    def push(self, tensor: Tensor) -> None:
        node = tensor._ctx
        if node is None:
            self.leaves[id(tensor)] = tensor
        elif node.mark is not self.token:
            if node.inputs is None:
                raise RuntimeError(_RELEASED)
            node.mark = self.token
            heapq.heappush(self.heap, (-node.seq, tensor))


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
