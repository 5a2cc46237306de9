"""The autodiff explorer (``tinygrad_mnist.viz.explore``) without a browser.

The numbers embedded in the page are checked against oracles that do not go through the
explorer: the leaves' ``.grad`` of a separate ``backward()`` run, central finite differences
of each node's value along the tangent, the order and norms of ``trace_backward``. The layout
written in Python is checked on its own (every edge runs downward), and the command line in a
subprocess.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.autograd import forward_ad as fwAD
from tinygrad_mnist.autograd import trace_backward
from tinygrad_mnist.mnist.cli import main
from tinygrad_mnist.viz import Exploration, explore, explore_graph, explore_layout
from tinygrad_mnist.viz.explore_layout import layered_layout, layout_graph
from tinygrad_mnist.viz.explore_record import SMALL, tensor_data


def f(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    return ((W @ x + b).tanh() * x).sum()


def inputs(seed: int = 1) -> tuple[Tensor, Tensor, Tensor]:
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(3)), Tensor(rng.standard_normal((3, 3))), Tensor(rng.standard_normal(3))


def embedded(page: str) -> dict[str, Any]:
    """The JSON block of a page, as the browser reads it."""
    found = re.search(r'<script type="application/json" id="tm-explorer-data">(.*?)</script>', page, re.DOTALL)
    assert found is not None
    return json.loads(found.group(1))


def values(td: dict[str, Any]) -> np.ndarray:
    return np.array([float(v) for v in td["values"]]).reshape(td["shape"])


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in data["nodes"]}


# ---- the numbers agree with the engine ------------------------------------------------------


def test_leaf_gradients_are_those_of_an_independent_backward() -> None:
    x, W, b = inputs()
    data = embedded(explore(f, x, W, b).html())
    leaves = [Tensor(t.data.copy(), requires_grad=True) for t in (x, W, b)]
    f(*leaves).backward()
    shown = {leaf["name"]: values(leaf["grad"]) for leaf in data["leaves"]}
    assert sorted(shown) == ["W", "b", "x"]
    for name, leaf in zip("xWb", leaves, strict=True):
        np.testing.assert_allclose(shown[name], leaf.grad.data, rtol=1e-13, atol=1e-15)
    assert x.grad is None and not x.requires_grad  # the caller's inputs are left alone


def test_forward_values_are_the_engines() -> None:
    x, W, b = inputs()
    data = embedded(explore(f, x, W, b).html())
    nodes = by_id(data)
    np.testing.assert_allclose(values(nodes[data["output"]]["value"]), f(x, W, b).data, rtol=1e-15)
    ops = [n["op"] for n in data["nodes"] if n["kind"] == "op"]
    assert ops == ["matmul", "add", "tanh", "mul", "sum"]
    matmul = next(n for n in data["nodes"] if n["op"] == "matmul")
    assert [nodes[i]["name"] for i in matmul["inputs"]] == ["W", "x"]
    np.testing.assert_allclose(values(matmul["value"]), W.data @ x.data, rtol=1e-15)


@pytest.mark.parametrize("tangents", [None, "random"])
def test_tangents_are_central_differences_of_each_node(tangents: Any) -> None:
    x, W, b = inputs()
    data = embedded(explore(f, x, W, b, tangents=tangents, seed=3).html())
    nodes = by_id(data)
    direction = {n["name"]: values(n["tangent"]) for n in data["nodes"] if n["kind"] == "leaf"}
    if tangents is None:
        assert all(np.array_equal(v, np.ones_like(v)) for v in direction.values())
    h = 1e-6

    def moved(sign: float) -> dict[str, dict[str, Any]]:
        shifted = [Tensor(t.data + sign * h * direction[name]) for name, t in zip("xWb", (x, W, b), strict=True)]
        return by_id(explore(f, *shifted).data)

    plus, minus = moved(1.0), moved(-1.0)
    checked = 0
    for node_id, node in nodes.items():
        finite = (values(plus[node_id]["value"]) - values(minus[node_id]["value"])) / (2 * h)
        np.testing.assert_allclose(values(node["tangent"]), finite, rtol=1e-6, atol=1e-8, err_msg=node["label"][0])
        checked += 1
    assert checked == 8
    with fwAD.dual_level():  # the same numbers from a dual-level run of the function, node by node
        dx, dW, db = (fwAD.make_dual(t, Tensor(direction[name])) for name, t in zip("xWb", (x, W, b), strict=True))
        h = dW @ dx
        z = h + db
        a = z.tanh()
        p = a * dx
        run = [fwAD.unpack_dual(t).tangent for t in (h, z, a, p, p.sum())]
    ops = [n for n in data["nodes"] if n["kind"] == "op"]
    assert [n["op"] for n in ops] == ["matmul", "add", "tanh", "mul", "sum"]
    for node, expected in zip(ops, run, strict=True):
        np.testing.assert_allclose(values(node["tangent"]), expected.data, rtol=1e-13, atol=1e-15)


def named_graph() -> tuple[Tensor, list[Tensor]]:
    """f, with every intermediate named so that trace_backward's steps can be matched by name."""
    x, W, b = (Tensor(t.data.copy(), requires_grad=True) for t in inputs(2))
    x.name, W.name, b.name = "x", "W", "b"
    h = W @ x
    h.name = "h"
    z = h + b
    z.name = "z"
    a = z.tanh()
    a.name = "a"
    p = a * x
    p.name = "p"
    out = p.sum()
    out.name = "out"
    return out, [x, W, b]


