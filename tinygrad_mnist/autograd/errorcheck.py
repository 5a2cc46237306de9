"""``check_gradients``: analytical derivatives against finite differences that carry their own error bound.

[`gradcheck`][tinygrad_mnist.autograd.gradcheck.gradcheck] compares with fixed tolerances
(PyTorch's ``atol=1e-5, rtol=1e-3``), so it lets through any gradient wrong by
less than about 0.1 %. Here each finite-difference derivative comes with an
estimate of its own error ([`finite_differences`][tinygrad_mnist.autograd.finite_differences]):
central differences along a ladder of steps, Richardson extrapolation, the
truncation error from the spread of the tableau and the rounding error
``eps * |f| / h``. An element fails when

    |analytical - numerical| > safety * estimated_error + atol

which in float64 is typically 1e-12 to 1e-9 relative on well-conditioned
functions, instead of 1e-3. Where a derivative is unresolved (or disagrees
with the analytical value) the ladder is continued to smaller steps, and a
resolved estimate there replaces it when the two contradict each other (a
function varying faster than the first steps). Points where the function is not differentiable
(a relu, abs, max or clamp kink at or within the smallest step of the point),
or where the extrapolation does not settle, are reported as *skipped*, never
as passed or failed.

Modes: ``"rev"`` checks the engine's reverse mode (VJPs); ``"fwd"`` checks
forward mode (JVPs, [`forward_ad`][tinygrad_mnist.autograd.forward_ad]) against the
same estimates and, with both, checks ``u . (J v) == (J^T u) . v``. With
``fast=True`` only ``u^T J v`` is checked, for random unit vectors u and v.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    >>> result = check_gradients(lambda t: (t.tanh() * t.exp()).sum(), x)
    >>> result.passed, result.checked, result.skipped
    (True, 3, 0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.grad_mode import no_grad
from ..core.graph import backward
from ..core.tensor import Tensor
from . import forward_ad
from .checkresult import ElementReport, GradientBoundError, GradientCheckResult, SkippedElement
from .finite_differences import BASE_STEP, EPS, STEP_RATIO, STEPS, Estimate, estimate, ladder
from .gradcheck import _differentiable_inputs as differentiable_inputs
from .gradcheck import _outputs as as_outputs
from .gradcheck import analytical_jacobians

__all__ = ["ElementReport", "GradientBoundError", "GradientCheckResult", "SkippedElement", "check_gradients"]

MODES = ("rev", "fwd")
ROUNDING_ULPS = 4.0  # the rounding error of one evaluation, in units of eps * |value|
REFINEMENTS = 2  # continuations of the ladder to smaller steps where the first one left a derivative unresolved


def _flat_outputs(fn: Callable[..., Any], args: tuple[Any, ...]) -> np.ndarray:
    with np.errstate(all="ignore"):
        outs = as_outputs(fn(*args))
        return np.concatenate([np.asarray(o.data, dtype=np.float64).ravel() for o in outs]) if outs else np.zeros(0)


def _unit(rng: np.random.Generator, size: int) -> np.ndarray:
    v = rng.standard_normal(size)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


class _Locator:
    """Output positions: a flat index into the concatenated outputs -> (output index, element)."""

    def __init__(self, outputs: tuple[Tensor, ...]) -> None:
        self.shapes = [o.shape for o in outputs]
        self.offsets = np.cumsum([0] + [int(np.prod(s, dtype=int)) for s in self.shapes])

    def __call__(self, flat: int) -> tuple[int, tuple[int, ...]]:
        o = int(np.searchsorted(self.offsets, flat, side="right") - 1)
        return o, tuple(int(i) for i in np.unravel_index(flat - int(self.offsets[o]), self.shapes[o]))


@dataclass
class _Settings:
    safety: float
    atol: float
    base: float
    steps: int
    consistency_rtol: float


class _Checker:
    """The state of one [`check_gradients`][tinygrad_mnist.autograd.errorcheck.check_gradients] call."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], names: list[str], settings: _Settings,
                 result: GradientCheckResult) -> None:
        self.fn, self.args, self.names, self.s, self.result = fn, args, names, settings, result

    def evaluate_along(self, i: int, direction: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray, float]:
        """fn's flat outputs at ``x_i + h d`` and ``x_i - h d``, and the step really taken (along d's
        largest component: ``x + h d`` is rounded)."""
        tensor = self.args[i]
        original = tensor.data
        k = int(np.argmax(np.abs(direction)))
        try:
            tensor.data = up = original + h * direction
            plus = _flat_outputs(self.fn, self.args)
            tensor.data = down = original - h * direction
            minus = _flat_outputs(self.fn, self.args)
        finally:
            tensor.data = original
        taken = float((up.flat[k] - original.flat[k]) + (original.flat[k] - down.flat[k])) / 2
        return plus, minus, taken / float(direction.flat[k])

    def ladder_estimate(self, i: int, direction: np.ndarray, f0: np.ndarray, scale: float,
                        extra_noise: float | np.ndarray = 0.0, weights: np.ndarray | None = None,
                        analytical: np.ndarray | None = None) -> Estimate:
        """The estimate along ``direction``; where it is unresolved (a kink or no convergence) or disagrees with
        ``analytical``, the ladder is continued to smaller steps, up to ``REFINEMENTS`` times, and a resolved
        estimate from smaller steps replaces it (a function varying faster than the steps can alias; a kink at
        the point stays one at every scale; a wrong derivative stays wrong)."""
        base = self.s.base
        best: Estimate | None = None
        for _ in range(REFINEMENTS + 1):
            est = self.one_ladder(i, direction, f0, scale, base, extra_noise, weights)
            if best is None:
                best = est
            else:
                usable = ~est.kink & est.converged
                # a disagreeing estimate is replaced only when the smaller steps contradict it (aliasing, or a
                # kink such as a tie that the larger steps straddle); a flat estimate (no change at any step)
                # only bounds the derivative by ``flat_below``
                contradicted = ~(np.abs(est.value - best.value) <= est.error + best.error + est.flat_below)
                take = usable & ((best.kink | ~best.converged) | (self.unresolved(best, analytical) & contradicted))
                best = Estimate(*(np.where(take, new, old) for new, old in zip(
                    (est.value, est.error, est.truncation, est.rounding, est.kink, est.converged, est.flat_below,
                     est.noise),
                    (best.value, best.error, best.truncation, best.rounding, best.kink, best.converged,
                     best.flat_below, best.noise),
                    strict=True)))
            if not self.unresolved(best, analytical).any():
                break
            base /= STEP_RATIO ** (self.s.steps - 2)
        assert best is not None
        return best

    def unresolved(self, est: Estimate, analytical: np.ndarray | None) -> np.ndarray:
        bad = est.kink | ~est.converged
        if analytical is not None:
            with np.errstate(invalid="ignore"):
                bad = bad | ~(np.abs(analytical - est.value) <= self.s.safety * est.error + self.s.atol)
        return bad

    def one_ladder(self, i: int, direction: np.ndarray, f0: np.ndarray, scale: float, base: float,
                   extra_noise: float | np.ndarray, weights: np.ndarray | None) -> Estimate:
        triples = [self.evaluate_along(i, direction, float(h)) for h in ladder(scale, base, self.s.steps, STEP_RATIO)]
        plus, minus = np.stack([p for p, _, _ in triples]), np.stack([m for _, m, _ in triples])
        steps = np.array([h for _, _, h in triples])
        magnitude = np.nanmax(np.abs(np.where(np.isfinite(plus), plus, 0.0)), axis=0)
        magnitude = np.maximum(magnitude, np.nanmax(np.abs(np.where(np.isfinite(minus), minus, 0.0)), axis=0))
        magnitude = np.maximum(magnitude, np.abs(f0))
        if weights is not None:  # a directional derivative of u . f
            plus, minus, f0 = plus @ weights, minus @ weights, np.atleast_1d(f0 @ weights)
            plus, minus = plus[:, None], minus[:, None]
            magnitude = np.atleast_1d(np.abs(weights) @ magnitude)
        noise = ROUNDING_ULPS * EPS * magnitude + extra_noise
        return estimate(f0, plus, minus, steps, noise, ratio=STEP_RATIO)

    def compare(self, i: int, element: tuple[int, ...], located: tuple[int, tuple[int, ...]],
                mode: str, analytical: float, est: Estimate, j: int, count: bool) -> None:
        """Compare one analytical derivative with estimate ``j``; ``count`` it once over the modes."""
        r = self.result
        o, out_el = located
        err, value = float(est.error[j]), float(est.value[j])
        reason = ("non-differentiable" if est.kink[j] else "not converged" if not est.converged[j]
                  else "flat (no change at any step)" if 0 < abs(analytical) < est.flat_below[j]
                  and abs(analytical - value) > self.s.safety * err + self.s.atol
                  else "imprecise (estimated error > 10% of the derivative)"
                  if err > 0.1 * max(abs(value), abs(analytical)) and max(abs(value), abs(analytical)) > self.s.atol
                  else "")
        if reason:
            if count:
                r.skipped += 1
                r.skips.append(SkippedElement(i, self.names[i], element, o, out_el, reason, mode.startswith("fast")))
            return
        r.checked += count
        report = ElementReport(i, self.names[i], element, o, out_el, mode, analytical, value, err,
                               self.s.safety * err + self.s.atol)
        previous = r.worst.get(self.names[i])
        if previous is None or report.ratio > previous.ratio:
            r.worst[self.names[i]] = report
        if report.ratio > 1:
            r.failures.append(report)

    def consistency(self, i: int, u: np.ndarray, v: np.ndarray, jv: np.ndarray, jtu: np.ndarray) -> None:
        left, right = float(u @ jv), float(jtu @ v)
        scale = float(np.abs(u) @ np.abs(jv) + np.abs(jtu) @ np.abs(v))
        rel = abs(left - right) / scale if scale > 0 else 0.0
        name = self.names[i]
        self.result.consistency[name] = rel
        if not rel <= self.s.consistency_rtol:
            self.result.consistency_failures.append(
                f"forward/reverse mismatch for {name}: u.(J v) = {left:.17g} but (J^T u).v = {right:.17g} "
                f"(relative difference {rel:.3g} > {self.s.consistency_rtol:.3g})")


