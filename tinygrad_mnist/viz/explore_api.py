"""The autodiff explorer: one self-contained web page that steps through a graph in forward and reverse mode.

[`explore`][tinygrad_mnist.viz.explore] runs a function on its inputs, and
[`explore_graph`][tinygrad_mnist.viz.explore_graph] takes a graph already built; both record,
from the engine itself, the graph, every tensor's forward value, its forward-mode tangent
(the JVP rules of the rule table) and the reverse walk of ``backward()`` (the walk's observer:
the gradient arriving at each node, what each input receives after unbroadcast, fan-out sums,
the leaves' ``.grad``). The result, an [`Exploration`][tinygrad_mnist.viz.Exploration], is a
page: [`save`][tinygrad_mnist.viz.Exploration.save] writes it as one HTML file (data, script
and style inline, no request to any host, works from ``file://``), and in Jupyter it shows inline.

The page draws the graph top to bottom, inputs first, each node with its primitive, shape and
dtype, and steps through three stages with the buttons or the arrow keys: the forward values,
forward mode along a tangent, and the reverse walk in the engine's order. Tensors of at most 64
elements show their numbers, larger ones a heatmap and min / max / mean / norm.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> x, W, b = Tensor(np.ones(3)), Tensor(np.eye(3)), Tensor(np.zeros(3))
    >>> page = explore(lambda x, W, b: ((W @ x + b).tanh() * x).sum(), x, W, b)
    >>> [step["node"] for step in page.data["steps"]][:2], page.data["nodes"][0]["name"]
    (['n7', 'n6'], 'W')
    >>> "https://" in page.html() or "http://" in page.html()
    False
"""

from __future__ import annotations

import html
import inspect
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..core.graph import toposort
from ..core.tensor import Tensor
from ..nn.module import Module
from .dot import _drawing_order, _names_by_id
from .explore_layout import LAYOUTS
from .explore_page import build_layouts, page_html
from .explore_record import leaf_labels, record

Names = Mapping[str, Tensor] | Sequence[tuple[str, Tensor]]
TangentSpec = str | Sequence[Any] | Mapping[str, Any] | None

__all__ = ["Exploration", "explore", "explore_graph"]


class Exploration:
    """A recorded forward and backward pass, ready to be shown: ``html()``, ``save(path)``, inline in Jupyter.

    ``data`` holds what the page shows, as JSON-ready Python values (see ``explore_record``):
    ``nodes``, ``steps`` (the reverse walk), ``leaves`` (the ``.grad`` deposits), ``blocks``,
    ``layouts`` and ``forward_mode``.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> page = explore_graph((Tensor([1.0, 2.0], requires_grad=True) * 3.0).sum())
        >>> page.data["leaves"][0]["grad"]["values"]
        [3.0, 3.0]
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def html(self) -> str:
        """The complete page: one HTML document with its data, script and style inline.

        Examples:
            >>> from tinygrad_mnist import Tensor
            >>> explore_graph(Tensor([2.0], requires_grad=True).exp().sum()).html().startswith("<!DOCTYPE html>")
            True
        """
        return page_html(self.data)

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (atomically: a reader never sees half a file) and return the path.

        Examples:
            >>> import tempfile
            >>> from tinygrad_mnist import Tensor
            >>> page = explore_graph(Tensor([2.0], requires_grad=True).exp().sum())
            >>> page.save(Path(tempfile.mkdtemp()) / "explore.html").name
            'explore.html'
        """
        target = Path(path)
        with atomic_write(target) as out:
            out.write(self.html().encode("utf-8"))
        return target

    def _repr_html_(self) -> str:
        """The page inside an iframe (``srcdoc``), so that several explorers in one notebook stay apart."""
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                'style="width: 100%; height: 680px; border: 1px solid #ccc;" '
                'sandbox="allow-scripts" title="autodiff explorer"></iframe>')

    def __repr__(self) -> str:
        nodes, steps = len(self.data["nodes"]), len(self.data["steps"])
        return f"<Exploration {self.data['title']!r}: {nodes} nodes, {steps} reverse steps>"


def _check_layout(layout: str) -> None:
    """Refuse a bad ``layout`` before anything runs (``backward()`` consumes the graph)."""
    if layout not in LAYOUTS:
        raise ValueError(f"explore: layout must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}")
    if layout == "dot" and shutil.which("dot") is None:
        raise RuntimeError("explore: layout='dot' needs Graphviz's 'dot' program (Debian package graphviz), which "
                           "is not installed; use layout='python' or 'auto'")


