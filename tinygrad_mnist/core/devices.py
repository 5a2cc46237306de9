"""Devices, as PyTorch names them: everything here runs on the CPU.

Scripts written for PyTorch ask which accelerator they may use before they
move a model and its data there. The answers here are PyTorch's answers on a
machine without one, so such scripts choose the CPU and run unchanged:

Examples:
    >>> import tinygrad_mnist as tg
    >>> tg.cuda.is_available(), tg.backends.mps.is_available(), tg.accelerator.is_available()
    (False, False, False)
    >>> dev = tg.device("cuda" if tg.cuda.is_available() else "cpu")
    >>> dev, str(dev), dev.type
    (device(type='cpu'), 'cpu', 'cpu')
    >>> tg.ones(2).to(dev).device
    device(type='cpu')

A device object for another type can be made (as in PyTorch), but moving a
tensor or a module there raises ``ValueError`` naming it.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

__all__ = ["accelerator", "backends", "cuda", "device"]

_DEVICE = re.compile(r"([a-z_]+)(?::(\d+))?")
_KNOWN_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "mtia", "privateuseone")


class device:
    """A device: a ``type`` (``"cpu"``, ``"cuda"``, ...) and an optional ``index``.

    ``device("cuda:1")`` and ``device("cuda", 1)`` are the same device. It
    compares equal to another device of the same type and index; ``str()``
    gives the name that ``Tensor.to`` and ``Module.to`` accept.

    Examples:
        >>> device("cpu") == device("cpu"), device("cuda", 1)
        (True, device(type='cuda', index=1))
    """

    __slots__ = ("index", "type")
    type: str
    index: int | None

    def __init__(self, type: str | device, index: int | None = None) -> None:
        if isinstance(type, device):
            given: device = type
            type, index = given.type, given.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {type!r}")
        match = _DEVICE.fullmatch(type)
        if match is None or match.group(1) not in _KNOWN_TYPES:
            raise RuntimeError(f"device: expected one of {', '.join(_KNOWN_TYPES)} with an optional ':index', "
                               f"got {type!r}")
        if match.group(2) is not None:
            if index is not None:
                raise RuntimeError(f"device: {type!r} already names an index; got index={index!r} as well")
            index = int(match.group(2))
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise RuntimeError(f"device: index must be a non-negative integer, got {index!r}")
        self.type, self.index = match.group(1), index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def _false() -> bool:
    return False


def _zero() -> int:
    return 0


def _none() -> None:
    return None


cuda = SimpleNamespace(is_available=_false, device_count=_zero)
"""``cuda.is_available()`` is False and ``cuda.device_count()`` 0: there is no GPU here."""

accelerator = SimpleNamespace(is_available=_false, device_count=_zero, current_accelerator=_none)
"""``accelerator.is_available()`` is False and ``current_accelerator()`` None, as PyTorch says on a CPU."""

backends = SimpleNamespace(mps=SimpleNamespace(is_available=_false, is_built=_false))
"""``backends.mps.is_available()`` is False: the CPU is the only device."""
