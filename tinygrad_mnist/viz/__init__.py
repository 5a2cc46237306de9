"""Pictures: computation graphs as Graphviz DOT (``tinygrad_mnist.viz.dot``), and the autodiff explorer.

[`explore`][tinygrad_mnist.viz.explore] (and [`explore_graph`][tinygrad_mnist.viz.explore_graph] for a graph
already built) record a forward and backward pass from the engine and make a self-contained web page
that steps through the forward values, forward mode and the reverse walk
(``tinygrad_mnist.viz.explore_api``).

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> from tinygrad_mnist.viz import to_dot
    >>> to_dot(Tensor([1.0], requires_grad=True) * 2.0).startswith("digraph autograd {")
    True

The MNIST application's pictures (training curves, confusion matrices, the
training graphs of its models) are in ``tinygrad_mnist.mnist.plots`` and
``tinygrad_mnist.mnist.graphs``.
"""

from .dot import GraphvizMissingWarning, how_to_render, render, to_dot
from .explore_api import Exploration, explore, explore_graph

__all__ = ["Exploration", "GraphvizMissingWarning", "explore", "explore_graph", "how_to_render", "render", "to_dot"]