def test_reverse_walk_is_trace_backward_in_order_and_size() -> None:
    out, leaves = named_graph()
    data = embedded(explore_graph(out, retain_graph=True).html())
    for leaf in leaves:
        leaf.grad = None
    trace = trace_backward(out)
    nodes = by_id(data)
    assert [nodes[s["node"]]["name"] for s in data["steps"]] == [step.output_name for step in trace.steps]
    assert [nodes[s["node"]]["op"] for s in data["steps"]] == [step.op for step in trace.steps]
    for shown, step in zip(data["steps"], trace.steps, strict=True):
        assert shown["grad"]["stats"]["norm"] == pytest.approx(step.grad_norm, rel=1e-12)
        assert len(shown["sends"]) == len(step.inputs)
        for send, record in zip(shown["sends"], step.inputs, strict=True):
            if record.sent_norm is None:
                assert send["grad"] is None
            else:
                assert send["grad"]["stats"]["norm"] == pytest.approx(record.sent_norm, rel=1e-12)
                assert tuple(send["grad"]["shape"]) == record.sent_shape  # after unbroadcast: the input's shape
                assert (send["k"], send["of"]) == (record.contribution, record.contributions)


def test_fan_out_running_sum_ends_at_the_leaf_gradient() -> None:
    out, leaves = named_graph()
    data = embedded(explore_graph(out).html())
    x_id = next(n["id"] for n in data["nodes"] if n["name"] == "x")
    sends = [s for step in data["steps"] for s in step["sends"] if s["to"] == x_id]
    assert [(s["k"], s["of"]) for s in sends] == [(1, 2), (2, 2)]  # x feeds mul and matmul
    np.testing.assert_allclose(values(sends[-1]["running"]), leaves[0].grad.data, rtol=1e-13)
    np.testing.assert_allclose(values(sends[0]["running"]), values(sends[0]["grad"]), rtol=0)


def test_broadcast_input_receives_a_gradient_of_its_own_shape() -> None:
    w = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = Tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    data = explore_graph(((w + b) ** 2).sum()).data
    add = next(s for s in data["steps"] if by_id(data)[s["node"]]["op"] == "add")
    assert [send["grad"]["shape"] for send in add["sends"]] == [[2, 3], [3]]
    np.testing.assert_allclose(values(add["sends"][1]["grad"]), b.grad.data)
    assert b.grad.data.tolist() == [2 * (0 + 3 + 2), 2 * (1 + 4 - 2), 2 * (2 + 5 + 4)]


def test_grad_output_seeds_a_non_scalar_output() -> None:
    x = Tensor(np.array([1.0, 2.0]))
    page = explore(lambda x: x * x, x, grad_output=np.array([1.0, 10.0]))
    assert page.data["leaves"][0]["grad"]["values"] == [2.0, 40.0]
    assert page.data["seed"]["values"] == [1.0, 10.0]


