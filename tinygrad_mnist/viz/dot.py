"""Draw a computation graph as Graphviz DOT text, with no dependency.

[`to_dot`][tinygrad_mnist.viz.to_dot] walks the graph behind a tensor and writes one node per tensor
and one per operation (labelled with its primitive), edges running the way the
data flows: input tensor -> op -> output tensor. [`render`][tinygrad_mnist.viz.render] turns the text
into SVG, PNG or PDF with the ``dot`` program when it is installed (Debian
package ``graphviz``) and otherwise writes the ``.dot`` file and says how to
render it.

Node styles:

* parameters (of a Module, or [`Parameter`][tinygrad_mnist.nn.module.Parameter]): boxes filled light blue;
* other leaves that require grad: plain boxes;
* constants (tensors that need no gradient): grey dashed boxes;
* intermediate results: ellipses; operations: rounded yellow boxes;
* the tensor being drawn: a double border.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> text = to_dot((x * 3.0).sum())
    >>> print(text.splitlines()[0])
    digraph autograd {
    >>> sorted(line.split()[-1] for line in text.splitlines() if "->" in line)
    ['op0;', 'op0;', 'op1;', 't2;', 't3;']
"""

from __future__ import annotations

import math
import shutil
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..core.graph import toposort
from ..core.tensor import Tensor
from ..nn.module import Module, Parameter

Params = Module | Mapping[str, Tensor] | None

RENDER_FORMATS = ("svg", "png", "pdf")
"""Output formats [`render`][tinygrad_mnist.viz.render] asks ``dot`` for (chosen by the file suffix)."""


_STYLES = {
    "parameter": 'shape=box, style=filled, fillcolor="lightblue"',
    "leaf": "shape=box",
    "constant": 'shape=box, style=dashed, color="grey55", fontcolor="grey35"',
    "result": "shape=ellipse",
    "point": "shape=point, width=0.08",
    "op": 'shape=box, style="rounded,filled", fillcolor="lightyellow"',
}


class GraphvizMissingWarning(UserWarning):
    """[`render`][tinygrad_mnist.viz.render] could not find the ``dot`` program and wrote DOT text instead."""


