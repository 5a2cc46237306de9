"""The MNIST application, built on the library: what the ``tinygrad-mnist`` command runs.

* :mod:`~tinygrad_mnist.mnist.training`: the resumable training loop and its configuration;
* :mod:`~tinygrad_mnist.mnist.cli`: the ``tinygrad-mnist`` command;
* :mod:`~tinygrad_mnist.mnist.models`: the MLP and CNN builders, described by architecture dicts;
* :mod:`~tinygrad_mnist.mnist.checkpoint`: pickle-free checkpoints;
* :mod:`~tinygrad_mnist.mnist.metrics`: accuracy, confusion matrix, per-class table;
* :mod:`~tinygrad_mnist.mnist.plots`, :mod:`~tinygrad_mnist.mnist.graphs`: pictures of runs and training graphs;
* :mod:`~tinygrad_mnist.mnist.imageio`: reading the user's digit images;
* :mod:`~tinygrad_mnist.mnist.reference`, :mod:`~tinygrad_mnist.mnist.backprop_compare`:
  the numpy-only backprop oracles and their comparison with the engine.

The library never imports this package; ``import tinygrad_mnist`` does not load it.
"""
