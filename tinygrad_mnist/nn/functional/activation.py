"""Activation functions (``F.relu``, ``F.gelu``, ``F.softmax``, ...), written in Tensor operations.

Every function follows PyTorch's definition, including the gradient at the
kinks (``relu6`` and ``hardtanh`` pass the gradient only strictly inside their
range, ``elu`` takes the negative branch at 0, ``hardswish`` has slope 0 at -3
and 1 at 3). Values are computed without overflow for any magnitude: branches
that are not taken are evaluated at a harmless substitute.

``inplace=True`` (where PyTorch offers it) writes the result into the input and
returns the input itself; a leaf that requires grad refuses while the graph is
recorded, as in PyTorch.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> relu(Tensor([-1.0, 2.0]))
    Tensor([0., 2.])
    >>> x = Tensor([-1.0, 7.0])
    >>> relu6(x, inplace=True) is x, x
    (True, Tensor([0., 6.]))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ...core import composites
from ...core.inplace import apply_in_place
from ...core.reductions import implicit_softmax_dim
from ...core.shape import dim_index
from ...core.tensor import Tensor, where

__all__ = [
    "celu", "elu", "gelu", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu", "log_softmax", "logsigmoid",
    "mish", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softmin", "softplus", "softsign", "tanh",
    "tanhshrink",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0) * (2.0 / math.sqrt(math.pi)) * 0.5
_GELU_TANH_LIMIT = 1e6  # beyond it tanh of the inner cubic is exactly +-1 (and x**3 could overflow float32)


def _floating(op: str, input: Tensor) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point tensor, got dtype {input.dtype}")


def _maybe_in_place(op: str, input: Tensor, inplace: bool, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """``compute(input)``; with ``inplace`` written into ``input``, which is returned (PyTorch's ``op_``)."""
    if inplace:
        return apply_in_place(input, f"{op}_", compute)
    return compute(input)


def _log1p_exp(z: Tensor) -> Tensor:
    """log(1 + exp(z)) for any z: z + log1p(exp(-z)) where z > 0, log1p(exp(z)) elsewhere.

    Each branch sees 0 where it is not taken, so nothing overflows and gradients of every order are exact.
    """
    positive = z.data > 0
    upper = where(positive, z, 0.0)
    lower = where(positive, 0.0, z)
    return where(positive, z + (-upper).exp().log1p(), lower.exp().log1p())


def _elu(input: Tensor, alpha: float, scale: float, input_scale: float) -> Tensor:
    """``scale * x`` for x > 0, ``alpha * scale * expm1(input_scale * x)`` for x <= 0 (elu, selu, celu).

    At exactly 0 the negative branch's slope, with a zero second derivative: PyTorch's gradient takes the
    negative side there (x <= 0) and its second derivative the positive side (x < 0).
    """
    positive, negative = input.data > 0, input.data < 0
    below = where(negative, input, 0.0)  # the exponential sees 0 where x >= 0: no overflow
    inner = below * input_scale if input_scale != 1.0 else below
    at_zero = where(positive | negative, 0.0, input) * (alpha * scale * input_scale)
    return where(positive, input * scale if scale != 1.0 else input,
                 where(negative, inner.expm1() * (alpha * scale), at_zero))


# ---- rectifiers -------------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); the gradient at 0 is 0.

    Examples:
        >>> relu(Tensor([-1.0, 0.0, 3.0]))
        Tensor([0., 0., 3.])
    """
    return _maybe_in_place("relu", input, inplace, lambda x: x.relu())


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, ``negative_slope * x`` elsewhere (the slope at 0 is ``negative_slope``).

    Examples:
        >>> leaky_relu(Tensor([-2.0, 2.0]), 0.5)
        Tensor([-1.,  2.])
    """
    return _maybe_in_place("leaky_relu", input, inplace, lambda x: composites.leaky_relu(x, negative_slope))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x limited to [min_val, max_val]; the gradient passes strictly inside the range only.

    Examples:
        >>> hardtanh(Tensor([-3.0, 0.5, 3.0]))
        Tensor([-1. ,  0.5,  1. ])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got min_val={min_val} "
                         f"and max_val={max_val}")

    def compute(x: Tensor) -> Tensor:
        inside = (x.data > min_val) & (x.data < max_val)
        return where(inside, x, x._wrap(np.clip(x.data, min_val, max_val).astype(x.dtype)))
    return _maybe_in_place("hardtanh", input, inplace, compute)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): ``hardtanh(x, 0, 6)``, with a zero gradient at 0 and at 6.

    Examples:
        >>> relu6(Tensor([-1.0, 3.0, 9.0]))
        Tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


