"""Reverse mode in one file, to be read top to bottom.

1. ``Primitive``: the format of a row of the rule table (``rules``).
2. Calling a primitive runs its numpy forward; ``record`` wraps the result
   and, while recording and if an input requires grad, hangs a ``Node`` on it
   (and, inside a dual level, pushes the inputs' tangents through the row's JVP:
   forward mode, in ``forward``).
3. ``reverse_order``: THE walk, each tensor after every tensor made from it
   (``backward``, ``autograd.grad``, ``trace_backward``, the checkers and
   ``to_dot`` all use it, directly or through ``toposort``).
4. ``backward``: seed the roots, send each node's gradient through its VJPs,
   sum what meets at a tensor (fan-out), release the node, fill the leaves' ``.grad``.
   The walk refuses a node whose input or output was changed in place after the
   node was recorded (its ``_changed_at``, set by ``inplace``,
   exceeds the node's number) if the rule reads that value (``Primitive.reads``);
   the inputs are compared only for nodes older than the latest in-place change.

This module never imports ``Tensor``: it builds results with the inputs' own
``_wrap`` and combines gradients with their operators, so that imports run one
way, ``graph`` <- ``rules`` <- ``composites`` <- ``tensor``.
"""

from __future__ import annotations

import heapq
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .anomaly import check_forward, check_gradient, creation_site
from .batching import BATCHING
from .batching import call as batch_call
from .forward import FORWARD
from .forward import push as push_tangents
from .grad_mode import STATE
from .hooks import HOOKS, run_hooks
from .nodeview import NodeView
from .versions import check_unchanged

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor

RELEASED = (
    "the graph behind this tensor was freed by an earlier backward(); go through it before calling "
    "backward(), or pass retain_graph=True to that backward() to keep it"
)
_EMPTY: dict[str, Any] = {}  # the parameters of most nodes: one shared empty dict
_creation_order = itertools.count()
_DATA = operator.attrgetter("data")  # a tensor's array, without a Python frame per input

# Told about each node of the walk as observer(tensor, node, grad, sent) before the node is
# released; ``sent`` lists (input index, gradient sent) for the inputs that require grad.
Observer = Callable[["Tensor", "Node", "Tensor", "list[tuple[int, Tensor]]"], None]


class Primitive:
    """One row of the rule table: a numpy forward and its vector-Jacobian products (VJPs).

    ``forward(*arrays, **params)`` returns the output; with ``saves`` it returns
    ``(output, *extras)``, and the extras (what the forward finds anyway, such as
    the positions of maxima) are kept on the node under those names. A VJP is
    called with the gradient ``g`` of the output, the output and the inputs (as
    Tensors), and the parameters and saved extras as keywords. Either one VJP per
    input (``*vjps``; only those for inputs that require grad are called) or one
    ``vjp=`` giving every input's gradient at once (None where none is due). A
    gradient may come back shaped like the output: the walk sums it to its input's shape.
    ``reads`` names whose values or shapes the VJPs read, ``"inputs"`` and/or
    ``"output"`` (or one such tuple per VJP): the walk refuses to run them on a
    tensor changed in place after the node was recorded, and lets the others run.
    ``jvp`` is the forward-mode rule: called with the list of the inputs' tangents
    (None for an input without one), the output and the inputs, and the parameters
    and saved extras as keywords, it returns the output's tangent ``J v``; or
    ``DIAGONAL`` for an elementwise row, whose VJPs are also its JVPs.
    """

    __slots__ = ("forward", "jvp", "name", "reads", "saves", "vjp", "vjps")

    def __init__(self, name: str, forward: Callable[..., Any], *vjps: Callable[..., Tensor],
                 vjp: Callable[..., Sequence[Tensor | None]] | None = None, saves: tuple[str, ...] = (),
                 reads: tuple[Any, ...] = ("inputs", "output"),
                 jvp: Callable[..., Tensor] | str | None = None) -> None:
        if bool(vjps) == (vjp is not None):
            raise TypeError(f"Primitive {name!r}: give either one VJP per input or vjp=, not both or neither")
        self.name = name
        self.forward = forward
        self.vjps = vjps
        self.vjp = vjp
        self.saves = saves
        self.reads = reads  # whose values the VJPs read: "inputs", "output"; shapes alone need neither
        self.jvp = jvp

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *inputs: Tensor, **params: Any) -> Tensor:
        if BATCHING.levels and (batched := batch_call(self, inputs, params)) is not None:
            return record(self, inputs, batched[0], params, batched[1])  # inside vmap: the batching rule
        try:  # one or two inputs, the usual arities, without building an argument list
            if len(inputs) == 2:
                data = self.forward(inputs[0].data, inputs[1].data, **params)
            elif len(inputs) == 1:
                data = self.forward(inputs[0].data, **params)
            else:
                data = self.forward(*map(_DATA, inputs), **params)
        except ValueError as exc:  # numpy's words re-worded only if the caller's shapes do not broadcast
            if str(exc).startswith(self.name + ":") or "broadcast" not in str(exc):
                raise  # worded by the forward itself, or not about shapes at all
            try:
                np.broadcast_shapes(*(t.shape for t in inputs))
            except ValueError:
                shapes = " and ".join(str(t.shape) for t in inputs)
                raise ValueError(f"{self.name}: shapes {shapes} cannot be broadcast together") from None
            raise
        if self.saves:
            data, *extras = data
            return record(self, inputs, data, params, dict(zip(self.saves, extras, strict=True)))
        return record(self, inputs, data, params)


