"""Pictures: computation graphs as Graphviz DOT (``tinygrad_mnist.viz.dot``).

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

__all__ = ["GraphvizMissingWarning", "how_to_render", "render", "to_dot"]
