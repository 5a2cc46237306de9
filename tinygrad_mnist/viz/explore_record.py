"""What the explorer page shows, recorded from the engine: the graph, forward values, tangents, the reverse walk.

[`record`][tinygrad_mnist.viz.explore_record.record] takes a finished forward pass (its output,
before ``backward``) and returns a JSON-ready dict:

* ``nodes``: one per tensor of the graph, inputs first (the order of ``to_dot``): id ``n0``,
  ``n1``..., kind (``leaf``, ``const`` or ``op``), primitive, name, shape, dtype, the ids of
  its inputs, its forward value and its forward-mode tangent;
* tangents: the engine's own forward-mode push (``core.forward.push``, the function every
  recorded primitive calls inside a dual level) replayed over the recorded nodes, oldest
  first, with the chosen tangent on the leaves: the JVP rules of the rule table, not a copy;
* ``steps``: the reverse walk as the engine's observer reports it, in the engine's order:
  the gradient arriving at each node and what it sent to each input (after unbroadcast),
  with the fan-out count and running sum of every input reached more than once;
* ``leaves``: each leaf's ``.grad`` after the pass.

A tensor becomes ``{"shape", "dtype", "stats", "values" or "heat"}``: every element (full
precision, as JSON floats) when it has at most [`SMALL`][tinygrad_mnist.viz.explore_record.SMALL],
else a heatmap averaged down to at most 64 x 64 cells; ``stats`` (min, max, mean, L2 norm)
are exact. NaN and infinities are written as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

Examples:
    >>> import numpy as np
    >>> tensor_data(np.array([1.5, -2.0]))["values"]
    [1.5, -2.0]
    >>> sorted(tensor_data(np.zeros((100, 300)))["heat"])
    ['cols', 'data', 'rows']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..core.forward import FORWARD, enter_level, exit_level, push, set_tangent, tangent_of
from ..core.grad_mode import no_grad
from ..core.graph import Node, backward
from ..core.tensor import Tensor
from .dot import _constant_text, _drawing_order

SMALL = 64
"""Tensors with at most this many elements show every number; larger ones a heatmap and statistics."""
HEAT = 64

__all__ = ["SMALL", "record", "tensor_data"]


def _number(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _heat(flat: np.ndarray) -> dict[str, Any]:
    """The tensor as a matrix (rows: all axes but the last), averaged down to at most HEAT x HEAT cells."""
    matrix = flat.reshape(1, -1) if flat.ndim < 2 else flat.reshape(-1, flat.shape[-1])
    for axis in (0, 1):
        n = matrix.shape[axis]
        if n > HEAT:
            starts = (np.arange(HEAT) * n) // HEAT
            counts = np.diff(np.append(starts, n))
            with np.errstate(invalid="ignore", over="ignore"):
                summed = np.add.reduceat(matrix, starts, axis=axis)
                matrix = summed / (counts if axis == 1 else counts[:, None])
    cells = [_number(float(f"{v:.4g}")) for v in matrix.ravel()]
    return {"rows": int(matrix.shape[0]), "cols": int(matrix.shape[1]), "data": cells}


def tensor_data(array: Any) -> dict[str, Any]:
    """A tensor (or array) as the page shows it: shape, dtype, statistics and values or heatmap.

    Examples:
        >>> d = tensor_data(np.arange(6.0).reshape(2, 3))
        >>> d["shape"], d["values"], d["stats"]["max"]
        ([2, 3], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 5.0)
    """
    data = np.asarray(array.data if isinstance(array, Tensor) else array)
    out: dict[str, Any] = {"shape": [int(n) for n in data.shape], "dtype": str(data.dtype)}
    if data.dtype.kind not in "fiub" or data.size == 0:
        return out
    flat = data.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = flat[np.isfinite(flat)]
        out["stats"] = {
            "min": _number(float(np.min(flat))), "max": _number(float(np.max(flat))),
            "mean": _number(float(np.mean(flat))), "norm": _number(float(np.sqrt(np.sum(flat * flat)))),
            "maxabs": float(np.max(np.abs(finite))) if finite.size else 0.0,
        }
    if data.size <= SMALL:
        out["values"] = [_number(float(v)) for v in flat.ravel()]
    else:
        out["heat"] = _heat(flat)
    return out


def _tangents(order: list[Tensor], seeds: Mapping[int, Tensor]) -> tuple[dict[int, Tensor], str | None]:
    """Each tensor's tangent, from the engine's forward-mode push replayed over the recorded nodes."""
    if FORWARD.level is not None:
        return {}, "forward mode was skipped: a dual level is already open, and dual levels do not nest"
    found: dict[int, Tensor] = {}
    level = enter_level()
    try:
        with no_grad():  # the rules' own operations need no graph here
            for t in order:
                node = t._ctx
                if id(t) in seeds:
                    set_tangent(t, seeds[id(t)])
                elif node is not None and node.inputs is not None and node.params is not None:
                    push(node.prim, node.inputs, t, node.params, node.saved)
                tangent = tangent_of(t)
                if tangent is not None:
                    found[id(t)] = tangent
    except NotImplementedError as exc:
        return {}, f"forward mode is not available for this graph: {exc}"
    finally:
        exit_level(level)
    return found, None


class _Walk:
    """The observer of one backward pass: the steps in the engine's order, with the tensors sent."""

    def __init__(self, ids: Mapping[int, str]) -> None:
        self.ids = ids
        self.steps: list[dict[str, Any]] = []
        self.sent: list[tuple[dict[str, Any], Tensor, np.ndarray]] = []  # (entry, input, gradient sent)

    def __call__(self, tensor: Tensor, node: Node, grad: Tensor, sent: list[tuple[int, Tensor]]) -> None:
        got = dict(sent)
        entries = []
        for i, inp in enumerate(node.inputs or ()):
            entry: dict[str, Any] = {"input": i, "to": self.ids[id(inp)]}
            g = got.get(i)
            if g is None:
                entry["grad"] = None
            else:
                entry["grad"] = tensor_data(g.data)
                self.sent.append((entry, inp, np.array(g.data, dtype=np.float64)))
            entries.append(entry)
        self.steps.append({"node": self.ids[id(tensor)], "grad": tensor_data(grad.data), "sends": entries})

    def fan_out(self) -> None:
        """Number each input's contributions and, where there are several, add the running sum."""
        totals: dict[int, int] = {}
        for _, inp, _ in self.sent:
            totals[id(inp)] = totals.get(id(inp), 0) + 1
        counted: dict[int, int] = {}
        running: dict[int, np.ndarray] = {}
        for entry, inp, g in self.sent:
            key = id(inp)
            counted[key] = counted.get(key, 0) + 1
            entry["k"], entry["of"] = counted[key], totals[key]
            if totals[key] > 1:
                running[key] = g if key not in running else running[key] + g
                entry["running"] = tensor_data(running[key])


