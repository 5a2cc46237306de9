"""Graphviz DOT output of computation graphs (tinygrad_mnist.viz.dot)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.core.graph import toposort
from tinygrad_mnist.mnist.graphs import mlp_training_graph, write_graph
from tinygrad_mnist.viz import GraphvizMissingWarning, render, to_dot

HAS_DOT = shutil.which("dot") is not None

# ---- a small parser for the subset of DOT that to_dot writes --------------------------
_STRING = r'"(?:[^"\\]|\\.)*"'
_ATTR = re.compile(rf'\s*(\w+)=({_STRING}|[\w.]+)\s*(?:,|$)')
_NODE = re.compile(r"^\s*(\w+) \[(.*)\];$")
_EDGE = re.compile(r"^\s*(\w+) -> (\w+);$")
_DEFAULTS = re.compile(r"^\s*(graph|node|edge) \[(.*)\];$")


def _attrs(text: str) -> dict[str, str]:
    attrs, pos = {}, 0
    while pos < len(text):
        match = _ATTR.match(text, pos)
        assert match, f"bad attribute list at {text[pos:]!r}"
        key, value = match.groups()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value[1:-1])
        attrs[key] = value
        pos = match.end()
    return attrs


def _braces_balanced(text: str) -> bool:
    depth = 0
    for token in re.sub(_STRING, '""', text):
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            return False
    return depth == 0


def parse(text: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str]]]:
    """Nodes (id -> attributes, in order) and edges of DOT text; asserts it is well formed."""
    assert _braces_balanced(text)
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "digraph autograd {" and lines[-1] == "}"
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if _DEFAULTS.match(line):
            _attrs(_DEFAULTS.match(line).group(2))
        elif _EDGE.match(line):
            edges.append(_EDGE.match(line).groups())
        else:
            match = _NODE.match(line)
            assert match, f"not a DOT statement: {line!r}"
            assert match.group(1) not in nodes, f"node {match.group(1)} declared twice"
            nodes[match.group(1)] = _attrs(match.group(2))
    for a, b in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} uses an undeclared node"
    return nodes, edges


def ops_of(nodes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {k: v for k, v in nodes.items() if k.startswith("op")}


def tensors_of(nodes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {k: v for k, v in nodes.items() if k.startswith("t")}


def _small_graph() -> tuple[Tensor, Tensor, Tensor]:
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    w = Tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    y = ((x @ w).relu() * 0.5 - Tensor(np.ones((2, 4), dtype=np.float32))).sum()
    return x, w, y


# ---- structure --------------------------------------------------------------------------
def test_parser_rejects_malformed_text() -> None:
    good = to_dot(_small_graph()[2])
    parse(good)
    for bad in (good.replace("}", "", 1), good.replace(" -> op0;", " -> op99;", 1), good.replace("];", "]", 1)):
        with pytest.raises(AssertionError):
            parse(bad)


def test_one_node_per_tensor_and_per_op_matching_toposort() -> None:
    x, w, y = _small_graph()
    nodes, edges = parse(to_dot(y))
    order = toposort([y])
    recorded = [t for t in order if not t.is_leaf]
    tensors = tensors_of(nodes)
    constants = [k for k, v in tensors.items() if v.get("style") == "dashed"]
    assert len(tensors) - len(constants) == len(order)
    assert len(constants) == 2  # the number 0.5 and the ones array
    assert len(ops_of(nodes)) == len(recorded)
    # every op: its inputs in, one edge out to its result
    inputs_per_op = sum(len(t._ctx.inputs) for t in recorded)
    assert len(edges) == inputs_per_op + len(recorded)


def test_op_labels_are_the_primitives_in_data_flow_order() -> None:
    _, _, y = _small_graph()
    nodes, _ = parse(to_dot(y))
    labels = [v["label"].split("\n")[0] for v in ops_of(nodes).values()]
    assert labels == ["matmul", "relu", "mul", "sub", "sum"]
    assert sorted(labels) == sorted(t.grad_fn.name() for t in toposort([y]) if not t.is_leaf)


def test_edges_run_from_inputs_through_ops_to_outputs() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    a.name, b.name = "a", "b"
    out = a - b
    nodes, edges = parse(to_dot(out))
    ids = {v["label"].split("\n")[0]: k for k, v in nodes.items()}
    assert edges == [(ids["a"], ids["sub"]), (ids["b"], ids["sub"]), (ids["sub"], ids["output"])]
    for src, dst in edges:  # tensors and ops alternate
        assert src[0] != dst[0]
    assert not any(src == ids["output"] for src, _ in edges)
    assert not any(dst in (ids["a"], ids["b"]) for _, dst in edges)


def test_a_tensor_used_twice_is_one_node_with_two_edges() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = parse(to_dot(x * x))
    assert len(tensors_of(nodes)) == 2 and len(ops_of(nodes)) == 1
    assert edges.count(("t0", "op0")) == 2


def test_shapes_and_dtypes_in_labels() -> None:
    x = Tensor(np.zeros((2, 3)), requires_grad=True)  # float64
    y = x.astype(np.float32).sum(axis=1)
    nodes, _ = parse(to_dot(y))
    labels = [v["label"] for v in tensors_of(nodes).values()]
    assert labels == ["leaf\n(2, 3) float64", "(2, 3) float32", "output\n(2,) float32"]
    cast_label = ops_of(nodes)["op0"]["label"]
    assert cast_label == "cast\ndtype=float32"
    plain, _ = parse(to_dot(y, show_shapes=False))
    assert not any("float" in v["label"] or "(" in v["label"] for v in plain.values())
    assert [v["label"] for v in ops_of(plain).values()] == ["cast", "sum"]


def test_parameter_names_from_a_module_or_a_dict_or_tensor_name() -> None:
    tm.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    x = Tensor(np.ones((4, 3), dtype=np.float32))
    x.name = "batch"
    nodes, _ = parse(to_dot(model(x).sum(), params=model))
    titles = [v["label"].split("\n")[0] for v in tensors_of(nodes).values()]
    assert titles[:3] == ["batch", "0.weight", "0.bias"]
    assert {"2.weight", "2.bias"} <= set(titles)

    w = Tensor([1.0, 2.0], requires_grad=True)  # not a Parameter: only params= makes it one
    w.name = "ignored when params names it"
    nodes, _ = parse(to_dot((w * 2.0).sum(), params={"scale": w}))
    assert nodes["t0"]["label"].startswith("scale\n")
    assert nodes["t0"]["fillcolor"] == "lightblue"


def test_parameters_leaves_constants_and_output_are_marked_apart() -> None:
    p = nn.Parameter(np.ones(2, dtype=np.float32))
    leaf = Tensor([1.0, 1.0], requires_grad=True)
    out = ((p * leaf) + Tensor([5.0, 6.0])).sum()
    nodes, _ = parse(to_dot(out))
    kinds = {v["label"].split("\n")[0]: v for v in tensors_of(nodes).values()}
    assert kinds["parameter"]["shape"] == "box" and kinds["parameter"].get("fillcolor") == "lightblue"
    assert kinds["leaf"]["shape"] == "box" and "style" not in kinds["leaf"]
    assert kinds["const"]["style"] == "dashed" and "grey" in kinds["const"]["color"]
    assert kinds["output"]["peripheries"] == "2"
    assert sum("peripheries" in v for v in nodes.values()) == 1
    results = [v for v in tensors_of(nodes).values() if v["label"].startswith("(")]
    assert len(results) == 2 and all(v["shape"] == "ellipse" for v in results)
    assert all(v["style"] == "rounded,filled" for v in ops_of(nodes).values())


def test_a_number_constant_shows_its_value() -> None:
    x = Tensor([1.0], requires_grad=True)
    nodes, _ = parse(to_dot(x * 0.25))
    assert nodes["t1"]["label"] == "const 0.25\n() float32"


def test_output_is_deterministic_and_independent_of_object_identity() -> None:
    first = to_dot(_small_graph()[2])
    _, _, y = _small_graph()
    assert to_dot(y) == to_dot(y) == first
    assert "0x" not in first and not re.search(r"\d{6,}", first)


def test_labels_are_escaped() -> None:
    x = Tensor([1.0], requires_grad=True)
    x.name = 'say "hi" \\ {x}\nsecond line'
    text = to_dot(x * 2.0)
    nodes, _ = parse(text)
    assert nodes["t0"]["label"] == 'say "hi" \\ {x}\nsecond line\n(1,) float32'
    assert '\\"hi\\" \\\\ {x}\\nsecond' in text


def test_show_grads_after_backward_with_retain_graph() -> None:
    x, w, y = _small_graph()
    assert "grad (" not in to_dot(y, show_grads=True)  # no .grad yet
    y.backward(retain_graph=True)
    nodes, _ = parse(to_dot(y, show_grads=True))
    label = nodes["t0"]["label"]
    assert label.startswith("leaf\n(2, 3) float32\ngrad (2, 3) |g|=")
    norm = float(label.rsplit("=", 1)[1])
    assert norm == pytest.approx(np.linalg.norm(x.grad.data), rel=1e-3)
    assert sum("grad (" in v["label"] for v in nodes.values()) == 2  # x and w only
    assert "grad (" not in to_dot(y)


def test_released_graph_is_an_error_that_says_what_to_do() -> None:
    _, _, y = _small_graph()
    y.backward()
    with pytest.raises(RuntimeError, match=r"before.*backward\(\).*retain_graph=True"):
        to_dot(y)


def test_a_leaf_alone_and_bad_arguments() -> None:
    nodes, edges = parse(to_dot(Tensor([1.0], requires_grad=True)))
    assert list(nodes) == ["t0"] and edges == []
    with pytest.raises(TypeError, match="Tensor"):
        to_dot(np.ones(2))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params"):
        to_dot(Tensor([1.0], requires_grad=True) * 2.0, params={"w": np.ones(1)})  # type: ignore[dict-item]


# ---- rendering ----------------------------------------------------------------------------
@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz 'dot' program is not installed")
def test_dot_program_accepts_the_text(tmp_path: Path) -> None:
    _, _, y = _small_graph()
    y.backward(retain_graph=True)
    result = subprocess.run(["dot", "-Tsvg"], input=to_dot(y, show_grads=True).encode(),
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert b"<svg" in result.stdout and b"matmul" in result.stdout
    written = render(y, tmp_path / "graph.svg")
    assert written == tmp_path / "graph.svg" and b"<svg" in written.read_bytes()


def test_render_without_dot_writes_the_dot_file_and_says_how(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _, _, y = _small_graph()
    with pytest.warns(GraphvizMissingWarning, match=r"dot -Tsvg .*graph\.dot -o .*graph\.svg.*") as record:
        written = render(y, tmp_path / "graph.svg")
    assert "graphviz" in str(record[0].message)
    assert written == tmp_path / "graph.dot"
    assert written.read_text() == to_dot(y)
    assert not (tmp_path / "graph.svg").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["graph.dot"]  # no temporary left behind


def test_render_dot_suffix_and_bad_format(tmp_path: Path) -> None:
    _, _, y = _small_graph()
    assert render(y, tmp_path / "g.gv").read_text() == to_dot(y)
    with pytest.raises(ValueError, match=r"\.svg"):
        render(y, tmp_path / "g.jpeg")
    assert not (tmp_path / "g.jpeg").exists()


def test_mlp_training_graph_names_parameters_and_keeps_the_rng() -> None:
    tm.manual_seed(7)
    before = tm.random.get_rng_state()
    loss, model = mlp_training_graph(hidden=(8, 6), activation="tanh", batch=3)
    assert tm.random.get_rng_state() == before
    nodes, _ = parse(to_dot(loss, params=model))
    params = [v["label"].split("\n")[0] for v in nodes.values() if v.get("fillcolor") == "lightblue"]
    assert params == [name for name, _ in model.named_parameters()]
    ops = [v["label"].split("\n")[0] for v in ops_of(nodes).values()]
    assert ops.count("linear") == 3 and ops.count("tanh") == 2 and "log_softmax" in ops
    again, _ = mlp_training_graph(hidden=(8, 6), activation="tanh", batch=3)
    assert again.item() == loss.item()


def test_write_graph_for_the_mlp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if HAS_DOT:
        svg = write_graph(tmp_path / "mlp.svg", hidden=(16,), activation="relu")
        assert svg == tmp_path / "mlp.svg" and b"0.weight" in svg.read_bytes()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.warns(GraphvizMissingWarning):
        written = write_graph(tmp_path / "out" / "mlp.png", hidden=(16,), activation="relu", show_grads=True)
    assert written == tmp_path / "out" / "mlp.dot"
    nodes, _ = parse(written.read_text())
    assert "0.weight\n(16, 784) float32\ngrad (16, 784) |g|=" in nodes["t1"]["label"]