def _name_map(names: Names | None) -> dict[int, str]:
    if names is None:
        return {}
    return _names_by_id(names.items() if isinstance(names, Mapping) else names, "explore", "names")


def _tangent_source(tangents: TangentSpec, labels: Sequence[str] | None, seed: int
                    ) -> tuple[Callable[[Tensor, str], np.ndarray | None], set[str]]:
    """``tangent_for(leaf, label)``: the tangent each differentiable leaf gets in forward mode, and the
    names given one explicitly.

    ``labels`` lists the leaves that take a tangent (the inputs of ``explore``), None for all.
    """
    rng = np.random.default_rng(seed)
    given: dict[str, Any] = {}
    if isinstance(tangents, Mapping):
        given = {str(k): v for k, v in tangents.items()}
    elif tangents is not None and not isinstance(tangents, str):
        if labels is None:
            raise TypeError("explore_graph: tangents must be 'ones', 'random' or a dict of leaf name -> tangent "
                            f"(the leaves have no order of their own), got {type(tangents).__name__}")
        if len(tangents) != len(labels):
            raise ValueError(f"explore: tangents has {len(tangents)} entries, expected one per differentiable input "
                             f"({len(labels)}: {', '.join(labels)})")
        given = dict(zip(labels, tangents, strict=True))
    elif tangents not in (None, "ones", "random"):
        raise ValueError(f"explore: tangents must be 'ones', 'random', a sequence or a dict, got {tangents!r}")

    def tangent_for(leaf: Tensor, label: str) -> np.ndarray | None:
        if label in given:
            value = given[label]
            array = np.asarray(value.data if isinstance(value, Tensor) else value, dtype=np.float64)
            if array.shape != leaf.data.shape:
                raise ValueError(f"explore: the tangent of {label!r} has shape {array.shape}, expected the "
                                 f"input's shape {leaf.data.shape}")
            return array
        if given or (labels is not None and label not in labels):
            return None  # held fixed: forward mode moves only the inputs given a tangent
        if tangents == "random":
            return rng.standard_normal(leaf.data.shape)
        return np.ones(leaf.data.shape)

    return tangent_for, set(given)


def _check_output(output: Any, grad_output: Any, who: str) -> Tensor | None:
    if not isinstance(output, Tensor):
        what = "the function must return" if who == "explore" else "output must be"
        raise TypeError(f"{who}: {what} a Tensor, got {type(output).__name__}")
    if output._ctx is None:
        raise ValueError(f"{who}: the output of shape {output.shape} has no recorded operation: compute it from "
                         "tensors that require grad (explore makes its floating point inputs require grad)")
    if grad_output is None:
        if output.data.size != 1:
            raise ValueError(f"{who}: the output has shape {output.shape}; reverse mode starts from one number, so "
                             f"return a one-element tensor or pass grad_output= shaped {output.shape}")
        return None
    seed = grad_output if isinstance(grad_output, Tensor) else None
    array = np.asarray(seed.data if seed is not None else grad_output, dtype=output.data.dtype)
    if array.shape != output.data.shape:
        raise ValueError(f"{who}: grad_output has shape {array.shape}, expected the output's shape {output.shape}")
    return output._wrap(array)


def _finish(output: Tensor, names: dict[int, str],
            tangents: tuple[Callable[[Tensor, str], np.ndarray | None], set[str]],
            seed: Tensor | None, retain_graph: bool, blocks: list[tuple[str, str, list[Tensor]]],
            layout: str, title: str, path: str | Path | None) -> Exploration:
    tangent_for, given = tangents
    toposort([output], caller="explore")  # a graph freed by backward() is refused here, in explore's name
    order = _drawing_order(output)
    labels = leaf_labels(order, names)
    leaves = [labels[id(t)] for t in order if t._ctx is None and t.requires_grad]
    unknown = sorted(given - set(leaves))
    if unknown:
        raise ValueError(f"explore: tangents names {', '.join(map(repr, unknown))}, which is not a leaf that "
                         f"requires grad; the leaves are {', '.join(leaves)}")
    data = record(output, names, tangent_for, seed, retain_graph, blocks)
    data["title"] = title
    data["layouts"] = build_layouts(data, layout)
    page = Exploration(data)
    if path is not None:
        page.save(path)
    return page