class Node(NodeView):
    """One recorded call of a primitive: what ``backward`` needs to go through it.

    ``seq`` grows with every node made, so a node's number exceeds its inputs'.
    ``inputs``, ``params`` and ``saved`` are dropped once backward has used them
    (unless the graph is retained); ``inputs is None`` marks a released node.
    """

    __slots__ = ("inputs", "mark", "params", "prim", "saved", "seq", "site")

    def __init__(self, prim: Primitive, inputs: tuple[Tensor, ...], params: dict[str, Any],
                 saved: dict[str, Any] | None) -> None:
        self.prim = prim
        self.inputs: tuple[Tensor, ...] | None = inputs
        self.params: dict[str, Any] | None = params or _EMPTY
        self.saved = saved
        self.seq = next(_creation_order)
        self.mark: object = None  # set by the walk that has queued this node
        self.site: str | None = None  # the user's file:line, recorded under detect_anomaly

    def release(self) -> None:
        self.inputs = self.params = self.saved = None


def record(prim: Primitive, inputs: Sequence[Tensor], data: Any, params: dict[str, Any],
           saved: dict[str, Any] | None = None) -> Tensor:
    """Wrap ``prim``'s result as a Tensor and, if recording, remember how it was made."""
    if type(data) is not np.ndarray and not isinstance(data, np.ndarray):  # numpy turns 0-d results
        data = np.asarray(data)  # into scalars; keep arrays (batched ones too)
    out = inputs[0]._wrap(data)
    if STATE.enabled:
        for t in inputs:
            if t.requires_grad:
                out.requires_grad = True
                out._ctx = Node(prim, tuple(inputs), params, saved)
                break
    if STATE.anomaly:
        site = creation_site()
        if out._ctx is not None:
            out._ctx.site = site
        check_forward(prim.name, [t.data for t in inputs], data, site)
    if FORWARD.level is not None:
        push_tangents(prim, inputs, out, params, saved)
    return out


def reverse_order(roots: Sequence[Tensor], leaves: dict[int, Tensor], caller: str = "backward") -> Iterator[Tensor]:
    """Yield the non-leaf tensors behind ``roots`` that require grad, each after all tensors made from it.

    Popping the largest node number first is a reverse topological order, since
    every node is numbered above its inputs. Only the frontier of the walk is in
    the heap and each node is queued once (marked with this walk's token). The
    leaves reached are put into ``leaves`` (by id). A node is read before it is
    yielded, so the caller may release it before asking for the next. A node
    released by an earlier pass raises ``RuntimeError`` naming ``caller``.
    """
    token = object()
    heap: list[tuple[int, Tensor]] = []
    heappush, heappop = heapq.heappush, heapq.heappop  # locals: these run once per node

    def push(tensors: Iterable[Tensor], requiring_grad_only: bool = True) -> None:
        """Queue each tensor's node once (a leaf goes into ``leaves``): one call per node, not per edge."""
        for tensor in tensors:
            if requiring_grad_only and not tensor.requires_grad:
                continue
            node = tensor._ctx
            if node is None:
                leaves[id(tensor)] = tensor
            elif node.mark is not token:
                if node.inputs is None:
                    raise RuntimeError(f"{caller}: {RELEASED}")
                node.mark = token
                heappush(heap, (-node.seq, tensor))

    push(roots, requiring_grad_only=False)  # a root is walked from whether or not it requires grad
    last_change = STATE.last_change  # no in-place change since a node was made: nothing to check
    while heap:
        tensor = heappop(heap)[1]
        node = tensor._ctx
        if node.seq < last_change:
            check_unchanged(caller, node, tensor)
        push(node.inputs)
        yield tensor