def _vjp(outputs: tuple[Tensor, ...], wrt: list[Tensor], u: np.ndarray, locate: _Locator) -> list[np.ndarray]:
    """``J^T u`` with respect to each tensor of ``wrt`` (flat), ``u`` over the concatenated outputs."""
    total = [np.zeros(t.data.size) for t in wrt]
    for o, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        seed = u[locate.offsets[o]:locate.offsets[o + 1]].reshape(out.shape).astype(out.dtype)
        rows = backward((out,), (seed,), retain_graph=True, create_graph=False, inputs=wrt)
        assert rows is not None
        for k, (t, row) in enumerate(zip(wrt, rows, strict=True)):
            if row is not None:
                total[k] += np.broadcast_to(row.data, t.shape).ravel()
    return total


def _jvp(fn: Callable[..., Any], args: tuple[Any, ...], i: int, tangent: np.ndarray) -> np.ndarray:
    """``J v`` by forward mode, ``v`` a flat tangent of input ``i``; flat over the concatenated outputs."""
    x = args[i]
    with no_grad(), np.errstate(all="ignore"), forward_ad.dual_level():
        dual = forward_ad.make_dual(x.detach(), Tensor(tangent.reshape(x.shape).astype(x.dtype)))
        outs = as_outputs(fn(*args[:i], dual, *args[i + 1:]))
        parts = []
        for out in outs:
            t = forward_ad.unpack_dual(out).tangent
            parts.append(np.zeros(out.data.size) if t is None else np.broadcast_to(t.data, out.shape).ravel())
    return np.concatenate(parts) if parts else np.zeros(0)


