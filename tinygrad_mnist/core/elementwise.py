"""Elementwise functions with PyTorch's names: math (``log1p``, ``sin``, ``floor``, ...), comparisons
(``eq``, ``lt``, ...), logical operations and nan handling.

Each takes the tensor first, so it serves as a top-level function and as a method.
``sign``, ``floor``, ``ceil`` and ``round`` have a zero gradient, as in PyTorch;
comparisons and logical operations give bool tensors outside the graph.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([-1.5, 0.5, 2.5])
    >>> x.floor().tolist(), x.round().tolist(), x.gt(0).tolist()
    ([-2.0, 0.0, 2.0], [-2.0, 0.0, 2.0], [False, True, True])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import composites, rules

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor


def _float(x: Tensor) -> Tensor:
    if x.dtype.kind not in "fc":  # integers and bools compute in the default float, as in PyTorch
        return x._wrap(x.data.astype(np.float32))
    return x


def exp(x: Tensor) -> Tensor:
    """e ** x, elementwise (integers compute in float32, as in PyTorch).

    Examples:
        >>> from tinygrad_mnist import tensor
        >>> tensor([0.0, 1.0]).exp()
        Tensor([1.      , 2.718282])
    """
    return rules.exp(_float(x))


def log(x: Tensor) -> Tensor:
    """The natural logarithm, elementwise: -inf at 0 and nan below, with numpy's warnings."""
    return rules.log(_float(x))


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for small x."""
    return rules.log1p(_float(x))


def expm1(x: Tensor) -> Tensor:
    """exp(x) - 1, accurate for small x."""
    return rules.expm1(_float(x))


def sqrt(x: Tensor) -> Tensor:
    """The square root, elementwise; its gradient is 1 / (2 sqrt(x))."""
    return composites.sqrt(_float(x))


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x)."""
    return _float(x) ** -0.5


def sin(x: Tensor) -> Tensor:
    """The sine (radians), elementwise."""
    return rules.sin(_float(x))


def cos(x: Tensor) -> Tensor:
    """The cosine (radians), elementwise."""
    return rules.cos(_float(x))


def erf(x: Tensor) -> Tensor:
    """The error function, 2/sqrt(pi) times the integral of exp(-t^2) from 0 to x.

    Examples:
        >>> import tinygrad_mnist as tg
        >>> tg.tensor([0.0, 1.0], dtype=tg.float64).erf()
        Tensor([0.        , 0.84270079], dtype=float64)
    """
    return rules.erf(_float(x))


def tanh(x: Tensor) -> Tensor:
    """The hyperbolic tangent, elementwise; its gradient is 1 - tanh(x)^2."""
    return rules.tanh(_float(x))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), elementwise, computed without overflow for large |x|."""
    return rules.sigmoid(_float(x))


def relu(x: Tensor) -> Tensor:
    """max(x, 0), elementwise; the gradient at 0 is 0, as in PyTorch.

    Examples:
        >>> from tinygrad_mnist import tensor
        >>> tensor([-1.0, 0.0, 2.0]).relu()
        Tensor([0., 0., 2.])
    """
    return rules.relu(x)


def abs(x: Tensor) -> Tensor:
    """|x|; its gradient at 0 is 0 (the sign), as in PyTorch."""
    return composites.absolute(x) if x.dtype.kind in "fc" else x._wrap(np.abs(x.data))


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1; zero gradient."""
    return rules.sign(x) if x.dtype.kind in "fc" else x._wrap(np.sign(x.data))


def floor(x: Tensor) -> Tensor:
    """Round down; zero gradient."""
    return rules.floor(x) if x.dtype.kind in "fc" else x._wrap(x.data.copy())


def ceil(x: Tensor) -> Tensor:
    """Round up; zero gradient."""
    return rules.ceil(x) if x.dtype.kind in "fc" else x._wrap(x.data.copy())


def round(x: Tensor) -> Tensor:
    """Round to the nearest integer, halves to even; zero gradient."""
    return rules.rint(x) if x.dtype.kind in "fc" else x._wrap(x.data.copy())


def pow(x: Tensor, exponent: Any) -> Tensor:
    """x ** exponent (a tensor or a number)."""
    return x ** exponent


def _raw(value: Any) -> Any:
    return value.data if hasattr(value, "_ctx") else value


def eq(x: Tensor, other: Any) -> Tensor:
    """``x == other`` elementwise (``other`` a tensor, an array or a number, broadcast): a bool tensor, no gradient.

    Examples:
        >>> from tinygrad_mnist import tensor
        >>> tensor([1, 2, 3]).eq(2)
        Tensor([False,  True, False], dtype=bool)
    """
    return x._wrap(np.equal(x.data, _raw(other)))


def ne(x: Tensor, other: Any) -> Tensor:
    """``x != other`` elementwise: a bool tensor, no gradient."""
    return x._wrap(np.not_equal(x.data, _raw(other)))


def lt(x: Tensor, other: Any) -> Tensor:
    """``x < other`` elementwise: a bool tensor, no gradient."""
    return x._wrap(np.less(x.data, _raw(other)))


def le(x: Tensor, other: Any) -> Tensor:
    """``x <= other`` elementwise: a bool tensor, no gradient."""
    return x._wrap(np.less_equal(x.data, _raw(other)))


def gt(x: Tensor, other: Any) -> Tensor:
    """``x > other`` elementwise: a bool tensor, no gradient."""
    return x._wrap(np.greater(x.data, _raw(other)))


def ge(x: Tensor, other: Any) -> Tensor:
    """``x >= other`` elementwise: a bool tensor, no gradient."""
    return x._wrap(np.greater_equal(x.data, _raw(other)))


def logical_and(x: Tensor, other: Any) -> Tensor:
    """Elementwise logical and (nonzero is true): a bool tensor, no gradient."""
    return x._wrap(np.logical_and(x.data, _raw(other)))


def logical_or(x: Tensor, other: Any) -> Tensor:
    """Elementwise logical or (nonzero is true): a bool tensor, no gradient."""
    return x._wrap(np.logical_or(x.data, _raw(other)))


def logical_xor(x: Tensor, other: Any) -> Tensor:
    """Elementwise logical exclusive or (nonzero is true): a bool tensor, no gradient."""
    return x._wrap(np.logical_xor(x.data, _raw(other)))


def logical_not(x: Tensor) -> Tensor:
    """Elementwise logical not (nonzero is true): a bool tensor, no gradient.

    Examples:
        >>> from tinygrad_mnist import tensor
        >>> tensor([0.0, 2.0]).logical_not()
        Tensor([ True, False], dtype=bool)
    """
    return x._wrap(np.logical_not(x.data))


def isnan(x: Tensor) -> Tensor:
    """True where ``x`` is nan: a bool tensor, no gradient."""
    return x._wrap(np.isnan(x.data))


def isfinite(x: Tensor) -> Tensor:
    """True where ``x`` is neither nan nor infinite: a bool tensor, no gradient."""
    return x._wrap(np.isfinite(x.data))


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """nan, +inf and -inf replaced (by 0 and the dtype's largest and lowest finite values by default);
    the gradient passes only where ``x`` was finite."""
    if x.dtype.kind != "f":
        return x._wrap(x.data.copy())
    replaced = np.nan_to_num(x.data, nan=nan, posinf=posinf, neginf=neginf)
    return rules.where(x, x._wrap(replaced), cond=np.isfinite(x.data))
