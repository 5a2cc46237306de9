"""Metadata and conversions with PyTorch's meaning: ``size()``, ``dim()``, ``numel()``, ``to(dtype)``,
``long()``, ``tolist()``, ...

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([[1.0, 2.0, 3.0]])
    >>> x.size(), x.size(1), x.dim(), x.numel(), x.long().dtype
    ((1, 3), 3, 2, 3, dtype('int64'))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import rules
from .devices import device as Device
from .shape import dim_index

if TYPE_CHECKING:  # names for annotations only; never imported at run time
    from .tensor import Tensor

DEVICE = Device("cpu")  # the one device: every tensor lives here


def size(x: Tensor, dim: int | None = None) -> Any:
    """The shape (a tuple), or the size of dimension ``dim``."""
    if dim is None:
        return x.shape
    if x.ndim == 0:
        raise IndexError(f"size: a 0-d tensor has no dimension {dim}")
    return x.shape[dim_index("size", dim, x.ndim)]


def ndimension(x: Tensor) -> int:
    """The number of dimensions."""
    return x.ndim


def numel(x: Tensor) -> int:
    """The number of elements."""
    return int(x.data.size)


def convert(x: Tensor, dtype: Any) -> Tensor:
    """``x`` as ``dtype``: itself when it already has it, else a converted copy (the gradient is
    converted back)."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.dtype.kind in "fc" and dtype.kind in "fc":
        return rules.cast(x, dtype=dtype)
    return x._wrap(x.data.astype(dtype))  # to or from integers and bools: no gradient, as in PyTorch


def to(x: Tensor, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False,
       non_blocking: bool = False) -> Tensor:
    """``to(dtype)``, ``to("cpu")``, ``to(device("cpu"), dtype)``, ``to(other_tensor)`` (its dtype)."""
    for arg in args:
        if isinstance(arg, (str, Device)):  # a device; dtypes are numpy dtypes, never strings here
            device = arg
        elif hasattr(arg, "data") and hasattr(arg, "dtype") and hasattr(arg, "requires_grad"):
            dtype = arg.dtype
        else:
            dtype = arg
    if device is not None and str(device).split(":")[0] != DEVICE.type:
        raise ValueError(f"to: device {str(device)!r} is not available, expected 'cpu' (the only device here)")
    try:
        out = x if dtype is None else convert(x, dtype)
    except TypeError:
        raise TypeError(f"to: expected a dtype or a device, got {dtype!r}") from None
    return out.clone() if copy and out is x else out


def type_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` converted to the dtype of ``other``."""
    return convert(x, other.dtype)


def half(x: Tensor) -> Tensor:
    """``x.half()``: a copy converted to float16 (``x`` itself if it is float16 already)."""
    return convert(x, np.float16)


def to_float(x: Tensor) -> Tensor:
    """``x.float()``: a copy converted to float32 (``x`` itself if it is float32 already)."""
    return convert(x, np.float32)


def double(x: Tensor) -> Tensor:
    """``x.double()``: a copy converted to float64 (``x`` itself if it is float64 already)."""
    return convert(x, np.float64)


def long(x: Tensor) -> Tensor:
    """``x.long()``: a copy converted to int64 (``x`` itself if it is int64 already)."""
    return convert(x, np.int64)


def to_int(x: Tensor) -> Tensor:
    """``x.int()``: a copy converted to int32 (``x`` itself if it is int32 already)."""
    return convert(x, np.int32)


def to_bool(x: Tensor) -> Tensor:
    """``x.bool()``: a copy converted to bool; nonzero is True (``x`` itself if it is bool already)."""
    return convert(x, np.bool_)


def tolist(x: Tensor) -> Any:
    """The values as (nested) Python lists of numbers; a number for a 0-d tensor."""
    return x.data.tolist()