def test_module_calls_become_blocks_holding_their_nodes_and_parameters() -> None:
    from tinygrad_mnist import nn

    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    page = explore(lambda v: model(v).sum(), Tensor(np.ones((2, 4))), module=model, layout="python")
    nodes = by_id(page.data)
    blocks = {b["label"]: [nodes[m] for m in b["members"]] for b in page.data["blocks"]}
    assert list(blocks) == ["0: Linear", "1: Tanh", "2: Linear"]
    assert sorted(n["name"] or n["op"] for n in blocks["0: Linear"]) == ["0.bias", "0.weight", "linear"]
    assert [n["op"] for n in blocks["1: Tanh"]] == ["tanh"]
    assert {n["block"] for n in page.data["nodes"] if n["name"] == "v"} == {None}  # the input stays outside
    assert "forward" not in model[0].__dict__  # the recording is undone
    assert sorted(page.data["layouts"]) == ["", "0", "0,1", "0,1,2", "0,2", "1", "1,2", "2"]
    collapsed = page.data["layouts"][""]["nodes"]
    assert {"b0", "b1", "b2"} <= set(collapsed)
    assert all(n["id"] not in collapsed for members in blocks.values() for n in members)  # hidden in their boxes
    assert all(n["id"] in page.data["layouts"]["0,1,2"]["nodes"] for n in page.data["nodes"])


# ---- the page ---------------------------------------------------------------------------


