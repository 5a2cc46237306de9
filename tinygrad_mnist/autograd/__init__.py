"""Differentiation as functions: ``grad`` and the gradient checker ``gradcheck``.

>>> from tinygrad_mnist import Tensor
>>> from tinygrad_mnist import autograd
>>> x = Tensor(3.0, requires_grad=True)
>>> (dy,) = autograd.grad(x ** 3, x, create_graph=True)
>>> dy.item(), autograd.grad(dy, x)[0].item()
(27.0, 18.0)
"""

from ..grad_mode import enable_grad, no_grad, set_grad_enabled
from .functional import grad
from .gradcheck import GradcheckError, gradcheck

__all__ = ["GradcheckError", "enable_grad", "grad", "gradcheck", "no_grad", "set_grad_enabled"]
