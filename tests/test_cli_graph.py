"""`tinygrad-mnist graph`: draws the MLP's or the CNN's training graph, with or without Graphviz."""

import shutil

import pytest

from tinygrad_mnist.mnist.cli import main


def test_graph_writes_dot_text(tmp_path, capsys):
    out = tmp_path / "mlp.dot"
    assert main(["graph", "--hidden", "8", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("digraph") and "linear" in text and "log_softmax" in text
    assert "0.weight" in text and "2.weight" in text  # parameters named from the Module
    assert str(out) in capsys.readouterr().out


def test_graph_without_graphviz_writes_dot_and_says_how_to_render(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["graph", "--hidden", "8", "--out", str(tmp_path / "mlp.svg")]) == 0
    assert (tmp_path / "mlp.dot").is_file() and not (tmp_path / "mlp.svg").exists()
    said = capsys.readouterr().out
    assert "graphviz" in said and "dot -Tsvg" in said


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_graph_renders_svg_with_graphviz(tmp_path):
    out = tmp_path / "mlp.svg"
    assert main(["graph", "--hidden", "8", "4", "--grads", "--out", str(out)]) == 0
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_graph_refuses_an_unknown_format(tmp_path, capsys):
    assert main(["graph", "--out", str(tmp_path / "mlp.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0]


def test_graph_of_the_cnn_shows_its_convolutions_and_pooling(tmp_path):
    out = tmp_path / "cnn.dot"
    assert main(["graph", "--model", "cnn", "--channels", "3", "--hidden", "5", "--grads", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("conv2d") == 1 and text.count("max_pool2d") == 1 and "linear" in text
    assert "2.weight" in text and "(3, 1, 3, 3)" in text  # the conv kernel, named from the Module, with its shape