def quote(text: str) -> str:
    """``text`` as a double-quoted DOT string; newlines become DOT line breaks.

    Examples:
        >>> print(quote('say "hi"\\\\n'))
        "say \\"hi\\"\\\\n"
        >>> print(quote("two\\nlines"))
        "two\\nlines"
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + "".join(c if c.isprintable() else " " for c in escaped) + '"'


def _drawing_order(root: Tensor) -> list[Tensor]:
    """Every tensor behind ``root``, each after its inputs.

    The computed tensors come in the engine's order (``toposort``,
    reversed: oldest first), each preceded by the leaves and constants it takes
    that are not listed yet, in argument order; so the node ids depend only on the graph.
    """
    if root._ctx is None:
        return [root]
    order: list[Tensor] = []
    listed: set[int] = set()
    for tensor in reversed(toposort([root], caller="to_dot")):
        node = tensor._ctx
        if node is None:
            continue
        for inp in node.inputs or ():
            if inp._ctx is None and id(inp) not in listed:
                listed.add(id(inp))
                order.append(inp)
        order.append(tensor)
    return order


def _parameter_names(params: Params) -> dict[int, str]:
    if params is None:
        return {}
    return _names_by_id(params.named_parameters() if isinstance(params, Module) else params.items(), "to_dot", "params")


def _names_by_id(items: Any, who: str, argument: str) -> dict[int, str]:
    """The label of each tensor of ``(name, tensor)`` pairs, by id; the first name given a tensor wins.
    Anything but a Tensor raises TypeError naming ``who`` and ``argument[name]``."""
    names: dict[int, str] = {}
    for name, tensor in items:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{who}: {argument}[{name!r}] must be a Tensor, got {type(tensor).__name__}")
        names.setdefault(id(tensor), str(name))
    return names


def _shape_text(tensor: Tensor) -> str:
    return f"{tuple(tensor.shape)} {tensor.dtype}"


def _grad_text(grad: Tensor) -> str:
    data = np.asarray(grad.data)
    if data.dtype.kind not in "fiub":
        return f"grad {tuple(data.shape)}"
    with np.errstate(over="ignore", invalid="ignore"):
        norm = float(np.sqrt(np.sum(np.square(data.astype(np.float64)))))
    return f"grad {tuple(data.shape)} |g|={norm:.4g}"


def _param_text(name: str, value: Any) -> str | None:
    """``name=value`` for small, readable primitive parameters; None for arrays and indices."""
    if isinstance(value, (bool, int, np.integer)):
        return f"{name}={int(value) if not isinstance(value, bool) else value}"
    if isinstance(value, np.dtype):
        return f"{name}={value}"
    if isinstance(value, tuple) and len(value) <= 8 and all(isinstance(v, (int, np.integer)) for v in value):
        return f"{name}={tuple(int(v) for v in value)}"
    return None


def _constant_text(tensor: Tensor) -> str:
    if tensor.data.size == 1 and tensor.data.dtype.kind in "fiub":
        value = tensor.data.reshape(()).item()
        if isinstance(value, float) and math.isfinite(value):
            return f"const {value:.4g}"
        return f"const {value}"
    return "const"


def to_dot(tensor: Tensor, show_shapes: bool = True, show_grads: bool = False, params: Params = None) -> str:
    """The computation graph behind ``tensor`` as Graphviz DOT text.

    Args:
        tensor: the result to draw (a loss, say); a leaf gives a one-node graph.
        show_shapes: put each tensor's shape and dtype in its label.
        show_grads: add the shape and 2-norm of ``.grad`` to leaves that have one
            (draw after ``backward(retain_graph=True)``).
        params: a Module or a dict name -> Tensor; those tensors are drawn as
            parameters under these names. Otherwise a tensor's ``name`` is used.

    Node ids come from the order of the walk (``t0``, ``t1``, ... for tensors,
    ``op0``, ... for operations), so the same graph always gives the same text.

    Raises:
        RuntimeError: the graph was freed by ``backward()`` (draw before it, or
            pass ``retain_graph=True``).

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> w = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> print(to_dot(w @ Tensor([[3.0], [4.0]]), params={"w": w}))  # doctest: +NORMALIZE_WHITESPACE
        digraph autograd {
          graph [rankdir=TB];
          node [fontname="Helvetica", fontsize=10];
          edge [arrowsize=0.7];
          t0 [label="w\\n(1, 2) float32", shape=box, style=filled, fillcolor="lightblue"];
          t1 [label="const\\n(2, 1) float32", shape=box, style=dashed, color="grey55", fontcolor="grey35"];
          op0 [label="matmul", shape=box, style="rounded,filled", fillcolor="lightyellow"];
          t2 [label="output\\n(1, 1) float32", shape=ellipse, peripheries=2];
          t0 -> op0;
          t1 -> op0;
          op0 -> t2;
        }
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    names = _parameter_names(params)
    order = _drawing_order(tensor)
    tensor_ids = {id(t): f"t{i}" for i, t in enumerate(order)}
    lines = [
        "digraph autograd {",
        "  graph [rankdir=TB];",
        '  node [fontname="Helvetica", fontsize=10];',
        "  edge [arrowsize=0.7];",
    ]
    edges: list[str] = []
    ops = 0
    for t in order:
        node = t._ctx
        if node is not None:  # the op that made t, drawn just before t
            op_id = f"op{ops}"
            ops += 1
            label = [node.prim.name]
            if show_shapes:
                label += [p for p in (_param_text(k, v) for k, v in (node.params or {}).items()) if p]
            lines.append(f"  {op_id} [label={quote(chr(10).join(label))}, {_STYLES['op']}];")
            edges += [f"  {tensor_ids[id(inp)]} -> {op_id};" for inp in node.inputs or ()]
            edges.append(f"  {op_id} -> {tensor_ids[id(t)]};")
        name = names.get(id(t)) or t.name
        is_output = t is tensor
        if node is not None:
            kind = "result"
            title = name or ("output" if is_output else None)
        elif id(t) in names or isinstance(t, Parameter):
            kind, title = "parameter", name or "parameter"
        elif t.requires_grad:
            kind, title = "leaf", name or "leaf"
        else:
            kind, title = "constant", name or _constant_text(t)
        label = [title] if title else []
        if show_shapes:
            label.append(_shape_text(t))
        if show_grads and node is None and t.grad is not None:
            label.append(_grad_text(t.grad))
        if not label:
            kind = "point"
        attrs = f"label={quote(chr(10).join(label))}, {_STYLES[kind]}"
        if is_output:
            attrs += ", peripheries=2"
        lines.append(f"  {tensor_ids[id(t)]} [{attrs}];")
    return "\n".join(lines + edges + ["}"]) + "\n"


