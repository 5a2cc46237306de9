"""``grad``: gradients of outputs with respect to chosen inputs, returned instead of accumulated;
``backward``: accumulated into ``.grad``, of every leaf or of chosen inputs only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core import graph
from ..core.tensor import Tensor

Tensors = Tensor | Sequence[Tensor]


def as_tensor_tuple(value: Any, what: str) -> tuple[Tensor, ...]:
    """``value`` as a tuple of Tensors, with an error naming ``what`` otherwise."""
    items = (value,) if isinstance(value, Tensor) else tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise TypeError(f"{what}[{i}] must be a Tensor, got {type(item).__name__}")
    return items


def grad(
    outputs: Tensors,
    inputs: Tensors,
    grad_outputs: Sequence[Any] | Any | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Sum over ``outputs`` of the vector-Jacobian products with respect to each input.

    Unlike ``backward`` nothing is written to ``.grad``. With ``create_graph=True``
    the returned gradients are themselves differentiable.

    Args:
        outputs: tensor(s) to differentiate.
        inputs: tensor(s) to differentiate with respect to (leaves or intermediate).
        grad_outputs: one vector per output, shaped like it; may be omitted for
            one-element outputs.
        retain_graph: keep the graph for another pass (defaults to ``create_graph``).
        create_graph: record the backward pass for higher derivatives.
        allow_unused: return None for an input the outputs do not depend on,
            instead of raising.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> a, b = Tensor(2.0, requires_grad=True), Tensor(5.0, requires_grad=True)
        >>> grad(a * b, (a, b))
        (Tensor(5.), Tensor(2.))
    """
    outs = as_tensor_tuple(outputs, "outputs")
    ins = as_tensor_tuple(inputs, "inputs")
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) does not require grad")
    seeds = None
    if grad_outputs is not None:
        seeds = [grad_outputs] if isinstance(outputs, Tensor) else list(grad_outputs)
        if len(seeds) != len(outs):
            raise ValueError(f"grad: got {len(seeds)} grad_outputs for {len(outs)} outputs")
    result = graph.backward(outs, seeds, retain_graph, create_graph, inputs=ins)
    assert result is not None
    if not allow_unused:
        for i, g in enumerate(result):
            if g is None:
                raise RuntimeError(
                    f"grad: inputs[{i}] (shape {ins[i].shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
    return tuple(result)


def backward(
    tensors: Tensors,
    grad_tensors: Sequence[Any] | Any | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Tensors | None = None,
) -> None:
    """Add the gradients of ``tensors`` into ``.grad``: of every leaf, or with ``inputs`` of those only
    (leaves or not); ``tensor.backward(...)`` for one or several outputs at once.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> a, b = Tensor(2.0, requires_grad=True), Tensor(5.0, requires_grad=True)
        >>> backward(a * b, inputs=[a])
        >>> a.grad, b.grad
        (Tensor(5.), None)
    """
    outs = as_tensor_tuple(tensors, "tensors")
    seeds = None
    if grad_tensors is not None:
        seeds = [grad_tensors] if isinstance(tensors, Tensor) else list(grad_tensors)
        if len(seeds) != len(outs):
            raise ValueError(f"backward: got {len(seeds)} grad_tensors for {len(outs)} tensors")
    if inputs is None:
        graph.backward(outs, seeds, retain_graph, create_graph)
        return
    graph.backward(outs, seeds, retain_graph, create_graph, inputs=as_tensor_tuple(inputs, "inputs"), accumulate=True)
