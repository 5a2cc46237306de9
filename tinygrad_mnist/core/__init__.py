"""The core: graph recording and the reverse walk, the rule table, composites and ``Tensor``.

Modules, each importing only those listed before it:

* :mod:`~tinygrad_mnist.core.grad_mode`, :mod:`~tinygrad_mnist.core.anomaly`,
  :mod:`~tinygrad_mnist.core.coerce`, :mod:`~tinygrad_mnist.core.kernels`:
  switches, nan/inf checks, argument conversion, numpy kernels;
* :mod:`~tinygrad_mnist.core.graph`: recording a node and reverse mode, top to bottom;
* :mod:`~tinygrad_mnist.core.rules`: THE table of primitives and their VJPs;
* :mod:`~tinygrad_mnist.core.composites`: everything written in primitives;
* :mod:`~tinygrad_mnist.core.tensor`: the ``Tensor`` class, its operators and methods.
"""
