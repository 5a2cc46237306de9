"""A step-by-step record of one backward pass: what each VJP received and what it sent.

[`trace_backward`][tinygrad_mnist.autograd.trace_backward] runs reverse mode exactly like ``loss.backward()`` (the
leaves' ``.grad`` are filled the same way) and lists, in the order the engine
went through them, every node of the graph: its primitive, the gradient that
arrived at its output, and the gradient it sent to each input. The newest node
comes first, so the steps read the forward computation backwards.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    >>> b = Tensor(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    >>> a.name, b.name = "a", "b"
    >>> trace = trace_backward((a * b + a).sum())
    >>> [step.op for step in trace.steps]
    ['sum', 'add', 'mul']
    >>> trace.print()
    Backward trace: 3 steps, newest node first (the forward order reversed); |g| is an L2 norm.
    Each step takes the gradient arriving at an op's output (shaped like it) and sends one to each
    input that requires grad, summed over broadcast axes to that input's shape.
    step  op   out shape  |g| in  input             sent shape  |g| sent  note
       1  sum  ()         1       x0 (from step 2)  (3,)        1.732
       2  add  (3,)       1.732   x0 (from step 3)  (3,)        1.732
                                  x1 (leaf a)       (3,)        1.732     fan-out: 1st of 2, summed
       3  mul  (3,)       1.732   x0 (leaf a)       (3,)        8.775     fan-out: 2nd of 2, summed
                                  x1 (leaf b)       (3,)        3.742
    Deposited into .grad (sum of the contributions above):
    leaf  shape  |grad|  from steps
    a     (3,)   10.49   2, 3
    b     (3,)   3.742   3
    >>> a.grad
    Tensor([5., 6., 7.], dtype=float64)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from ..core.graph import Node, backward
from ..core.tensor import Tensor

Names = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]

__all__ = ["BackwardTrace", "InputRecord", "LeafRecord", "TraceStep", "trace_backward"]


@dataclass
class InputRecord:
    """One input of a step and the gradient the step sent to it.

    ``sent_shape`` and ``sent_norm`` are None when the input does not require
    grad ("no grad"): the VJP for it is not even called. ``from_step`` is the
    step that later processed this input (None for a leaf); ``contribution``
    counts the gradients this input received so far, of ``contributions`` in all
    (more than one: fan-out, the engine sums them).
    """

    index: int
    label: str
    shape: tuple[int, ...]
    is_leaf: bool
    requires_grad: bool
    sent_shape: tuple[int, ...] | None
    sent_norm: float | None
    from_step: int | None = None
    contribution: int = 0
    contributions: int = 0

    @property
    def sent(self) -> bool:
        return self.sent_shape is not None


@dataclass
class TraceStep:
    """One node of the reverse walk: gradient in at the output, one gradient out per input."""

    number: int
    op: str
    output_shape: tuple[int, ...]
    output_name: str | None
    input_shapes: list[tuple[int, ...]]
    grad_shape: tuple[int, ...]
    grad_norm: float
    inputs: list[InputRecord]


@dataclass
class LeafRecord:
    """What the pass deposited into one leaf's ``.grad``: the sum of its contributions."""

    label: str
    shape: tuple[int, ...]
    norm: float
    from_steps: list[int]
    accumulated: bool  # the leaf already had a .grad, and the deposit was added to it
    grad_norm: float  # of .grad after the pass


