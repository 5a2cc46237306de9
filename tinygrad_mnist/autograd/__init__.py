"""Differentiation as functions: gradients, Jacobians, Hessians, custom ops and checkers.

>>> from tinygrad_mnist import Tensor
>>> from tinygrad_mnist import autograd
>>> x = Tensor(3.0, requires_grad=True)
>>> (dy,) = autograd.grad(x ** 3, x, create_graph=True)
>>> dy.item(), autograd.grad(dy, x)[0].item()
(27.0, 18.0)
"""

from ..core.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled
from ..core.hooks import RemovableHandle
from . import forward_ad
from .anomaly import AnomalyError, detect_anomaly
from .function import Function, FunctionCtx
from .functional import backward, grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .trace import BackwardTrace, trace_backward
from .transforms import hessian, hvp, jacobian, jvp, vjp

__all__ = [
    "AnomalyError",
    "BackwardTrace",
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "RemovableHandle",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "forward_ad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "hessian",
    "hvp",
    "inference_mode",
    "jacobian",
    "jvp",
    "no_grad",
    "set_grad_enabled",
    "trace_backward",
    "vjp",
]
