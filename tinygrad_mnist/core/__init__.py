"""The core: graph recording and the reverse walk, the rule table, composites and ``Tensor``.

Modules, each importing only those listed before it (docs/architecture.md has the map):

* ``grad_mode``, ``anomaly``, ``coerce``, ``dtypes``, ``kernels``, ``hooks``, ``nodeview``, ``versions``:
  switches, nan/inf checks, argument conversion and dtypes, numpy kernels, tensor hooks,
  PyTorch's view of a node, the in-place check;
* ``graph``: recording a node and reverse mode, top to bottom;
* ``rules``: THE table of primitives and their VJPs;
* ``composites``, ``shape``, ``elementwise``, ``reductions``, ``conversions``, ``selection``:
  everything written in primitives, the functions behind the Tensor methods;
* ``inplace``: in-place methods and version stamps; ``tensor``: the ``Tensor`` class;
* ``functions``, ``factories``: the top-level functions and tensor factories.
"""
