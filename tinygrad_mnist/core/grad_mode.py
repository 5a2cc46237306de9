"""Switches for graph recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

While recording is off, operations on tensors compute their values but build no
graph, so nothing can be differentiated through them and nothing is kept alive
for a backward pass. Each switch is both a context manager and a decorator.

Examples:
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
    # Plain module-level flags: read on every operation, so they must be cheap (instance
    # attributes, set here, are the fastest to read). Like the rest of the engine, not thread-safe.
    def __init__(self) -> None:
        self.enabled = True
        self.anomaly = False  # detect_anomaly is on
        self.last_change = 0  # the stamp of the latest in-place change (graph creation count); 0: none yet


STATE = _GradState()


def is_grad_enabled() -> bool:
    """Whether operations currently record the graph."""
    return STATE.enabled


class set_grad_enabled:
    """Turn graph recording on or off: called as a function, inside a ``with`` block, or as a decorator.

    Calling ``set_grad_enabled(False)`` switches recording off at once (until it
    is switched on again); used with ``with`` or as a decorator, the previous
    setting is restored on exit, also when an exception escapes.

    Examples:
        >>> from tinygrad_mnist import Tensor, is_grad_enabled
        >>> _ = set_grad_enabled(False)
        >>> is_grad_enabled()
        False
        >>> _ = set_grad_enabled(True)
        >>> with set_grad_enabled(False):
        ...     is_grad_enabled()
        False
        >>> is_grad_enabled()
        True
    """

    def __init__(self, mode: bool = True) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self.mode = mode
        self._saved: list[bool] = []
        self._before: bool | None = None  # the setting replaced by calling set_grad_enabled(...) itself
        if type(self) is set_grad_enabled:
            self._before, STATE.enabled = STATE.enabled, mode

    def __enter__(self) -> None:
        before, self._before = self._before, None
        self._saved.append(STATE.enabled if before is None else before)
        STATE.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self._saved.pop()

    def _fresh(self) -> set_grad_enabled:
        return set_grad_enabled(self.mode)

    def __call__(self, fn: F) -> F:
        if self._before is not None:  # used as a decorator: the call itself must not leave the switch changed
            STATE.enabled, self._before = self._before, None

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):
    """Compute without recording a graph (inference, parameter updates).

    Examples:
        >>> from tinygrad_mnist import Tensor, no_grad
        >>> @no_grad()
        ... def predict(x):
        ...     return x * 3
        >>> predict(Tensor([1.0], requires_grad=True)).requires_grad
        False
    """

    def __init__(self) -> None:
        super().__init__(False)

    def _fresh(self) -> set_grad_enabled:
        return no_grad()


class enable_grad(set_grad_enabled):
    """Record the graph again, for example inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)

    def _fresh(self) -> set_grad_enabled:
        return enable_grad()


class inference_mode(set_grad_enabled):
    """Compute without recording: here the same as ``no_grad`` (``inference_mode(False)`` changes nothing).

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> with inference_mode():
        ...     y = Tensor([1.0], requires_grad=True) * 2
        >>> y.requires_grad
        False
    """

    def __init__(self, mode: bool = True) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode: mode must be a bool, got {type(mode).__name__}")
        super().__init__(not mode if type(self) is inference_mode else mode)
        self._inference = mode

    def __enter__(self) -> None:
        if self._inference:
            super().__enter__()
        else:  # inference_mode(False) leaves recording as it is
            self._saved.append(STATE.enabled)

    def _fresh(self) -> set_grad_enabled:
        return inference_mode(self._inference)
