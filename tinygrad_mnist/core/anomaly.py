"""``detect_anomaly``: stop at the first operation whose value or gradient is nan or inf.

Inside the context every operation remembers where in the user's code it was
called; a forward that turns finite inputs into nan or inf, or a backward step
that produces a non-finite gradient, raises [`AnomalyError`][tinygrad_mnist.autograd.AnomalyError] naming the
primitive and that ``file:line``. Outside it, the engine pays one flag check.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.array([1.0, 0.0]), requires_grad=True)
    >>> with np.errstate(divide="ignore"), detect_anomaly():
    ...     y = x.log()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tinygrad_mnist.core.anomaly.AnomalyError: forward of log produced -inf from finite inputs, at ...
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, TypeVar

import numpy as np

from .grad_mode import STATE

F = TypeVar("F", bound=Callable[..., Any])
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # all of tinygrad_mnist


class AnomalyError(RuntimeError):
    """A value or gradient became nan or inf inside ``detect_anomaly``."""


class detect_anomaly:
    """Context manager (and decorator) that checks every forward and backward step for nan/inf."""

    def __init__(self) -> None:
        self._saved: list[bool] = []  # a stack, so one instance can be entered while already active

    def __enter__(self) -> None:
        self._saved.append(STATE.anomaly)
        STATE.anomaly = True

    def __exit__(self, *exc: object) -> None:
        STATE.anomaly = self._saved.pop()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def creation_site() -> str:
    """``file:line`` of the innermost caller outside this package."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return "<unknown>" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _describe(values: np.ndarray) -> str:
    kinds = [name for name, present in (("nan", np.isnan(values).any()), ("inf", np.isposinf(values).any()),
                                        ("-inf", np.isneginf(values).any())) if present]
    return "/".join(kinds)


def check_forward(name: str, inputs: Sequence[np.ndarray], out: np.ndarray, site: str) -> None:
    bad = out.dtype.kind == "f" and not np.isfinite(out).all()
    if bad and all(a.dtype.kind != "f" or np.isfinite(a).all() for a in inputs):  # not inherited from an input
        raise AnomalyError(f"forward of {name} produced {_describe(out)} from finite inputs, at {site}")


def check_gradient(name: str, index: int, grad: np.ndarray, site: str | None) -> None:
    if grad.dtype.kind == "f" and not np.isfinite(grad).all():
        raise AnomalyError(
            f"backward of {name} produced {_describe(grad)} in the gradient for its input {index}; "
            f"the {name} was called at {site or '<not recorded: created outside detect_anomaly>'}"
        )