def explore_graph(output: Tensor, *, grad_output: Any = None, tangents: TangentSpec = None,
                  names: Names | None = None, retain_graph: bool = False, layout: str = "auto",
                  title: str | None = None, path: str | Path | None = None, seed: int = 0) -> Exploration:
    """Explore a graph already built: ``output`` (a loss, say) and everything behind it.

    Runs ``output.backward(grad_output)`` (the leaves' ``.grad`` are filled as usual). Forward mode
    replays the recorded nodes with a tangent on every leaf that requires grad: ones by default,
    ``"random"`` for a seeded standard normal direction, or a dict leaf name -> tangent (leaves
    left out are held fixed).

    Args:
        output: the result; one element, or pass ``grad_output`` shaped like it.
        grad_output: the seed of the reverse walk (1 when omitted).
        tangents: ``None``/``"ones"``, ``"random"`` or a dict of leaf name -> array.
        names: labels for tensors (a dict name -> tensor or pairs, e.g. ``model.named_parameters()``);
            otherwise ``Tensor.name``, else ``x0``, ``x1``... for leaves.
        retain_graph: keep the graph for another backward pass.
        layout: ``"auto"`` (Graphviz's ``dot`` when installed, else the layout written in Python),
            ``"dot"`` or ``"python"``.
        title: the page's title.
        path: also save the page there.
        seed: the seed of ``tangents="random"``.

    Raises:
        TypeError: ``output`` is not a Tensor.
        ValueError: it has no graph, or is not one element and no ``grad_output`` is given; a tangent
            names no leaf or has the wrong shape; an unknown ``layout``.
        RuntimeError: the graph was freed by an earlier ``backward()``; ``layout="dot"`` without Graphviz.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> w = Tensor([1.0, -1.0], requires_grad=True)
        >>> page = explore_graph((w * w).sum(), layout="python")
        >>> page.data["leaves"][0]["grad"]["values"], page.data["nodes"][-1]["op"]
        ([2.0, -2.0], 'sum')
    """
    _check_layout(layout)
    seed_tensor = _check_output(output, grad_output, "explore_graph")
    return _finish(output, _name_map(names), _tangent_source(tangents, None, seed), seed_tensor, retain_graph, [],
                   layout, title or "autodiff explorer", path)