def leaf_labels(order: list[Tensor], names: Mapping[int, str]) -> dict[int, str]:
    """A name for each leaf: given, or ``Tensor.name``, else ``x0``, ``x1``... (constants: ``const``)."""
    labels: dict[int, str] = {}
    taken = {n for n in names.values()} | {t.name for t in order if t.name}
    count = 0
    for t in order:
        name = names.get(id(t)) or t.name
        if name is None and t._ctx is None:
            if t.requires_grad:
                while f"x{count}" in taken:
                    count += 1
                name = f"x{count}"
                taken.add(name)
            else:
                name = _constant_text(t)
        if name is not None:
            labels[id(t)] = name
    return labels


def record(output: Tensor, names: Mapping[int, str], tangent_for: Callable[[Tensor, str], np.ndarray | None],
           grad_output: Tensor | None = None, retain_graph: bool = False,
           blocks: Sequence[tuple[str, str, Sequence[Tensor]]] = ()) -> dict[str, Any]:
    """Record everything the page shows about ``output``'s graph, then run its backward pass.

    ``names`` labels tensors by id; ``tangent_for(leaf, label)`` gives the tangent of a leaf that
    requires grad (None: the leaf is held fixed in forward mode); ``blocks`` lists
    ``(label, type name, member tensors)`` groups of nodes drawn as one box when collapsed.
    """
    order = _drawing_order(output)
    ids = {id(t): f"n{i}" for i, t in enumerate(order)}
    labels = leaf_labels(order, names)
    seeds: dict[int, Tensor] = {}
    held: list[str] = []
    for t in order:
        if t._ctx is None and t.requires_grad and t.data.dtype.kind in "fc":
            tangent = tangent_for(t, labels[id(t)])
            if tangent is None:
                held.append(labels[id(t)])
            else:
                seeds[id(t)] = t._wrap(np.asarray(tangent, dtype=t.data.dtype))
    tangents, note = _tangents(order, seeds)
    block_of: dict[int, str] = {}
    block_list = []
    for k, (label, kind, members) in enumerate(blocks):
        inside = [ids[id(m)] for m in members if id(m) in ids and id(m) not in block_of]
        if inside:
            for m in members:
                block_of.setdefault(id(m), f"b{k}")
            block_list.append({"id": f"b{k}", "label": label, "type": kind, "members": inside})
    nodes = []
    for t in order:
        node = t._ctx
        kind = "op" if node is not None else ("leaf" if t.requires_grad else "const")
        nodes.append({
            "id": ids[id(t)], "kind": kind, "op": node.prim.name if node is not None else None,
            "name": labels.get(id(t)), "shape": [int(n) for n in t.data.shape], "dtype": str(t.data.dtype),
            "inputs": [ids[id(i)] for i in (node.inputs or ())] if node is not None else [],
            "block": block_of.get(id(t)), "value": tensor_data(t.data),
            "tangent": tensor_data(tangents[id(t)].data) if id(t) in tangents else None,
        })
    leaves = [t for t in order if t._ctx is None and t.requires_grad]
    had_grad = {id(t) for t in leaves if t.grad is not None}
    walk = _Walk(ids)
    backward((output,), None if grad_output is None else (grad_output,), retain_graph, False, observer=walk)
    walk.fan_out()
    deposits = [{"node": ids[id(t)], "name": labels[id(t)], "grad": tensor_data(t.grad.data),
                 "accumulated": id(t) in had_grad} for t in leaves if t.grad is not None]
    return {
        "nodes": nodes, "output": ids[id(output)], "steps": walk.steps, "leaves": deposits, "blocks": block_list,
        "seed": tensor_data(np.ones(output.data.shape) if grad_output is None else grad_output.data),
        "forward_mode": {"available": note is None, "note": note, "held": held,
                         "given": [labels[k] for k in seeds]},
    }