@dataclass
class BackwardTrace:
    """The steps of one backward pass, in the order the engine took them, and the leaves' deposits."""

    steps: list[TraceStep] = field(default_factory=list)
    leaves: list[LeafRecord] = field(default_factory=list)

    def table(self) -> str:
        """The trace as an aligned text table, with a header explaining the columns."""
        n = len(self.steps)
        lines = [
            (f"Backward trace: {n} step{'' if n == 1 else 's'}, newest node first (the forward order reversed); "
             "|g| is an L2 norm."),
            "Each step takes the gradient arriving at an op's output (shaped like it) and sends one to each",
            "input that requires grad, summed over broadcast axes to that input's shape.",
        ]
        rows: list[list[str]] = [["step", "op", "out shape", "|g| in", "input", "sent shape", "|g| sent", "note"]]
        for step in self.steps:
            op = step.op if step.output_name is None else f"{step.op} -> {step.output_name}"
            head = [f"{step.number:>4}", op, _shape(step.output_shape), _norm_str(step.grad_norm)]
            for k, inp in enumerate(step.inputs):
                if inp.sent_shape is not None and inp.sent_norm is not None:
                    sent = [_shape(inp.sent_shape), _norm_str(inp.sent_norm)]
                else:
                    sent = ["no grad", ""]
                note = ""
                if inp.contributions > 1:
                    note = f"fan-out: {_ordinal(inp.contribution)} of {inp.contributions}, summed"
                rows.append((head if k == 0 else [""] * 4) + [inp.label, *sent, note])
            if not step.inputs:
                rows.append([*head, "", "", "", ""])
        lines += _align(rows)
        if self.leaves:
            lines.append("Deposited into .grad (sum of the contributions above):")
            leaf_rows = [["leaf", "shape", "|grad|", "from steps"]]
            for leaf in self.leaves:
                unique = sorted(set(leaf.from_steps))
                steps = ", ".join(map(str, unique)) or "the seed"
                if len(leaf.from_steps) > len(unique):
                    steps += f" ({len(leaf.from_steps)} contributions)"
                if leaf.accumulated:
                    steps += f" (added to an earlier .grad; |.grad| now {_norm_str(leaf.grad_norm)})"
                leaf_rows.append([leaf.label, _shape(leaf.shape), _norm_str(leaf.norm), steps])
            lines += _align(leaf_rows)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def print(self, file: IO[str] | None = None) -> None:
        """Print [`table`][tinygrad_mnist.autograd.BackwardTrace.table]."""
        print(self.table(), file=file)


def trace_backward(
    loss: Tensor,
    gradient: Any = None,
    retain_graph: bool = False,
    names: Names | None = None,
) -> BackwardTrace:
    """Run ``loss.backward(gradient, retain_graph)`` and record each step of the reverse walk.

    The leaves' ``.grad`` are accumulated exactly as by ``loss.backward()``.
    Leaves are labelled with their ``Tensor.name``, or with a name from
    ``names`` (a mapping or pairs of name and tensor, e.g.
    ``model.named_parameters()``), else numbered ``#1``, ``#2``... in the order
    the walk reaches them; intermediate inputs are labelled with the step that
    processed them.

    Args:
        loss: the tensor to differentiate (one element unless ``gradient`` is given).
        gradient: the seed, shaped like ``loss``; 1 when omitted.
        retain_graph: keep the graph for another pass (as in ``backward``).
        names: extra labels for tensors, by name.
    """
    labels: dict[int, str] = {}
    if names is not None:
        for name, tensor in (names.items() if isinstance(names, Mapping) else names):
            labels[id(tensor)] = name
    # Per step: the output tensor, the primitive's name, the incoming gradient's shape and
    # norm, and per input (index, input, (shape, norm) of the gradient sent, or None).
    # Holding the tensors keeps their ids unique until the labels are made.
    walk: list[tuple[Tensor, str, tuple[int, ...], float, list[tuple[int, Tensor, Any]]]] = []
    deposits: dict[int, _Deposit] = {}  # per leaf, in the order the walk reaches them

    def observe(tensor: Tensor, node: Node, grad: Tensor, sent: list[tuple[int, Tensor]]) -> None:
        step = len(walk) + 1
        got = dict(sent)
        inputs: list[tuple[int, Tensor, Any]] = []
        for i, inp in enumerate(node.inputs or ()):
            g = got.get(i)
            if g is None:
                inputs.append((i, inp, None))
                continue
            inputs.append((i, inp, (g.data.shape, _l2(g.data))))
            if inp._ctx is None:  # a leaf: its .grad is written only after the walk
                deposit = deposits.get(id(inp))
                if deposit is None:
                    deposit = deposits[id(inp)] = _Deposit(inp)
                deposit.add(g.data, step)
        walk.append((tensor, node.prim.name, grad.data.shape, _l2(grad.data), inputs))

    if loss._ctx is None and loss.requires_grad:  # a leaf as the loss: the seed goes straight to its .grad
        deposits[id(loss)] = _Deposit(loss)
        seed = np.ones(loss.data.shape) if gradient is None else _raw(gradient)
        deposits[id(loss)].add(np.asarray(seed), None)
    backward((loss,), None if gradient is None else (gradient,), retain_graph, False, observer=observe)
    return _assemble(walk, deposits, labels)