def _selected(size: int, max_elements: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_elements is None or size <= max_elements:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_elements, replace=False))


def check_gradients(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    *,
    safety: float = 10.0,
    atol: float = 1e-12,
    modes: Sequence[str] = ("rev",),
    fast: bool = False,
    raise_exception: bool = True,
    max_elements: int | None = None,
    seed: int = 0,
    base_step: float = BASE_STEP,
    steps: int = STEPS,
    consistency_rtol: float = 1e-12,
    names: Sequence[str] | None = None,
) -> GradientCheckResult:
    """Check the derivatives of ``fn`` against error-bounded finite differences, in float64.

    Every float64 Tensor in ``inputs`` with ``requires_grad=True`` is checked
    (others pass through). For each input element (``fast=False``) or for one
    random unit direction per input and output (``fast=True``: ``u^T J v``), the
    derivative is estimated by central differences at ``steps`` steps from
    ``base_step * max(|x|, 1)`` down by factors of 4, extrapolated (Richardson),
    with an estimated error = truncation (spread of the tableau) + rounding
    (``eps * |f| / h`` per output element). A derivative fails when
    ``|analytical - numerical| > safety * error + atol``; kinks and unsettled
    extrapolations are skipped and listed in ``result.skips``.

    ``modes``: ``"rev"`` (reverse mode: one backward pass per output element),
    ``"fwd"`` (forward mode, one JVP per input element) or both; with both the
    identity ``u.(J v) == (J^T u).v`` is also checked to ``consistency_rtol``.
    ``max_elements`` caps the elements checked per input (a random subset drawn
    from ``seed``; fast mode ignores it); ``names`` names the inputs in reports.

    Returns a [`GradientCheckResult`][tinygrad_mnist.autograd.errorcheck.GradientCheckResult]; when it failed and
    ``raise_exception`` is True, raises [`GradientBoundError`][tinygrad_mnist.autograd.errorcheck.GradientBoundError]
    naming the
    input, the element, both values and the bound.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor(np.array([0.3, 1.7]), requires_grad=True)
        >>> bool(check_gradients(lambda t: (t.sin() @ t.exp()), x, modes=("rev", "fwd")))
        True
        >>> check_gradients(Tensor.relu, Tensor(np.array([0.0, 1.0]), requires_grad=True)).skips[0].describe()
        'non-differentiable at input 0 element (0,) (output 0 (0,))'
    """
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"check_gradients: modes must be a non-empty subset of {MODES}, got {tuple(modes)}")
    if safety <= 0 or atol < 0:
        raise ValueError(f"check_gradients: need safety > 0 and atol >= 0, got safety={safety}, atol={atol}")
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    chosen = differentiable_inputs(args)
    labels = [f"input {i}" for i in range(len(args))] if names is None else list(names)
    if len(labels) != len(args):
        raise ValueError(f"check_gradients: got {len(labels)} names for {len(args)} inputs")
    rng = np.random.default_rng(seed)
    result = GradientCheckResult(worst={labels[i]: None for i in chosen})
    checker = _Checker(fn, args, labels, _Settings(safety, atol, base_step, steps, consistency_rtol), result)
    outputs = as_outputs(fn(*args))
    locate = _Locator(outputs)
    with no_grad():
        f0 = _flat_outputs(fn, args)
    wrt = [args[i] for i in chosen]
    u = _unit(rng, f0.size)
    vs = {i: _unit(rng, args[i].data.size) for i in chosen}
    jtu = dict(zip(chosen, _vjp(outputs, wrt, u, locate), strict=True))
    both = "fwd" in modes and "rev" in modes
    if fast:
        with no_grad():
            for i in chosen:
                x = args[i].data
                # each element moves in proportion to its magnitude (a power of two), as in the full check
                w = vs[i] * 2.0 ** np.floor(np.log2(np.maximum(np.abs(x.ravel()), 1.0)))
                extra = ROUNDING_ULPS * EPS * float(np.abs(x).ravel() @ np.abs(jtu[i]))  # x + h w is rounded
                jv = _jvp(fn, args, i, w) if "fwd" in modes else None
                guess = np.array([float(jtu[i] @ w) if "rev" in modes else float(u @ jv)])
                est = checker.ladder_estimate(i, w.reshape(x.shape), f0, 1.0, extra, weights=u, analytical=guess)
                if "rev" in modes:
                    checker.compare(i, (), (0, ()), "fast rev", float(jtu[i] @ w), est, 0, True)
                if jv is not None:
                    checker.compare(i, (), (0, ()), "fast fwd", float(u @ jv), est, 0, not both)
                    if both:
                        checker.consistency(i, u, w, jv, jtu[i])
    else:
        jac = analytical_jacobians(outputs, args, chosen) if "rev" in modes else {}
        for i in chosen:
            x = args[i].data
            shape = x.shape
            rev = np.concatenate([jac[(o, i)] for o in range(len(outputs))]) if jac else None
            for k in _selected(x.size, max_elements, rng):
                element = tuple(int(v) for v in np.unravel_index(int(k), shape))
                direction = np.zeros(x.size)
                direction[k] = 1.0
                fwd = _jvp(fn, args, i, direction) if "fwd" in modes else None
                column = rev[:, k] if rev is not None else fwd
                with no_grad():
                    est = checker.ladder_estimate(i, direction.reshape(shape), f0, abs(float(x.flat[k])),
                                                  analytical=column)
                for m in range(f0.size):
                    if rev is not None:
                        checker.compare(i, element, locate(m), "rev", float(rev[m, k]), est, m, True)
                    if fwd is not None:
                        checker.compare(i, element, locate(m), "fwd", float(fwd[m]), est, m, rev is None)
            if both:
                checker.consistency(i, u, vs[i], _jvp(fn, args, i, vs[i]), jtu[i])
    result.passed = not result.failures and not result.consistency_failures
    if not result.passed and raise_exception:
        if result.failures:
            worst = max(result.failures, key=lambda r: r.ratio)
            raise GradientBoundError(
                f"check_gradients: {len(result.failures)} derivative(s) outside their error bound; worst: "
                f"{worst.describe()}", worst)
        raise GradientBoundError("check_gradients: " + "; ".join(result.consistency_failures),
                                 ElementReport(0, labels[chosen[0]], (), 0, (), "consistency", np.nan, np.nan,
                                               np.nan, 0.0))
    return result
