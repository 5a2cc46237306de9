"""The MNIST application, built on the library: what the ``tinygrad-mnist`` command runs.

* `training`: the resumable training loop and its configuration;
* `cli`: the ``tinygrad-mnist`` command;
* `models`: the MLP and CNN builders, described by architecture dicts;
* `checkpoint`: pickle-free checkpoints;
* `metrics`: accuracy, confusion matrix, per-class table;
* `plots`, `graphs`: pictures of runs and training graphs;
* `imageio`: reading the user's digit images;
* `reference`, `backprop_compare`:
  the numpy-only backprop oracles and their comparison with the engine.

The library never imports this package; ``import tinygrad_mnist`` does not load it.
"""