# ---- smooth rectifiers ------------------------------------------------------------------------
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, ``alpha * (exp(x) - 1)`` for x <= 0.

    Examples:
        >>> elu(Tensor([-1.0, 2.0])).tolist()
        [-0.6321205496788025, 2.0]
    """
    _floating("elu", input)
    return _maybe_in_place("elu", input, inplace, lambda x: _elu(x, alpha, 1.0, 1.0))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants alpha ~ 1.6733, scale ~ 1.0507.

    Examples:
        >>> round(selu(Tensor([1.0])).item(), 4)
        1.0507
    """
    _floating("selu", input)
    return _maybe_in_place("selu", input, inplace, lambda x: _elu(x, _SELU_ALPHA, _SELU_SCALE, 1.0))


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, ``alpha * (exp(x / alpha) - 1)`` for x <= 0 (``alpha`` must not be 0).

    Examples:
        >>> [round(v, 4) for v in celu(Tensor([-1.0, 2.0]), alpha=2.0).tolist()]  # 2 (exp(-1/2) - 1), 2
        [-0.7869, 2.0]
    """
    _floating("celu", input)
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0, got 0")
    return _maybe_in_place("celu", input, inplace, lambda x: _elu(x, alpha, 1.0, 1.0 / alpha))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) with Phi the standard normal CDF (through ``erf``); ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Examples:
        >>> round(gelu(Tensor([1.0])).item(), 6), round(gelu(Tensor([1.0]), approximate="tanh").item(), 6)
        (0.841345, 0.841192)
    """
    _floating("gelu", input)
    if approximate == "none":
        return input * 0.5 * (1.0 + (input * math.sqrt(0.5)).erf())
    if approximate == "tanh":
        near = np.abs(input.data) <= _GELU_TANH_LIMIT
        x = where(near, input, input._wrap(np.sign(input.data) * np.asarray(_GELU_TANH_LIMIT, input.dtype)))
        inner = (x + (x * x * x) * 0.044715) * _SQRT_2_OVER_PI
        return input * 0.5 * (1.0 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish).

    Examples:
        >>> silu(Tensor([0.0, 1.0])).tolist()
        [0.0, 0.7310585975646973]
    """
    _floating("silu", input)
    return _maybe_in_place("silu", input, inplace, lambda x: x * x.sigmoid())


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.

    Examples:
        >>> round(softplus(Tensor([0.0])).item(), 6), softplus(Tensor([30.0])).item()
        (0.693147, 30.0)
    """
    _floating("softplus", input)
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero, got 0")
    scaled = input * beta if beta != 1 else input
    linear = scaled.data > threshold
    smooth = _log1p_exp(where(linear, 0.0, scaled))
    return where(linear, input, smooth / beta if beta != 1 else smooth)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)).

    Examples:
        >>> round(mish(Tensor([1.0])).item(), 6)
        0.865098
    """
    _floating("mish", input)
    return _maybe_in_place("mish", input, inplace, lambda x: x * _log1p_exp(x).tanh())


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), finite for any x.

    Examples:
        >>> logsigmoid(Tensor([-1000.0, 0.0])).tolist()[0]
        -1000.0
    """
    _floating("logsigmoid", input)
    return -_log1p_exp(-input)


# ---- hard approximations ------------------------------------------------------------------------
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6; the gradient 1/6 strictly inside (-3, 3), 0 elsewhere.

    Examples:
        >>> hardsigmoid(Tensor([-4.0, 0.0, 4.0]))
        Tensor([0. , 0.5, 1. ])
    """
    _floating("hardsigmoid", input)

    def compute(x: Tensor) -> Tensor:
        inside = (x.data > -3) & (x.data < 3)
        return where(inside, (x + 3.0) / 6.0, x._wrap((x.data >= 3).astype(x.dtype)))
    return _maybe_in_place("hardsigmoid", input, inplace, compute)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6; the slope is 0 at -3 and 1 at 3, as in PyTorch.

    Examples:
        >>> hardswish(Tensor([-4.0, 1.0, 4.0])).tolist()
        [0.0, 0.6666666865348816, 4.0]
    """
    _floating("hardswish", input)

    def compute(x: Tensor) -> Tensor:
        low, high = x.data <= -3, x.data >= 3
        middle = where(low | high, 0.0, x)  # the quadratic sees 0 outside (-3, 3): no overflow
        return where(low, 0.0, where(high, x, middle * (middle + 3.0) / 6.0))
    return _maybe_in_place("hardswish", input, inplace, compute)


# ---- squashing functions ----------------------------------------------------------------------------
def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)).

    Examples:
        >>> sigmoid(Tensor([0.0]))
        Tensor([0.5])
    """
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """The hyperbolic tangent.

    Examples:
        >>> tanh(Tensor([0.0]))
        Tensor([0.])
    """
    return input.tanh()


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|).

    Examples:
        >>> softsign(Tensor([-3.0, 1.0]))
        Tensor([-0.75,  0.5 ])
    """
    _floating("softsign", input)
    return input / (input.abs() + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x).

    Examples:
        >>> tanhshrink(Tensor([0.0]))
        Tensor([0.])
    """
    _floating("tanhshrink", input)
    return input - input.tanh()


# ---- softmax family -------------------------------------------------------------------------------
def _implicit_dim(op: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
                  "dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return implicit_softmax_dim(ndim)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,
            axis: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``axis`` is an alias; without either, PyTorch's
    implicit choice, with its warning: 0 for 0-, 1- and 3-d inputs, else 1).

    Examples:
        >>> softmax(Tensor([0.0, 0.0]), dim=0)
        Tensor([0.5, 0.5])
    """
    if dim is None and axis is None:
        dim = _implicit_dim("softmax", input.ndim, _stacklevel)
    return input.softmax(dim, axis=axis, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,
            axis: int | None = None) -> Tensor:
    """softmax(-x) along ``dim`` (same ``dim`` rules as [`softmax`][tinygrad_mnist.nn.functional.activation.softmax]).

    Examples:
        >>> softmin(Tensor([0.0, 0.0]), dim=0)
        Tensor([0.5, 0.5])
    """
    if dim is None and axis is None:
        dim = _implicit_dim("softmin", input.ndim, _stacklevel)
    if dim is not None:
        dim_index("softmin", dim, input.ndim)
    return (-input).softmax(dim, axis=axis, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,
                axis: int | None = None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably (same ``dim`` rules as
    [`softmax`][tinygrad_mnist.nn.functional.activation.softmax]).

    Examples:
        >>> log_softmax(Tensor([0.0, 0.0]), dim=0).exp()
        Tensor([0.5, 0.5])
    """
    if dim is None and axis is None:
        dim = _implicit_dim("log_softmax", input.ndim, _stacklevel)
    return input.log_softmax(dim, axis=axis, dtype=dtype)