def toposort(roots: Sequence[Tensor], caller: str = "toposort") -> list[Tensor]:
    """The tensors requiring grad that lead to ``roots``, each before its inputs, leaves last."""
    leaves: dict[int, Tensor] = {}
    order = list(reverse_order(roots, leaves, caller))
    return order + list(leaves.values())


def backward(roots: Sequence[Tensor], gradients: Sequence[Any] | None, retain_graph: bool | None,
             create_graph: bool, inputs: Sequence[Tensor] | None = None,
             observer: Observer | None = None, accumulate: bool = False) -> list[Tensor | None] | None:
    """Run reverse mode from ``roots`` (seeded with ``gradients``, or 1 for one-element roots).

    With ``inputs=None`` the gradients of all leaves are added into their
    ``.grad``; otherwise nothing is written and the gradients with respect to
    ``inputs`` (leaves or not) are returned, None where one is unused; with
    ``accumulate`` they are also added into those inputs' ``.grad`` (and only theirs).
    Hooks (``hooks``) see each gradient once it is complete and may replace it.
    ``create_graph`` records the VJPs themselves, for higher derivatives.
    """
    if retain_graph is None:
        retain_graph = create_graph
    if accumulate:  # backward(inputs=...): into these tensors' .grad only
        if not inputs:
            raise RuntimeError("backward: inputs must not be empty; pass None to accumulate into every leaf")
        for i, t in enumerate(inputs):
            if not t.requires_grad:
                raise RuntimeError(f"backward: inputs[{i}] (shape {t.shape}) does not require grad")
    # The gradient of each tensor reached so far. Keyed by the tensor itself (hashed by
    # identity): a walk of a small graph spends a good part of its time computing id()s.
    grads: dict[Tensor, Tensor] = {}
    owned: set[Tensor] = set()  # tensors whose gradient is a sum made here, safe to add into in place
    handed: set[int] = set()  # arrays the caller also holds (seeds): never stored in .grad as they are
    for k, root in enumerate(roots):
        seed = _seed(root, None if gradients is None else gradients[k])
        handed.add(id(seed.data))
        if root in grads:  # the same tensor twice among the roots
            _accumulate(grads, owned, root, seed, create_graph)
        else:
            grads[root] = seed
    wanted = None if inputs is None else {id(t) for t in inputs}
    hooks = HOOKS  # usually empty: one truth test per tensor
    keep = inputs is None or accumulate  # retain_grad() fills .grad in backward, not in autograd.grad
    captured: dict[int, Tensor] = {}
    leaves: dict[int, Tensor] = {}
    # Under detect_anomaly the walk checks each gradient it is sent; the operations inside
    # a VJP are not checked as forwards, so a bad gradient is blamed on its primitive.
    # The VJPs are recorded only when the gradients must be differentiable (create_graph).
    anomaly, recording = STATE.anomaly, STATE.enabled
    STATE.anomaly, STATE.enabled = False, create_graph
    try:
        for tensor in reverse_order(roots, leaves):
            grad = grads.pop(tensor)  # complete: every tensor made from this one is done
            if hooks and id(tensor) in hooks:
                grad = _hooked(tensor, grad, create_graph, handed, keep)
            if wanted is not None and id(tensor) in wanted:
                captured[id(tensor)] = grad
            node: Node = tensor._ctx
            prim, node_inputs, params = node.prim, node.inputs, node.params
            assert node_inputs is not None and params is not None  # reverse_order raised on released nodes
            if node.saved is not None:
                params = {**params, **node.saved}
            # the derivative rule: one VJP per input that needs a gradient, or one vjp= for all at once
            together = None if prim.vjp is None else prim.vjp(grad, tensor, *node_inputs, **params)
            sent: list[tuple[int, Tensor]] | None = None if observer is None else []
            for i, inp in enumerate(node_inputs):
                if not inp.requires_grad:
                    continue
                g = prim.vjps[i](grad, tensor, *node_inputs, **params) if together is None else together[i]
                if g is None:
                    raise RuntimeError(f"{prim.name}: its derivative rule gave no gradient for input {i}, "
                                       "which requires grad")
                if g.data.shape != inp.data.shape:  # broadcasting is undone here, once for every rule
                    g = g.sum_to_size(inp.data.shape)
                if anomaly:
                    check_gradient(prim.name, i, g.data, node.site)
                if sent is not None:
                    sent.append((i, g))
                if inp in grads:  # fan-out: a second path reached inp
                    _accumulate(grads, owned, inp, g, create_graph)
                else:  # the first contribution, by far the most common case
                    grads[inp] = g
            if observer is not None and sent is not None:
                observer(tensor, node, grad, sent)
            if not retain_graph:
                node.inputs = node.params = node.saved = None  # node.release(), without the call
    finally:
        STATE.anomaly, STATE.enabled = anomaly, recording
    # Leaves are finished last, so a failure above leaves every .grad untouched.
    for key, leaf in leaves.items():
        grad = grads[leaf]
        if hooks and key in hooks:
            grad = _hooked(leaf, grad, create_graph, handed, False)
        if wanted is None:
            _deposit(leaf, grad, create_graph, handed)
        elif key in wanted:
            captured[key] = grad
    if inputs is None:
        return None
    found = [captured.get(id(t)) for t in inputs]
    if accumulate:
        for t, g in zip(inputs, found, strict=True):
            if g is not None and not (hooks and id(t) in hooks and hooks[id(t)][0]):  # retained: already in .grad
                _deposit(t, g, create_graph, handed)
    return found


