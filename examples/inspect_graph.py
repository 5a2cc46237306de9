"""Look at reverse mode at work: draw a small network's graph and print its backward trace.

A 784-16-10 MLP on four MNIST digits: the forward pass records a graph of
primitives; ``viz.render`` draws it (SVG when Graphviz's ``dot`` is installed,
otherwise the DOT text is written with the command to render it), and
``autograd.trace_backward`` runs backward while listing every step: which
primitive, the gradient arriving at its output and what it sent to each input.

    python examples/inspect_graph.py --out graph.svg
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, autograd, viz
from tinygrad_mnist.datasets import load_mnist
from tinygrad_mnist.mnist.models import build_model
from tinygrad_mnist.nn import functional as F


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="graph.svg", help="the drawing: .svg/.png (needs Graphviz) or .dot")
    parser.add_argument("--hidden", type=int, default=16)
    args = parser.parse_args()
    tm.manual_seed(0)
    images, labels = load_mnist("test")
    model = build_model({"kind": "mlp", "hidden": [args.hidden]})
    x = Tensor(images[:4].reshape(4, -1).astype(np.float32) / 255)
    loss = F.cross_entropy(model(x), labels[:4].astype(np.int64))
    params = dict(model.named_parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", viz.GraphvizMissingWarning)
        written = viz.render(loss, args.out, params=params)
    out = Path(args.out)
    print(viz.how_to_render(written, out) if written.suffix == ".dot" != out.suffix else f"graph drawn to {written}")
    trace = autograd.trace_backward(loss, names=model.named_parameters())
    print(trace)


if __name__ == "__main__":
    main()
