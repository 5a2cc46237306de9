"""What [`check_gradients`][tinygrad_mnist.autograd.check_gradients] reports: each compared derivative, each skipped
one,
the whole result, and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .gradcheck import GradcheckError

__all__ = ["ElementReport", "GradientBoundError", "GradientCheckResult", "SkippedElement"]


@dataclass(frozen=True)
class ElementReport:
    """One compared derivative: where it is, both values, the estimated error and ``ratio``.

    ``ratio = |analytical - numerical| / bound`` with ``bound = safety * error +
    atol``: the comparison fails when it exceeds 1. ``input_element`` is ``()``
    and ``output_element`` is ``()`` in fast mode (a directional derivative, ``mode`` ``"fast rev"`` or
    ``"fast fwd"``) and for 0-d tensors.
    """

    input_index: int
    input_name: str
    input_element: tuple[int, ...]
    output_index: int
    output_element: tuple[int, ...]
    mode: str
    analytical: float
    numerical: float
    error: float
    bound: float

    @property
    def ratio(self) -> float:
        diff = abs(self.analytical - self.numerical)
        return float("inf") if not np.isfinite(diff) else diff / self.bound if self.bound > 0 else (
            float("inf") if diff > 0 else 0.0)

    def describe(self) -> str:
        """One line: where, both values, the difference and the bound."""
        where = "u^T J v" if self.mode.startswith("fast") else (
            f"element {self.input_element} (output {self.output_index} element {self.output_element})")
        return (f"{self.input_name} {where} [{self.mode}]: analytical {self.analytical:.17g}, numerical "
                f"{self.numerical:.17g} (estimated error {self.error:.3g}); |difference| "
                f"{abs(self.analytical - self.numerical):.3g} vs bound {self.bound:.3g} (ratio {self.ratio:.3g})")


@dataclass(frozen=True)
class SkippedElement:
    """A derivative that could not be checked, and why (``"non-differentiable"`` or ``"not converged"``)."""

    input_index: int
    input_name: str
    input_element: tuple[int, ...]
    output_index: int
    output_element: tuple[int, ...]
    reason: str
    fast: bool = False

    def describe(self) -> str:
        """E.g. ``non-differentiable at input 0 element (2,)``."""
        where = "u^T J v" if self.fast else f"element {self.input_element}"
        return f"{self.reason} at {self.input_name} {where} (output {self.output_index} {self.output_element})"


@dataclass
class GradientCheckResult:
    """What [`check_gradients`][tinygrad_mnist.autograd.check_gradients] found: ``passed``, each input's worst element,
    counts and skips.

    ``worst[name]`` is the comparison with the largest ratio for that input
    (None when nothing of it could be checked); ``failures`` every comparison
    over its bound; ``checked`` and ``skipped`` count derivatives (Jacobian
    entries, or directional derivatives in fast mode) per mode;
    ``consistency`` the relative ``u.(Jv)`` vs ``(J^T u).v`` discrepancy of each
    input when both modes ran. A result is truthy when it passed.
    """

    passed: bool = True
    worst: dict[str, ElementReport | None] = field(default_factory=dict)
    failures: list[ElementReport] = field(default_factory=list)
    skips: list[SkippedElement] = field(default_factory=list)
    checked: int = 0
    skipped: int = 0
    consistency: dict[str, float] = field(default_factory=dict)
    consistency_failures: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        """A readable multi-line report.

        Examples:
            >>> import numpy as np
            >>> from tinygrad_mnist import Tensor
            >>> from tinygrad_mnist.autograd import check_gradients
            >>> print(check_gradients(Tensor.abs, Tensor(np.array([0.0, 2.0]), requires_grad=True)).summary())
            passed: 3 derivatives checked, 1 skipped, 0 over their bound
              worst of input 0: input 0 element (0,) (output 0 element (1,)) [rev]: analytical 0, numerical 0 ...
              non-differentiable at input 0 element (0,) (output 0 (0,))
        """
        head = (f"{'passed' if self.passed else 'FAILED'}: {self.checked} derivatives checked, "
                f"{self.skipped} skipped, {len(self.failures)} over their bound")
        lines = [head]
        for name, report in self.worst.items():
            lines.append(f"  worst of {name}: " + (report.describe() if report else "nothing checked"))
        lines += ["  " + s.describe() for s in self.skips[:10]]
        if len(self.skips) > 10:
            lines.append(f"  ... and {len(self.skips) - 10} more skipped")
        lines += ["  " + c for c in self.consistency_failures]
        return "\n".join(lines)


class GradientBoundError(GradcheckError):
    """An analytical derivative lies outside the finite-difference estimate's error bound."""

    def __init__(self, message: str, report: ElementReport) -> None:
        super().__init__(message, input_index=report.input_index, output_index=report.output_index,
                         input_element=report.input_element, output_element=report.output_element,
                         analytical=report.analytical, numerical=report.numerical)
        self.report = report
        self.bound = report.bound
        self.error_estimate = report.error
