"""Tensor hooks: functions called with a tensor's gradient once backward has completed it.

The registry lives outside the tensors (which have fixed slots) and is empty
unless hooks are used, so the walk pays one truth test per tensor for it.
``retain_grad()`` is the hook that stores a non-leaf's gradient in its ``.grad``.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> y = x * 3
    >>> handle = y.register_hook(lambda g: g * 10)
    >>> y.sum().backward()
    >>> x.grad
    Tensor([30., 30.])
    >>> handle.remove()
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only
    from .tensor import Tensor

# By tensor id (tensors compare elementwise, so they cannot be keys): [retains_grad, {key: hook}],
# dropped when the tensor is collected.
HOOKS: dict[int, list[Any]] = {}
_hook_keys = itertools.count()


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off again."""

    __slots__ = ("_key", "_tensor_id")

    def __init__(self, tensor_id: int, key: int) -> None:
        self._tensor_id, self._key = tensor_id, key

    def remove(self) -> None:
        entry = HOOKS.get(self._tensor_id)
        if entry is not None:
            entry[1].pop(self._key, None)
            if not entry[0] and not entry[1]:
                del HOOKS[self._tensor_id]


def _entry(tensor: Tensor) -> list[Any]:
    entry = HOOKS.get(id(tensor))
    if entry is None:
        entry = HOOKS[id(tensor)] = [False, {}]
        weakref.finalize(tensor, HOOKS.pop, id(tensor), None)
    return entry


def add_hook(tensor: Tensor, hook: Callable[[Tensor], Any]) -> RemovableHandle:
    """Call ``hook(grad)`` when the gradient of ``tensor`` is complete; a Tensor it returns replaces it."""
    key = next(_hook_keys)
    _entry(tensor)[1][key] = hook
    return RemovableHandle(id(tensor), key)


def retain(tensor: Tensor) -> None:
    """Have backward store the gradient of the non-leaf ``tensor`` in its ``.grad`` (after its hooks)."""
    _entry(tensor)[0] = True


def retains(tensor: Tensor) -> bool:
    entry = HOOKS.get(id(tensor))
    return entry is not None and bool(entry[0])


def run_hooks(tensor: Tensor, grad: Tensor) -> tuple[Tensor, bool]:
    """``grad`` after the hooks of ``tensor`` (each may replace it), and whether ``tensor`` retains it."""
    retained, hooks = HOOKS[id(tensor)]
    for hook in list(hooks.values()):
        result = hook(grad)
        if result is not None:
            if not hasattr(result, "_ctx") or result.shape != grad.shape:
                raise RuntimeError(f"hook: a hook must return None or a Tensor shaped like the gradient "
                                   f"{grad.shape}, got {type(result).__name__} "
                                   f"{getattr(result, 'shape', '')}".rstrip())
            grad = result
    return grad, bool(retained)