def _hooked(tensor: Tensor, grad: Tensor, create_graph: bool, handed: set[int], keep: bool) -> Tensor:
    """The gradient of ``tensor`` after its hooks; stored in ``.grad`` too if it retains its gradient."""
    grad, retained = run_hooks(tensor, grad)
    if retained and keep:
        handed.add(id(grad.data))  # the walk goes on with this gradient: .grad gets a copy
        _deposit(tensor, grad, create_graph, handed)
    return grad


def _seed(root: Tensor, gradient: Any) -> Tensor:
    if not root.requires_grad:
        raise RuntimeError(f"backward: the tensor of shape {root.shape} does not require grad and has no graph; "
                           "create a leaf with requires_grad=True and compute from it")
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward: the output has shape {root.shape}; a gradient can be created "
                               f"implicitly only for one-element outputs, so pass gradient= shaped {root.shape}")
        if type(root.data) is np.ndarray:  # one element: its shape is all ones, as ndmin makes it
            return root._wrap(np.array(1, dtype=root.data.dtype, ndmin=root.data.ndim))
        return root._wrap(np.ones_like(root.data))  # a batched array keeps its class
    seed = gradient if hasattr(gradient, "_ctx") else root._wrap(np.asarray(gradient, dtype=root.dtype))
    if seed.shape != root.shape:
        raise ValueError(f"backward: gradient has shape {seed.shape}, expected the output's shape {root.shape}")
    return seed


def _accumulate(grads: dict[Tensor, Tensor], owned: set[Tensor], tensor: Tensor, g: Tensor,
                create_graph: bool) -> None:
    """Add ``g`` into the gradient of ``tensor``: fan-out sums here."""
    previous = grads.get(tensor)
    if previous is None:  # the first contribution, by far the most common case
        grads[tensor] = g
    elif create_graph:
        grads[tensor] = previous + g  # recorded, so the sum is differentiable too
    elif tensor in owned and previous.data.dtype == g.data.dtype:
        np.add(previous.data, g.data, out=previous.data)
    else:  # the first gradient may be shared (add passes g through): sum into a buffer of our own
        total = previous.data + g.data
        grads[tensor] = previous._wrap(total if isinstance(total, np.ndarray) else np.asarray(total))
        owned.add(tensor)


def _deposit(leaf: Tensor, grad: Tensor, create_graph: bool, handed: set[int]) -> None:
    """Add a finished gradient into ``leaf.grad``.

    A new ``.grad`` gets an array of its own, writeable and in the leaf's dtype,
    so editing one leaf's gradient in place (clipping, say) never changes
    another's or the caller's. Gradients fresh from a VJP are stored as they are.
    """
    if leaf.grad is not None:
        leaf.grad = leaf.grad + grad
        return
    data = grad.data
    if data.base is not None or id(data) in handed or data.dtype != leaf.data.dtype or not data.flags.writeable:
        grad = grad.astype(leaf.data.dtype) if create_graph else grad._wrap(data.astype(leaf.data.dtype))
    handed.add(id(grad.data))
    leaf.grad = grad
