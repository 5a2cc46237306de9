"""Switches for graph recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

While recording is off, operations on tensors compute their values but build no
graph, so nothing can be differentiated through them and nothing is kept alive
for a backward pass. Each switch is both a context manager and a decorator.

>>> from tinygrad_mnist import Tensor, no_grad
>>> x = Tensor([1.0, 2.0], requires_grad=True)
>>> with no_grad():
...     y = x * 2
>>> y.requires_grad
False
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradState:
    # A plain module-level flag: read on every operation, so it must be cheap.
    # Like the rest of the engine it is not thread-safe.
    enabled: bool = True
    anomaly: bool = False  # detect_anomaly is on


STATE = _GradState()


def is_grad_enabled() -> bool:
    """Whether operations currently record the graph."""
    return STATE.enabled


class set_grad_enabled:
    """Turn graph recording on or off inside a ``with`` block or a decorated function.

    The previous setting is restored on exit, also when an exception escapes.
    """

    def __init__(self, mode: bool = True) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self.mode = mode
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(STATE.enabled)
        STATE.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self._saved.pop()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)(self.mode) if type(self) is set_grad_enabled else type(self)():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):
    """Compute without recording a graph (inference, parameter updates).

    >>> from tinygrad_mnist import Tensor, no_grad
    >>> @no_grad()
    ... def predict(x):
    ...     return x * 3
    >>> predict(Tensor([1.0], requires_grad=True)).requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record the graph again, for example inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)