class _Deposit:
    """The running sum (in float64) of the gradients sent to one leaf."""

    def __init__(self, leaf: Tensor) -> None:
        self.leaf = leaf
        self.had_grad = leaf.grad is not None
        self.total = np.zeros(leaf.data.shape, dtype=np.float64)
        self.steps: list[int] = []

    def add(self, g: np.ndarray, step: int | None) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            self.total += g
        if step is not None:
            self.steps.append(step)


def _assemble(walk: list[Any], deposits: dict[int, _Deposit], labels: dict[int, str]) -> BackwardTrace:
    step_of = {id(tensor): n for n, (tensor, *_) in enumerate(walk, start=1)}
    received: dict[int, int] = {}  # gradients each input received in all
    for *_, inputs in walk:
        for _, inp, sent in inputs:
            if sent is not None:
                received[id(inp)] = received.get(id(inp), 0) + 1
    leaf_label: dict[int, str] = {}  # unnamed leaves are numbered as the walk reaches them

    def name_of(tensor: Tensor) -> str | None:
        name = labels.get(id(tensor), tensor.name)
        if name is None and tensor._ctx is None and tensor.requires_grad:
            name = leaf_label.setdefault(id(tensor), f"#{len(leaf_label) + 1}")
        return name

    counted: dict[int, int] = {}
    trace = BackwardTrace()
    for n, (tensor, op, grad_shape, grad_norm, inputs) in enumerate(walk, start=1):
        records = []
        for i, inp, sent in inputs:
            key, name = id(inp), name_of(inp)
            if inp._ctx is not None:
                where = f"from step {step_of[key]}" if name is None else f"{name}, from step {step_of[key]}"
            elif inp.requires_grad:
                where = f"leaf {name}"
            else:
                where = "const" if name is None else f"const {name}"
            record = InputRecord(i, f"x{i} ({where})", inp.data.shape, inp._ctx is None, inp.requires_grad,
                                 None, None, step_of.get(key))
            if sent is not None:
                counted[key] = counted.get(key, 0) + 1
                record.sent_shape, record.sent_norm = sent
                record.contribution, record.contributions = counted[key], received[key]
            records.append(record)
        trace.steps.append(TraceStep(
            number=n, op=op, output_shape=tensor.data.shape, output_name=labels.get(id(tensor), tensor.name),
            input_shapes=[inp.data.shape for _, inp, _ in inputs],
            grad_shape=grad_shape, grad_norm=grad_norm, inputs=records,
        ))
    for deposit in deposits.values():
        leaf = deposit.leaf
        trace.leaves.append(LeafRecord(
            label=name_of(leaf) or "?", shape=leaf.data.shape, norm=_l2(deposit.total), from_steps=deposit.steps,
            accumulated=deposit.had_grad, grad_norm=_l2(leaf.grad.data) if leaf.grad is not None else 0.0,
        ))
    return trace


def _raw(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def _l2(data: np.ndarray) -> float:
    """The L2 norm in float64 (inf and nan pass through without warnings)."""
    with np.errstate(over="ignore", invalid="ignore"):
        flat = np.asarray(data, dtype=np.float64).ravel()
        return float(np.sqrt(np.dot(flat, flat)))


def _norm_str(value: float) -> str:
    return f"{value:.4g}"


def _shape(shape: Sequence[int]) -> str:
    return str(tuple(int(n) for n in shape))


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [cell.rjust(w) if c == 0 and cell.strip().isdigit() else cell.ljust(w)
                 for c, (cell, w) in enumerate(zip(row, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return out
