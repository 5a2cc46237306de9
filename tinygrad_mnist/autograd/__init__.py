"""Differentiation as functions: gradients, Jacobians, Hessians, custom ops and checkers.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> from tinygrad_mnist import autograd
    >>> x = Tensor(3.0, requires_grad=True)
    >>> (dy,) = autograd.grad(x ** 3, x, create_graph=True)
    >>> dy.item(), autograd.grad(dy, x)[0].item()
    (27.0, 18.0)
"""

from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ..core.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled
from ..core.hooks import RemovableHandle
from . import forward_ad
from .anomaly import AnomalyError, detect_anomaly
from .checkresult import ElementReport, GradientBoundError, GradientCheckResult, SkippedElement
from .errorcheck import check_gradients
from .function import Function, FunctionCtx
from .functional import backward, grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .second_order import check_second_derivatives
from .trace import BackwardTrace, trace_backward

if _TYPE_CHECKING:  # loaded on first use, below
    from .modelcheck import check_module
from .transforms import hessian, hvp, jacobian, jvp, vjp

__all__ = [
    "AnomalyError",
    "BackwardTrace",
    "ElementReport",
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "GradientBoundError",
    "GradientCheckResult",
    "RemovableHandle",
    "SkippedElement",
    "backward",
    "check_gradients",
    "check_module",
    "check_second_derivatives",
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


def __getattr__(name: str) -> _Any:
    # check_module needs func.functional_call, and func needs autograd.forward_ad: loaded on first use,
    # so that importing autograd does not import func (which would import autograd back)
    if name == "check_module":
        return _import_module(f"{__name__}.modelcheck").check_module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
