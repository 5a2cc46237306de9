"""Function transforms with PyTorch's ``torch.func`` names: ``grad``, ``grad_and_value``, ``vjp``,
``jacrev``, ``jvp``, ``jacfwd``, ``hessian`` and ``functional_call``.

A transform takes a function of Tensors and returns a new function (``grad``,
``jacrev``, ...) or evaluates at a point (``vjp``, ``jvp``). Transforms nest,
``grad(grad(f))`` and ``jacfwd(jacrev(f))``, and ``functional_call`` runs a
module with other parameters, so that a loss becomes a function of them.

Examples:
    >>> import tinygrad_mnist as tm
    >>> from tinygrad_mnist import func
    >>> func.grad(func.grad(lambda x: x.sin()))(tm.tensor(0.0))  # -sin(0)
    Tensor(-0.)
"""

from .forward_mode import hessian, jacfwd, jvp
from .functional_call import functional_call
from .reverse import grad, grad_and_value, jacrev, vjp
from .vmap import vmap

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "vjp", "vmap"]
