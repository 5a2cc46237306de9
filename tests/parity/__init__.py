"""Differential cases: each written once against a namespace ``T`` and run with PyTorch and with us.

A case is a function of ``T`` (``torch`` or ``tinygrad_mnist``) that builds its
inputs from plain numbers or numpy arrays with ``T.tensor(...)`` and returns
what to compare: tensors (values), their ``.grad`` (gradients), numbers, tuples,
lists or dicts of those. ``@case`` registers it; ``@raises`` registers a case
whose call must raise in both (PyTorch raises, so must we: never a different
answer). ``tests/test_torch_parity.py`` runs every registered case.

The case modules of this package group the cases by area of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Case = Callable[[Any], Any]


@dataclass(frozen=True)
class Registered:
    fn: Case
    must_raise: bool
    rtol: float
    atol: float

    @property
    def name(self) -> str:
        return f"{self.fn.__module__.rsplit('.', 1)[-1]}.{self.fn.__name__}"


CASES: list[Registered] = []


def case(fn: Case | None = None, *, rtol: float = 1e-10, atol: float = 1e-12) -> Any:
    """Register a case whose results must agree (float64 tolerances by default)."""
    def register(f: Case) -> Case:
        CASES.append(Registered(f, False, rtol, atol))
        return f
    return register(fn) if fn is not None else register


def weighted(T: Any, y: Any) -> Any:
    """A scalar of ``y`` whose gradient tells every element of ``y`` apart (weights 1, 2, 3, ...)."""
    return (y * T.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)), dtype=T.float64)).sum()


def value_and_grad(T: Any, f: Case, array: Any) -> tuple[Any, Any]:
    """``f`` of a float64 leaf made from ``array``, and that leaf's gradient through :func:`weighted`."""
    x = T.tensor(array, dtype=T.float64, requires_grad=True)
    y = f(x)
    weighted(T, y).backward()
    return y, x.grad


def raises(fn: Case) -> Case:
    """Register a case that must raise, with PyTorch and with us."""
    CASES.append(Registered(fn, True, 0.0, 0.0))
    return fn