def _parameter_names(fn: Callable[..., Any], count: int) -> list[str | None]:
    """The names of ``fn``'s first ``count`` positional parameters (None where there is none)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return [None] * count
    names: list[str | None] = []
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            break
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    return (names + [None] * count)[:count]


class _BlockRecorder:
    """While installed, records each call of ``module``'s direct submodules: its label, inputs and output."""

    def __init__(self, module: Module) -> None:
        self.children = [(name, child) for name, child in module.named_children()]
        self.calls: list[tuple[str, Module, list[Tensor], Any]] = []

    def __enter__(self) -> _BlockRecorder:  # noqa: PYI034  (a private helper, never subclassed)
        for name, child in self.children:
            original = child.forward

            def forward(*args: Any, _name: str = name, _child: Module = child,
                        _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
                result = _original(*args, **kwargs)
                inputs = [a for a in [*args, *kwargs.values()] if isinstance(a, Tensor)]
                self.calls.append((_name, _child, inputs, result))
                return result

            child.__dict__["forward"] = forward  # an instance attribute shadows the class's forward
        return self

    def __exit__(self, *exc: object) -> None:
        for _, child in self.children:
            child.__dict__.pop("forward", None)

    def blocks(self) -> list[tuple[str, str, list[Tensor]]]:
        """Per call: the tensors it made (walking back from its output to its inputs) and its parameters."""
        claimed: set[int] = set()
        found = []
        seen_names: dict[str, int] = {}
        for name, child, inputs, result in self.calls:
            stop = {id(t) for t in inputs}
            own = {id(p) for p in child.parameters()}
            stack = [r for r in (result if isinstance(result, (tuple, list)) else [result]) if isinstance(r, Tensor)]
            members: list[Tensor] = []
            while stack:
                t = stack.pop()
                if id(t) in stop or id(t) in claimed:
                    continue
                if t._ctx is None and id(t) not in own:
                    continue
                claimed.add(id(t))
                members.append(t)
                if t._ctx is not None and t._ctx.inputs is not None:
                    stack.extend(t._ctx.inputs)
            seen_names[name] = seen_names.get(name, 0) + 1
            label = f"{name}: {type(child).__name__}"
            if seen_names[name] > 1:
                label += f" (call {seen_names[name]})"
            found.append((label, type(child).__name__, members))
        return found


def explore(fn: Callable[..., Any] | Tensor, *inputs: Tensor, tangents: TangentSpec = None, grad_output: Any = None,
            names: Names | None = None, module: Module | None = None, layout: str = "auto",
            title: str | None = None, path: str | Path | None = None, seed: int = 0) -> Exploration:
    """Run ``fn(*inputs)`` and record, from the engine, its graph, values, tangents and reverse walk.

    The inputs themselves are left untouched: ``fn`` gets detached copies, floating point ones
    requiring grad (other dtypes pass as constants). Leaves named ``Tensor.name``, else after
    ``fn``'s parameters, else ``x0``, ``x1``...; other leaves reached inside ``fn`` (a model's
    parameters) get their ``.grad`` as with ``backward()``.

    Forward mode puts a tangent on each floating point input, ones by default (``"random"``: a
    standard normal direction from ``seed``; or one array per input, or a dict name -> array),
    holds every other leaf fixed, and shows each node's tangent ``J v``. Use float64 inputs to
    compare the numbers with finite differences.

    Args:
        fn: the function, returning one Tensor; or a Tensor, which is
            [`explore_graph`][tinygrad_mnist.viz.explore_graph].
        inputs: the arguments, Tensors.
        tangents: see above.
        grad_output: the seed of the reverse walk when ``fn``'s result has more than one element.
        names: labels for tensors met inside ``fn``, e.g. ``model.named_parameters()``.
        module: a Module whose direct submodules, called inside ``fn``, become blocks on the page:
            one box each (e.g. ``0: Linear``) that expands on click to show its nodes.
        layout: ``"auto"``, ``"dot"`` (Graphviz) or ``"python"``.
        title: the page's title.
        path: also save the page there.
        seed: the seed of ``tangents="random"``.

    Raises:
        TypeError: ``fn`` is not callable, an input is not a Tensor, or ``fn`` returns no Tensor.
        ValueError: the result has no graph, or more than one element and no ``grad_output``;
            a tangent of the wrong shape or naming no leaf; an unknown ``layout``.
        RuntimeError: ``layout="dot"`` without Graphviz's ``dot`` program.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> page = explore(lambda a, b: (a * b + a).sum(), Tensor(np.array([1.0, 2.0])), Tensor(np.array([3.0, 4.0])))
        >>> {leaf["name"]: leaf["grad"]["values"] for leaf in page.data["leaves"]}
        {'a': [4.0, 5.0], 'b': [1.0, 2.0]}
        >>> page.data["nodes"][-1]["tangent"]["values"]    # d/dt f(a + t, b + t) = sum(a + b + 1)
        [12.0]
    """
    if isinstance(fn, Tensor):
        if inputs:
            raise TypeError(f"explore: a Tensor takes no inputs (got {len(inputs)}); pass a function to run on them")
        return explore_graph(fn, grad_output=grad_output, tangents=tangents, names=names, layout=layout,
                             title=title, path=path, seed=seed)
    if not callable(fn):
        raise TypeError(f"explore: fn must be a function (or a Tensor), got {type(fn).__name__}")
    _check_layout(layout)
    if module is not None and not isinstance(module, Module):
        raise TypeError(f"explore: module must be an nn.Module, got {type(module).__name__}")
    labels = _parameter_names(fn, len(inputs))
    copies: list[Tensor] = []
    given_names = _name_map(names)
    differentiable: list[str] = []
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"explore: inputs[{i}] must be a Tensor, got {type(x).__name__}")
        copy = x.detach()
        if copy.data.dtype.kind in "fc":
            copy.requires_grad_()
            label = x.name or given_names.get(id(x)) or labels[i] or f"x{i}"
            copy.name = label
            differentiable.append(label)
        copies.append(copy)
    if module is not None:
        given_names = {**{id(p): n for n, p in module.named_parameters()}, **given_names}
        with _BlockRecorder(module) as recorder:
            output = fn(*copies)
        blocks = recorder.blocks()
    else:
        output, blocks = fn(*copies), []
    seed_tensor = _check_output(output, grad_output, "explore")
    name = getattr(fn, "__name__", type(fn).__name__)
    return _finish(output, given_names, _tangent_source(tangents, differentiable, seed), seed_tensor, False, blocks,
                   layout, title or f"autodiff explorer: {name}", path)