def test_page_requests_nothing_from_any_host() -> None:
    page = explore(f, *inputs()).html()
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(?<![\w-])(?:src|href|action)\s*=""", page)  # no attribute that loads anything
    assert not re.search(r"url\((?!#)", page) and "@import" not in page
    assert "default-src 'none'" in page  # and the page forbids every fetch
    assert page.count("</script>") == 2


def test_jupyter_view_is_an_iframe_holding_the_page() -> None:
    page = explore(f, *inputs())
    shown = page._repr_html_()
    found = re.fullmatch(r'<iframe srcdoc="([^"]*)".*</iframe>', shown, re.DOTALL)
    assert found is not None and html_lib.unescape(found.group(1)) == page.html()


def test_save_writes_the_page(tmp_path: Path) -> None:
    page = explore(f, *inputs(), path=tmp_path / "a.html")
    assert (tmp_path / "a.html").read_text(encoding="utf-8") == page.html()
    assert page.save(tmp_path / "b.html") == tmp_path / "b.html" and isinstance(page, Exploration)


def test_large_tensors_carry_a_small_heatmap_and_exact_statistics() -> None:
    rng = np.random.default_rng(0)
    big = rng.standard_normal((300, 200))
    td = tensor_data(big)
    assert "values" not in td and td["heat"]["rows"] == 64 and td["heat"]["cols"] == 64
    assert len(td["heat"]["data"]) == 64 * 64
    assert td["stats"]["max"] == big.max() and td["stats"]["min"] == big.min()
    assert td["stats"]["norm"] == pytest.approx(np.linalg.norm(big), rel=1e-14)
    # cell (i, j) averages rows floor(300 i / 64) up to floor(300 (i + 1) / 64), columns likewise
    assert td["heat"]["data"][0] == pytest.approx(big[:4, :3].mean(), rel=1e-3)
    assert td["heat"]["data"][-1] == pytest.approx(big[295:, 196:].mean(), rel=1e-3)
    assert len(tensor_data(np.zeros(SMALL))["values"]) == SMALL and "heat" in tensor_data(np.zeros(SMALL + 1))
    odd = tensor_data(np.array([np.nan, np.inf, -np.inf, 1.0]))
    assert odd["values"] == ["NaN", "Infinity", "-Infinity", 1.0]
    json.dumps(odd, allow_nan=False)


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: explore(lambda x: x * 2.0, Tensor(np.ones(3))), ValueError, "shape (3,)"),
    (lambda: explore(f, Tensor(np.ones(3)), [[1.0]], Tensor(np.ones(3))), TypeError,
     "inputs[1] must be a Tensor, got list"),
    (lambda: explore(lambda x: 3.0, Tensor(np.ones(3))), TypeError, "must return a Tensor, got float"),
    (lambda: explore(42), TypeError, "fn must be a function"),
    (lambda: explore(lambda x: Tensor(np.ones(1)), Tensor(np.ones(3))), ValueError, "no recorded operation"),
    (lambda: explore(f, *inputs(), layout="circle"), ValueError, "'circle'"),
    (lambda: explore(f, *inputs(), tangents=[np.ones(3)]), ValueError, "tangents has 1 entries"),
    (lambda: explore(f, *inputs(), tangents={"W": np.ones(3)}), ValueError, "tangent of 'W' has shape (3,)"),
    (lambda: explore(f, *inputs(), tangents="sideways"), ValueError, "'sideways'"),
    (lambda: explore(f, *inputs(), tangents={"w": np.ones((3, 3))}), ValueError, "'w', which is not a leaf"),
    (lambda: explore(lambda x: x * x, Tensor(np.ones(2)), grad_output=np.ones(3)), ValueError, "grad_output has shape"),
    (lambda: explore_graph(np.ones(3)), TypeError, "explore_graph: output must be a Tensor, got ndarray"),
    (lambda: explore(Tensor(np.ones(1), requires_grad=True).sum(), Tensor(np.ones(1))), TypeError, "takes no inputs"),
])
def test_bad_arguments_are_refused_clearly(call: Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value)


def test_a_freed_graph_is_refused() -> None:
    out, _ = named_graph()
    out.backward()
    with pytest.raises(RuntimeError, match=r"^explore: the graph behind this tensor was freed"):
        explore_graph(out)


def test_dot_layout_without_graphviz_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explore_layout.shutil, "which", lambda name: None)
    out, leaves = named_graph()
    with pytest.raises(RuntimeError, match="graphviz"):
        explore_graph(out, layout="dot")
    assert all(leaf.grad is None for leaf in leaves)  # refused before the backward pass
    with pytest.raises(RuntimeError, match="graphviz"):
        layout_graph([("a", 10, 10)], [], layout="dot")
    assert explore(f, *inputs()).data["layouts"][""]["engine"] == "python"  # auto falls back


# ---- the layouts ---------------------------------------------------------------------------


def random_dag(seed: int, n: int = 30) -> tuple[list[tuple[str, float, float]], list[tuple[str, str]]]:
    rng = np.random.default_rng(seed)
    boxes = [(f"v{k}", float(rng.integers(40, 160)), float(rng.integers(24, 50))) for k in range(n)]
    edges = [(f"v{i}", f"v{j}") for j in range(1, n) for i in rng.choice(j, size=min(j, int(rng.integers(1, 4))),
                                                                          replace=False)]
    return boxes, edges


@pytest.mark.parametrize("seed", range(5))
def test_python_layout_runs_every_edge_downward_without_overlaps(seed: int) -> None:
    boxes, edges = random_dag(seed)
    drawn = layered_layout(boxes, edges)
    layers, nodes = drawn["layers"], drawn["nodes"]
    for u, v in edges:
        assert layers[u] < layers[v]
        assert nodes[u][1] + nodes[u][3] / 2 < nodes[v][1] - nodes[v][3] / 2  # bottom of u above top of v
    for a in nodes:
        for b in nodes:
            if a < b and layers[a] == layers[b]:
                assert abs(nodes[a][0] - nodes[b][0]) >= (nodes[a][2] + nodes[b][2]) / 2  # side by side, apart
    for edge in drawn["edges"]:
        ys = [p[1] for p in edge["points"]]
        assert ys == sorted(ys) and len(ys) == layers[edge["to"]] - layers[edge["from"]] + 1
    assert all(r[0] - r[2] / 2 >= 0 and r[0] + r[2] / 2 <= drawn["width"] for r in nodes.values())
    assert layered_layout(boxes, edges) == drawn  # deterministic


def test_python_layout_refuses_a_cycle_and_unknown_nodes() -> None:
    with pytest.raises(ValueError, match="cycle"):
        layered_layout([("a", 10, 10), ("b", 10, 10)], [("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="'c'"):
        layout_graph([("a", 10, 10)], [("a", "c")], layout="python")


def test_page_in_python_layout_draws_each_edge_downward() -> None:
    data = explore(f, *inputs(), layout="python").data
    drawn = data["layouts"][""]
    assert drawn["engine"] == "python"
    for node in data["nodes"]:
        for i in node["inputs"]:
            assert drawn["layers"][i] < drawn["layers"][node["id"]]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_dot_layout_runs_every_edge_downward() -> None:
    boxes, edges = random_dag(0, n=15)
    drawn = layout_graph(boxes, edges, layout="dot")
    assert drawn["engine"] == "dot" and set(drawn["nodes"]) == {b[0] for b in boxes}
    for u, v in edges:
        assert drawn["nodes"][u][1] < drawn["nodes"][v][1]
    assert sorted((e["from"], e["to"]) for e in drawn["edges"]) == sorted(set(edges))
    page = explore(f, *inputs(), layout="dot").data
    assert page["layouts"][""]["engine"] == "dot"


# ---- the command ---------------------------------------------------------------------------


def run_cli(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tinygrad_mnist.mnist.cli", *map(str, args)],
                          check=False, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_command_writes_the_example_page(tmp_path: Path) -> None:
    done = run_cli("explore", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wrote explore.html"
    data = embedded((tmp_path / "explore.html").read_text(encoding="utf-8"))
    assert [leaf["name"] for leaf in data["leaves"]] == ["W", "x", "b"]
    assert "tanh" in [n["op"] for n in data["nodes"]]


def test_command_refuses_a_bad_out_in_one_line(tmp_path: Path) -> None:
    done = run_cli("explore", "--out", tmp_path / "missing" / "e.html", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--out" in lines[0] and "does not exist" in lines[0]


def test_command_refuses_a_directory_as_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a directory" in err[0]


@pytest.mark.parametrize(("args", "words"), [
    (["--batch", "0"], "argument --batch: expected a positive integer, got '0'"),
    (["--example", "mlp", "--batch", "10001"], "argument --batch: expected at most 10000"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
    (["--example", "g"], "argument --example: invalid choice"),
])
def test_command_refuses_bad_numbers_in_one_line(args: list[str], words: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(["explore", *args, "--out", str(tmp_path / "e.html")])
    except SystemExit as exc:  # refused by the argument parser
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and not (tmp_path / "e.html").exists()


def test_command_mlp_example_has_layer_blocks(tmp_path: Path) -> None:
    out = tmp_path / "mlp.html"
    assert main(["explore", "--example", "mlp", "--hidden", "16", "--batch", "3", "--layout", "python",
                 "--out", str(out)]) == 0
    data = embedded(out.read_text(encoding="utf-8"))
    nodes = by_id(data)
    assert [b["label"] for b in data["blocks"]] == ["0: Linear", "1: ReLU", "2: Linear"]
    first = {nodes[m]["name"] or nodes[m]["op"] for m in data["blocks"][0]["members"]}
    assert first == {"0.weight", "0.bias", "linear"}
    assert nodes[data["output"]]["name"] == "loss" and nodes[data["output"]]["value"]["shape"] == []
    images = next(n for n in data["nodes"] if n["name"] == "images")
    assert images["shape"] == [3, 784] and images["value"]["stats"]["max"] <= 1.0


def test_docs_hook_adds_the_example_page_to_the_site() -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    from mkdocs.config import load_config
    from mkdocs.structure.files import Files

    root = Path(__file__).resolve().parents[1]
    config = load_config(str(root / "mkdocs.yml"))
    files = config.plugins.on_files(Files([]), config=config)  # the site's hooks, as a build runs them
    page = files.get_file_from_path("explore-example.html")
    assert page is not None
    data = embedded(page.content_string)
    assert [leaf["name"] for leaf in data["leaves"]] == ["W", "x", "b"] and len(data["steps"]) == 5
    assert "(explore-example.html)" in (root / "docs" / "tutorial.md").read_text(encoding="utf-8")
