"""The optional compiled kernels: whether they are used, and the switch.

With numba installed (``pip install -e ".[fast]"``), the memory-bound loops of
convolution and pooling (stride-1 im2col, col2im, the NCHW copy with the bias, 2x2
max-pooling and its gradient) run compiled, from
``tinygrad_mnist.core.kernel_loops``; the numpy code of
``tinygrad_mnist.core.kernels`` stays the reference and the fallback, and the
tests run both and compare them. Without numba nothing changes but the speed.

numba is imported on the first convolution or pooling, not with the package.
Set the environment variable ``TINYGRAD_MNIST_ACCELERATOR=0`` to run numpy only,
or switch inside a program:

Examples:
    >>> from tinygrad_mnist.core import accelerator
    >>> with accelerator.disabled():
    ...     accelerator.kernels() is None
    True
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from . import kernel_loops

ENVIRONMENT_VARIABLE = "TINYGRAD_MNIST_ACCELERATOR"
_OFF = ("0", "off", "false", "no")
# numba's options: compiled code cached on disk beside kernel_loops.py (or in numba's user cache when that is
# read-only), so the compile happens once per installation and dtype; no threads of numba's own, which would
# fight OpenBLAS's (they keep spinning for a while after each matrix product)
_state: dict[str, SimpleNamespace | bool | None] = {"compiled": None, "tried": False, "on": None}

__all__ = ["ENVIRONMENT_VARIABLE", "available", "disabled", "kernels", "switched_on"]


def _load() -> SimpleNamespace | None:
    """The compiled loops (compiled on first use), once; None when numba is missing or broken."""
    if not _state["tried"]:
        _state["tried"] = True
        try:
            import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:  # numba (or its llvmlite) is not installed, or does not match this numpy
            return None
        compile_loop = numba.njit(cache=True, nogil=True, error_model="numpy")
        _state["compiled"] = SimpleNamespace(**{name: compile_loop(getattr(kernel_loops, name))
                                                for name in kernel_loops.LOOPS})
    compiled = _state["compiled"]
    return compiled if isinstance(compiled, SimpleNamespace) else None


def available() -> bool:
    """Whether numba is installed and the compiled kernels load (imports numba the first time).

    Examples:
        >>> isinstance(available(), bool)
        True
    """
    return _load() is not None


def kernels() -> SimpleNamespace | None:
    """The compiled loops (by name, as in ``kernel_loops``) when available and switched on, else None.

    On unless ``TINYGRAD_MNIST_ACCELERATOR`` is 0/off/false/no or inside
    [`disabled`][tinygrad_mnist.core.accelerator.disabled].

    Examples:
        >>> compiled = kernels()
        >>> compiled is None or hasattr(compiled, "col2im")
        True
    """
    return _load() if switched_on() else None


def switched_on() -> bool:
    """Whether the switch asks for the compiled loops (``TINYGRAD_MNIST_ACCELERATOR`` and
    [`disabled`][tinygrad_mnist.core.accelerator.disabled]); numba is not imported to answer.

    Examples:
        >>> with disabled():
        ...     switched_on()
        False
    """
    on = _state["on"]
    if on is None:
        return os.environ.get(ENVIRONMENT_VARIABLE, "1").strip().lower() not in _OFF
    return bool(on)


@contextmanager
def disabled() -> Iterator[None]:
    """Run the numpy kernels only, inside the ``with`` block (not thread-safe: a process-wide switch).

    Examples:
        >>> with disabled():
        ...     kernels() is None
        True
    """
    previous = _state["on"]
    _state["on"] = False
    try:
        yield
    finally:
        _state["on"] = previous
