"""Top-to-bottom layout of a small directed acyclic graph, for the explorer page.

[`layout_graph`][tinygrad_mnist.viz.explore_layout.layout_graph] places boxes of given sizes so that
every edge runs downward (inputs at the top, the output at the bottom). It asks Graphviz's ``dot``
(``dot -Tjson``) when the program is installed, and otherwise uses
[`layered_layout`][tinygrad_mnist.viz.explore_layout.layered_layout], a small layered drawing written
here: longest-path layers, a chain of bend points for an edge that skips layers, and crossings
reduced by ordering each layer by the mean position of its neighbours (barycentres).

A layout is a dict: ``nodes`` maps an id to ``[x, y, width, height]`` (x, y: the box's centre, in
pixels, y growing downward), ``edges`` lists ``{"from", "to", "points", "curve"}`` (the points of a
polyline, or of cubic Bezier pieces when ``curve``; ``dot`` adds ``tip``, where the arrow
ends), ``width`` and ``height`` the drawing's size,
``engine`` ``"dot"`` or ``"python"``, and (python only) ``layers``, the layer of each node.

Examples:
    >>> boxes = [("a", 40, 30), ("b", 40, 30), ("c", 60, 30)]
    >>> drawn = layered_layout(boxes, [("a", "c"), ("b", "c")])
    >>> drawn["layers"]
    {'a': 0, 'b': 0, 'c': 1}
    >>> drawn["nodes"]["a"][1] < drawn["nodes"]["c"][1]
    True
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

Box = tuple[str, float, float]  # id, width, height

__all__ = ["layered_layout", "layout_graph"]

MARGIN, H_GAP, V_GAP, BEND_WIDTH = 16.0, 28.0, 44.0, 8.0
TOP = MARGIN + 20.0  # room above the first row for the title of a block's frame
LAYOUTS = ("auto", "dot", "python")


def layout_graph(boxes: Sequence[Box], edges: Sequence[tuple[str, str]], layout: str = "auto",
                 clusters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Place ``boxes`` (id, width, height) so that each edge ``(u, v)`` runs down from ``u`` to ``v``.

    Args:
        boxes: the nodes, in an order that lists each node after its inputs when possible.
        edges: pairs of ids; duplicates and self-loops are dropped.
        layout: ``"dot"`` (Graphviz; an error when it is not installed), ``"python"``
            ([`layered_layout`][tinygrad_mnist.viz.explore_layout.layered_layout]) or ``"auto"``
            (``dot`` when installed, else python).
        clusters: groups of ids that ``dot`` keeps together in a box (ignored by the python layout).

    Raises:
        ValueError: an unknown ``layout``, an edge naming an unknown node, or a cycle.
        RuntimeError: ``layout="dot"`` without the ``dot`` program, or ``dot`` failing.

    Examples:
        >>> layout_graph([("a", 40, 30), ("b", 40, 30)], [("a", "b")], layout="python")["engine"]
        'python'
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}")
    known = {name for name, _, _ in boxes}
    for u, v in edges:
        for end in (u, v):
            if end not in known:
                raise ValueError(f"layout: the edge {u!r} -> {v!r} names {end!r}, which is not a node")
    program = shutil.which("dot")
    if layout == "dot" and program is None:
        raise RuntimeError("layout='dot' needs Graphviz's 'dot' program (Debian package graphviz), which is not "
                           "installed; use layout='python' or 'auto'")
    if layout == "python" or program is None:
        return layered_layout(boxes, edges)
    return _dot_layout(program, boxes, edges, clusters or {})


def _unique_edges(edges: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for u, v in edges:
        if u != v:
            seen.setdefault((u, v), None)
    return list(seen)


def _topological(ids: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """``ids`` in an order with each edge's source first (Kahn's algorithm, stable on ``ids``)."""
    indegree = dict.fromkeys(ids, 0)
    succs: dict[str, list[str]] = {n: [] for n in ids}
    for u, v in edges:
        indegree[v] += 1
        succs[u].append(v)
    ready = [n for n in ids if indegree[n] == 0]
    rank = {n: i for i, n in enumerate(ids)}
    order: list[str] = []
    while ready:
        ready.sort(key=rank.__getitem__, reverse=True)
        node = ready.pop()
        order.append(node)
        for s in succs[node]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    if len(order) != len(ids):
        raise ValueError("layout: the graph has a cycle; only a directed acyclic graph can be drawn top to bottom")
    return order


def _crossings(upper: list[str], lower: list[str], down: dict[str, list[str]]) -> int:
    position = {n: i for i, n in enumerate(lower)}
    pairs = [(i, position[t]) for i, n in enumerate(upper) for t in down[n] if t in position]
    return sum(1 for k, (a, b) in enumerate(pairs) for c, d in pairs[k + 1:] if (a - c) * (b - d) < 0)


def layered_layout(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The layout written here (see the module docstring); deterministic, for graphs of up to a few hundred nodes.

    A node's layer is one more than its deepest input's (longest path); a node without inputs sits
    one layer above its highest consumer, next to where it is used. An edge spanning several layers
    bends through one point per layer in between. Each layer is then ordered by barycentres
    (sweeps down and up, keeping the order with the fewest crossings) and spaced horizontally.

    Examples:
        >>> drawn = layered_layout([("x", 30, 20), ("y", 30, 20), ("z", 30, 20)],
        ...                        [("x", "y"), ("y", "z"), ("x", "z")])
        >>> drawn["layers"], len(drawn["edges"][2]["points"])    # x -> z bends once, in layer 1
        ({'x': 0, 'y': 1, 'z': 2}, 3)
    """
    size = {name: (float(w), float(h)) for name, w, h in boxes}
    ids = list(size)
    edges = _unique_edges(edges)
    preds: dict[str, list[str]] = {n: [] for n in ids}
    succs: dict[str, list[str]] = {n: [] for n in ids}
    for u, v in edges:
        preds[v].append(u)
        succs[u].append(v)
    order = _topological(ids, edges)
    layer: dict[str, int] = {}
    for n in order:
        layer[n] = 1 + max((layer[p] for p in preds[n]), default=-1)
    for n in reversed(order):  # sources move down, next to their first consumer
        if not preds[n] and succs[n]:
            layer[n] = min(layer[s] for s in succs[n]) - 1
    low = min(layer.values(), default=0)
    layer = {n: k - low for n, k in layer.items()}

    # bend points: a chain of small dummy nodes for each edge that skips layers
    width = dict(size)
    down: dict[str, list[str]] = {n: [] for n in ids}
    up: dict[str, list[str]] = {n: [] for n in ids}
    chains: list[tuple[str, str, list[str]]] = []
    for u, v in edges:
        chain = [f"\0{u}\0{v}\0{k}" for k in range(layer[u] + 1, layer[v])]
        for k, d in enumerate(chain):
            layer[d] = layer[u] + 1 + k
            width[d] = (BEND_WIDTH, 0.0)
            down[d], up[d] = [], []
        path = [u, *chain, v]
        for a, b in itertools.pairwise(path):
            down[a].append(b)
            up[b].append(a)
        chains.append((u, v, chain))
    depth = max(layer.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    for n in [*order, *(d for _, _, chain in chains for d in chain)]:
        rows[layer[n]].append(n)

    def total() -> int:
        return sum(_crossings(rows[k], rows[k + 1], down) for k in range(depth - 1))

    def sweep(k: int, neighbours: dict[str, list[str]], other: list[str]) -> None:
        place = {n: i for i, n in enumerate(other)}
        current = {n: i for i, n in enumerate(rows[k])}

        def key(n: str) -> float:
            near = [place[m] for m in neighbours[n] if m in place]
            return sum(near) / len(near) if near else float(current[n])

        rows[k].sort(key=key)

    best, best_rows = total(), [list(r) for r in rows]
    for _ in range(6):
        for k in range(1, depth):
            sweep(k, up, rows[k - 1])
        for k in range(depth - 2, -1, -1):
            sweep(k, down, rows[k + 1])
        now = total()
        if now < best:
            best, best_rows = now, [list(r) for r in rows]
        if best == 0:
            break
    rows = best_rows

    x = _coordinates(rows, width, up, down)
    left = min((x[n] - width[n][0] / 2 for n in x), default=0.0)
    x = {n: v - left + MARGIN for n, v in x.items()}
    tops, y = [], TOP
    for row in rows:
        tops.append(y)
        y += max((width[n][1] for n in row), default=0.0) + V_GAP
    row_height = [max((width[n][1] for n in row), default=0.0) for row in rows]
    centre = {n: tops[layer[n]] + row_height[layer[n]] / 2 for n in x}
    nodes = {n: [round(x[n], 1), round(centre[n], 1), size[n][0], size[n][1]] for n in ids}
    drawn_edges = []
    for u, v, chain in chains:
        points = [[x[u], centre[u] + size[u][1] / 2], *([x[d], centre[d]] for d in chain),
                  [x[v], centre[v] - size[v][1] / 2]]
        drawn_edges.append({"from": u, "to": v, "curve": False,
                            "points": [[round(px, 1), round(py, 1)] for px, py in points]})
    right = max((x[n] + width[n][0] / 2 for n in x), default=0.0)
    return {"engine": "python", "nodes": nodes, "edges": drawn_edges, "layers": {n: layer[n] for n in ids},
            "width": round(right + MARGIN, 1), "height": round(y - V_GAP + MARGIN, 1)}


def _coordinates(rows: list[list[str]], size: dict[str, tuple[float, float]],
                 up: dict[str, list[str]], down: dict[str, list[str]]) -> dict[str, float]:
    """x of each node's centre: rows packed, then pulled toward their neighbours, keeping order and gaps."""
    x: dict[str, float] = {}
    for row in rows:
        at = 0.0
        for n in row:
            x[n] = at + size[n][0] / 2
            at += size[n][0] + H_GAP
        shift = at / 2
        for n in row:
            x[n] -= shift

    def gap(a: str, b: str) -> float:
        return (size[a][0] + size[b][0]) / 2 + H_GAP

    def place(row: list[str], want: dict[str, float]) -> None:
        forward: dict[str, float] = {}
        for i, n in enumerate(row):  # left to right: as near the wish as the left neighbour allows
            forward[n] = want[n] if i == 0 else max(want[n], forward[row[i - 1]] + gap(row[i - 1], n))
        backward: dict[str, float] = {}
        for i in range(len(row) - 1, -1, -1):  # right to left, likewise
            n = row[i]
            backward[n] = want[n] if i == len(row) - 1 else min(want[n], backward[row[i + 1]] - gap(n, row[i + 1]))
        for n in row:
            x[n] = (forward[n] + backward[n]) / 2

    for _ in range(8):
        for index in [*range(1, len(rows)), *range(len(rows) - 2, -1, -1)]:
            row = rows[index]
            want = {}
            for n in row:
                near = [x[m] for m in up[n] + down[n]]
                want[n] = sum(near) / len(near) if near else x[n]
            place(row, want)
    return x


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_layout(program: str, boxes: Sequence[Box], edges: Sequence[tuple[str, str]],
                clusters: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    lines = ["digraph explore {", "  graph [rankdir=TB, nodesep=0.35, ranksep=0.45];",
             '  node [shape=box, fixedsize=true, label=""];']
    for name, w, h in boxes:
        lines.append(f"  {_dot_quote(name)} [width={w / 72:.4f}, height={h / 72:.4f}];")
    for k, (cluster, members) in enumerate(clusters.items()):
        inside = " ".join(_dot_quote(m) for m in members)
        lines.append(f"  subgraph cluster_{k} {{ label={_dot_quote(cluster)}; margin=14; {inside} }}")
    unique = _unique_edges(edges)
    lines += [f"  {_dot_quote(u)} -> {_dot_quote(v)};" for u, v in unique]
    lines.append("}")
    result = subprocess.run([program, "-Tjson"], input="\n".join(lines).encode(), capture_output=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"layout: 'dot -Tjson' failed with status {result.returncode}: {detail}")
    graph = json.loads(result.stdout)
    _, _, right, top = (float(v) for v in graph["bb"].split(","))
    size = {name: (float(w), float(h)) for name, w, h in boxes}
    nodes: dict[str, list[float]] = {}
    by_gvid: dict[int, str] = {}
    for obj in graph.get("objects", []):
        if "pos" in obj and obj.get("name") in size and "bb" not in obj:
            px, py = (float(v) for v in obj["pos"].split(","))
            w, h = size[obj["name"]]
            nodes[obj["name"]] = [round(px + MARGIN, 1), round(top - py + MARGIN, 1), w, h]
            by_gvid[int(obj["_gvid"])] = obj["name"]
    drawn_edges = []
    for edge in graph.get("edges", []):
        points, end = [], None
        for token in edge.get("pos", "").split():
            if token.startswith(("e,", "s,")):
                if token.startswith("e,"):
                    end = token[2:]
                continue
            points.append(token)
        coords = [[round(float(a) + MARGIN, 1), round(top - float(b) + MARGIN, 1)]
                  for a, b in (p.split(",") for p in points)]
        drawn = {"from": by_gvid[int(edge["tail"])], "to": by_gvid[int(edge["head"])], "points": coords,
                 "curve": len(coords) > 1 and (len(coords) - 1) % 3 == 0}
        if end is not None:  # the arrow's tip; the spline stops where the arrowhead starts
            a, b = end.split(",")
            drawn["tip"] = [round(float(a) + MARGIN, 1), round(top - float(b) + MARGIN, 1)]
        drawn_edges.append(drawn)
    return {"engine": "dot", "nodes": nodes, "edges": drawn_edges,
            "width": round(right + 2 * MARGIN, 1), "height": round(top + 2 * MARGIN, 1)}
