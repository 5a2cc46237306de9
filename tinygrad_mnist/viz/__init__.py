"""Pictures: computation graphs as Graphviz DOT (:mod:`tinygrad_mnist.viz.dot`).

>>> from tinygrad_mnist import Tensor
>>> from tinygrad_mnist.viz import to_dot
>>> to_dot(Tensor([1.0], requires_grad=True) * 2.0).startswith("digraph autograd {")
True
"""

from .dot import (GraphvizMissingWarning, how_to_render, mlp_training_graph, render, to_dot, training_graph,
                  write_graph)
from .plots import MissingMatplotlib, PlotError, plot_run  # matplotlib itself is imported only when plotting

__all__ = [
    "GraphvizMissingWarning",
    "MissingMatplotlib",
    "PlotError",
    "how_to_render",
    "mlp_training_graph",
    "plot_run",
    "render",
    "to_dot",
    "training_graph",
    "write_graph",
]
