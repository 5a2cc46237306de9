"""The check behind in-place safety: a node refuses to run on a tensor changed after it was recorded.

Every in-place change stamps the tensor with the graph's creation count
(``_changed_at``, see ``inplace``); a node whose number
is smaller was recorded before the change. The walk calls ``check_unchanged``
only for nodes older than the latest change anywhere, so a training step pays
nothing for it. Whether a change matters depends on what the node's rule reads
(``Primitive.reads``: the inputs and/or the output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only; never imported at run time
    from .graph import Node
    from .tensor import Tensor


def check_unchanged(caller: str, node: Node, out: Tensor) -> None:
    """Refuse ``node`` if its output or an input was changed in place after it was recorded."""
    if out._changed_at > node.seq:
        _refuse_stale(caller, node, out, output=True)
    for inp in node.inputs or ():
        if inp._changed_at > node.seq:
            _refuse_stale(caller, node, inp, output=False)


def _refuse_stale(caller: str, node: Node, tensor: Tensor, output: bool) -> None:
    """Raise if a VJP that will run (for an input that requires grad) reads ``tensor``, the node's
    output or one of its inputs, which was changed in place after the node was recorded."""
    inputs, reads = node.inputs or (), node.prim.reads
    per_input = reads if reads and isinstance(reads[0], tuple) else (reads,) * len(inputs)
    if any(("output" if output else "inputs") in r and t.requires_grad for r, t in zip(per_input, inputs, strict=True)):
        which = "the output" if output else f"input {[t is tensor for t in inputs].index(True)}"
        raise RuntimeError(
            f"{caller}: {which} of {node.prim.name} (shape {tensor.shape}, now at version {tensor._version}) "
            f"was changed in place after {node.prim.name} was recorded, and its derivative needs the old "
            "value; change a copy instead (x = x + 1 rather than x += 1), or call backward before the change")