def how_to_render(dot_path: str | Path, output: str | Path) -> str:
    """The message telling how to turn a written ``.dot`` file into ``output``.

    Examples:
        >>> print(how_to_render("graph.dot", "graph.svg"))
        the 'dot' program (Debian package graphviz) is not installed, so the graph was written
        as DOT text to graph.dot; render it with: dot -Tsvg graph.dot -o graph.svg
    """
    fmt = Path(output).suffix.lstrip(".").lower() or "svg"
    return (
        f"the 'dot' program (Debian package graphviz) is not installed, so the graph was written "
        f"as DOT text to {dot_path}; render it with: dot -T{fmt} {dot_path} -o {output}"
    )


def _write(path: Path, content: bytes) -> None:
    with atomic_write(path) as out:
        out.write(content)


def render(tensor: Tensor, path: str | Path, format: str | None = None, **to_dot_kwargs: Any) -> Path:
    """Draw the graph behind ``tensor`` into ``path`` and return the path written.

    The format comes from ``format`` or else the suffix of ``path``: ``.svg``,
    ``.png`` or ``.pdf`` run the ``dot`` program; ``.dot``/``.gv`` write the
    DOT text itself. When ``dot`` is not installed, the DOT text goes to
    ``path`` with the suffix ``.dot`` instead, a [`GraphvizMissingWarning`][tinygrad_mnist.viz.GraphvizMissingWarning]
    says how to render it, and that ``.dot`` path is returned. Files are
    written atomically. ``to_dot_kwargs`` go to [`to_dot`][tinygrad_mnist.viz.to_dot].

    Examples:
        >>> import tempfile
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor([1.0], requires_grad=True)
        >>> render(x * 2.0, Path(tempfile.mkdtemp()) / "g.dot").name
        'g.dot'
    """
    target = Path(path)
    fmt = (format or target.suffix.lstrip(".")).lower()
    if fmt not in (*RENDER_FORMATS, "dot", "gv"):
        raise ValueError(
            f"render: cannot tell the format of {str(target)!r}; use a .svg, .png, .pdf or .dot "
            f"file name, or pass format= one of {', '.join((*RENDER_FORMATS, 'dot'))}"
        )
    text = to_dot(tensor, **to_dot_kwargs)
    if fmt in ("dot", "gv"):
        _write(target, text.encode())
        return target
    program = shutil.which("dot")
    if program is None:
        fallback = target.with_suffix(".dot")
        _write(fallback, text.encode())
        warnings.warn(how_to_render(fallback, target.with_suffix("." + fmt)), GraphvizMissingWarning, stacklevel=2)
        return fallback
    result = subprocess.run([program, f"-T{fmt}"], input=text.encode(), capture_output=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"render: 'dot -T{fmt}' failed with status {result.returncode}: {detail}")
    _write(target, result.stdout)
    return target
