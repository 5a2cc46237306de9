"""The checks behind ``Module.to`` and ``Module.load_state_dict``: which dtype and device were asked,
in-place conversion, and whether a state dict fits the module's tensors.

Examples:
    >>> parse_to(("cpu", np.float64), {})
    dtype('float64')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..core.tensor import Tensor


class StateDictError(KeyError, ValueError):
    """``load_state_dict`` got missing, unexpected or wrongly shaped entries.

    A ``KeyError`` (a missing or unexpected name is a failed lookup) and a
    ``ValueError`` (like every other shape that does not fit).
    """

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def parse_to(args: tuple[Any, ...], kwargs: dict[str, Any]) -> np.dtype | None:
    """The dtype asked of ``Module.to`` (None: keep), after checking that any device asked is the CPU."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "memory_format"}
    if unknown or len(args) > 3:
        raise TypeError(f"to: unexpected arguments {sorted(unknown) or args}; expected (device, dtype) or a tensor")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, str) or type(arg).__name__ == "device":
            device = arg
        elif isinstance(arg, bool):
            continue  # non_blocking
        else:
            dtype = arg
    if device is not None and not re.fullmatch(r"cpu(:\d+)?", str(device)):
        raise ValueError(f"to: device {str(device)!r} is not available, expected 'cpu' (the only device here)")
    if dtype is None:
        return None
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"to: {dtype!r} is not a dtype") from None
    if resolved.kind not in "fc":
        raise TypeError(f"to: Module.to only accepts floating point or complex dtypes, got {resolved}")
    return resolved


def convert_(tensors: Iterable[Tensor | None], dtype: np.dtype) -> None:
    """Give each floating tensor (None skipped) ``dtype``, keeping the Tensor objects."""
    for t in tensors:
        if t is not None and t.data.dtype.kind == "f" and t.data.dtype != dtype:
            t.data = t.data.astype(dtype)


def checked_state(own: Mapping[str, Tensor], state: Mapping[str, Any], strict: bool,
                  owner: str) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """The arrays of ``state`` to copy into ``own`` and the missing and unexpected keys; raises
    [`StateDictError`][tinygrad_mnist.nn.module.StateDictError] before anything is copied when ``state`` does not
    fit."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if strict and (missing or unexpected):
        raise StateDictError(
            f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
            f"for {owner}"
        )
    arrays: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if name not in own:
            continue
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.shape != own[name].shape:
            raise StateDictError(
                f"load_state_dict: {name} has shape {array.shape}, expected {own[name].shape}"
            )
        if own[name].dtype.kind == "f" and array.dtype.kind != "f":
            raise StateDictError(f"load_state_dict: {name} has dtype {array.dtype}, expected floating point")
        arrays[name] = array
    return arrays, missing, unexpected
