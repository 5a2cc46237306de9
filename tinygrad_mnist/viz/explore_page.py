"""The explorer page: box labels and layouts for each set of expanded blocks, and the self-contained HTML.

The page's script and style are the files ``explorer/explorer.js`` and ``explorer/explorer.css``
of this package, inlined into the document with the recorded data (a JSON ``<script>`` block),
so that the one file needs nothing else: no request to any host, and it opens from ``file://``.
A Content-Security-Policy in the page forbids every fetch, so a mistake could not reach the network.

Examples:
    >>> box_size(["matmul", "(3,) float64"])
    (104.4, 38.0)
"""

from __future__ import annotations

import html
import itertools
import json
from pathlib import Path
from typing import Any

from .explore_layout import layout_graph

ASSETS = Path(__file__).with_name("explorer")
CHAR_WIDTH, LINE_HEIGHT, PADDING = 7.2, 15.0, 18.0
ALL_SUBSETS_UP_TO = 4  # blocks; with more, only none, each one alone and all are laid out

__all__ = ["box_size", "build_layouts", "page_html"]


def box_size(lines: list[str]) -> tuple[float, float]:
    """Width and height in pixels of a node box showing ``lines`` (12 px monospace)."""
    width = max(len(line) for line in lines) * CHAR_WIDTH + PADDING
    return round(max(width, 56.0), 1), round(len(lines) * LINE_HEIGHT + 8.0, 1)


def _shape(shape: list[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def node_label(node: dict[str, Any]) -> list[str]:
    """The two lines of a node's box: its primitive (and name) or leaf name, then shape and dtype."""
    if node["kind"] == "op":
        head = node["op"] if not node["name"] else f"{node['op']} -> {node['name']}"
    else:
        head = node["name"] or node["kind"]
    return [head, f"{_shape(node['shape'])} {node['dtype']}"]


def _states(count: int) -> list[tuple[int, ...]]:
    every = tuple(range(count))
    if count <= ALL_SUBSETS_UP_TO:
        return [s for r in range(count + 1) for s in itertools.combinations(every, r)]
    return [(), *((k,) for k in every), every]


def view_graph(data: dict[str, Any], expanded: tuple[int, ...]) -> tuple[list[tuple[str, float, float]],
                                                                      list[tuple[str, str]], dict[str, list[str]]]:
    """The boxes, edges and clusters drawn when the blocks numbered ``expanded`` are open (the others one box)."""
    blocks = data["blocks"]
    open_ids = {blocks[k]["id"] for k in expanded}
    boxes: list[tuple[str, float, float]] = []
    placed: set[str] = set()
    shown: dict[str, str] = {}
    for node in data["nodes"]:
        block = node["block"]
        if block is None or block in open_ids:
            shown[node["id"]] = node["id"]
            boxes.append((node["id"], *box_size(node["label"])))
        else:
            shown[node["id"]] = block
            if block not in placed:
                placed.add(block)
                info = next(b for b in blocks if b["id"] == block)
                boxes.append((block, *box_size(info["box"])))
    edges = [(shown[i], shown[node["id"]]) for node in data["nodes"] for i in node["inputs"]]
    clusters = {b["label"]: b["members"] for b in blocks if b["id"] in open_ids}
    return boxes, edges, clusters


def build_layouts(data: dict[str, Any], layout: str) -> dict[str, Any]:
    """Label every node and block, and lay out the graph for each set of expanded blocks (keyed ``"0,2"``)."""
    for node in data["nodes"]:
        node["label"] = node_label(node)
    for block in data["blocks"]:
        count = len(block["members"])
        block["box"] = [block["label"], f"{count} node{'' if count == 1 else 's'}, click to open"]
    layouts: dict[str, Any] = {}
    for expanded in _states(len(data["blocks"])):
        boxes, edges, clusters = view_graph(data, expanded)
        layouts[",".join(map(str, expanded))] = layout_graph(boxes, edges, layout, clusters)
    return layouts


def _inline_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<`` at all (so no ``</script>``), strict numbers."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def page_html(data: dict[str, Any]) -> str:
    """The complete HTML document for ``data`` (see ``explore_record`` and ``build_layouts``)."""
    css = (ASSETS / "explorer.css").read_text(encoding="utf-8")
    script = (ASSETS / "explorer.js").read_text(encoding="utf-8")
    title = html.escape(data["title"])
    policy = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}</style>
</head>
<body>
<div class="tm-explorer" id="tm-explorer">
  <header class="bar">
    <h1>{title}</h1>
    <div class="stages" role="tablist" aria-label="stage">
      <button type="button" data-stage="forward" title="the forward pass: each node's value">1 Forward values</button>
      <button type="button" data-stage="tangent" title="forward mode: each node's tangent J v">2 Forward mode</button>
      <button type="button" data-stage="reverse" title="reverse mode: the walk of backward()">3 Reverse walk</button>
    </div>
    <div class="steps">
      <button type="button" data-action="first" title="first step (Home)">First</button>
      <button type="button" data-action="prev" title="previous step (left arrow)">&#x25C0; Prev</button>
      <span class="counter" data-role="counter"></span>
      <button type="button" data-action="next" title="next step (right arrow)">Next &#x25B6;</button>
      <button type="button" data-action="last" title="last step (End)">Last</button>
    </div>
  </header>
  <main>
    <section class="graph" data-role="graph">
      <svg data-role="svg" role="img" aria-label="computation graph"></svg>
    </section>
    <aside class="panel" data-role="panel" aria-live="polite"></aside>
  </main>
</div>
<script type="application/json" id="tm-explorer-data">{_inline_json(data)}</script>
<script>
{script}</script>
</body>
</html>
"""
