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


def raises(fn: Case) -> Case:
    """Register a case that must raise, with PyTorch and with us."""
    CASES.append(Registered(fn, True, 0.0, 0.0))
    return fn
