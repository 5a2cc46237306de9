"""Central differences with an error estimate: a ladder of steps, Richardson extrapolation, kink detection.

The estimator behind [`tinygrad_mnist.autograd.errorcheck`][tinygrad_mnist.autograd.errorcheck]. It sees only
numbers: the function's values at ``x``, at ``x + h_j`` and at ``x - h_j`` for
a decreasing ladder of steps ``h_j``, vectorised over the output elements.

* ``D_j = (f(x + h_j) - f(x - h_j)) / (2 h_j)`` has the error series
  ``c1 h^2 + c2 h^4 + ...``; Richardson extrapolation over the ladder removes
  those terms one by one (the tableau ``T[m][j]``).
* The *truncation* error of an entry is estimated from its distance to the
  entries of the level below and to its neighbour on its own level (Ridders'
  rule, made a little more conservative); the *rounding* error is the noise of
  one evaluation (a few ulps of the function's magnitude) divided by the step,
  carried through the extrapolation with the absolute values of its weights.
* The estimate reported for each output element is the entry of the tableau
  with the smallest total (truncation + rounding) error.
* A kink (relu, abs, max, clamp at the point) shows as one-sided quotients
  that disagree by a jump that does not shrink with the step, where for a
  smooth function ``(f(x+h) - 2 f(x) + f(x-h)) / h = f''(x) h`` shrinks with h
  (and rounding noise makes it grow like 1/h).

Examples:
    >>> import numpy as np
    >>> h = ladder(1.0, 1.0)
    >>> x = 0.5
    >>> est = estimate(np.array([np.sin(x)]), np.sin(x + h)[:, None], np.sin(x - h)[:, None], h,
    ...                noise=np.array([2.2e-16]))
    >>> bool(abs(est.value[0] - np.cos(x)) < est.error[0] < 1e-9), bool(est.kink[0])
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)
# Neither the base step nor the ratio is a power of two: scaling a perturbation by a power of two is exact in
# binary floating point, so with dyadic steps a function's rounding errors scale with the step and successive
# central differences can agree exactly while being wrong alike (a false "converged").
BASE_STEP = 0.0123  # the largest step, for an input of magnitude <= 1
STEP_RATIO = 3.7  # each step is this much smaller than the previous one
STEPS = 6  # 0.0123 ... 1.8e-5 for an input of magnitude <= 1

__all__ = ["BASE_STEP", "EPS", "STEPS", "STEP_RATIO", "Estimate", "estimate", "ladder"]


@dataclass(frozen=True)
class Estimate:
    """One derivative estimate per output element, with its estimated error and diagnostics.

    ``value``: the best extrapolated central difference; ``error``: its
    estimated absolute error (truncation + rounding); ``truncation`` and
    ``rounding``: the two parts; ``kink``: True where the one-sided quotients
    disagree (not differentiable at, or within the smallest step of, the point);
    ``converged``: False where the extrapolation did not settle; ``flat_below``:
    where ``f(x + h) == f(x - h)`` exactly at every step, the derivative magnitude
    under which that flatness proves nothing (an intermediate value may have
    absorbed the change), else 0; ``noise``: the rounding error assumed for one
    evaluation (the larger of the one given and the one seen in the values).
    """

    value: np.ndarray
    error: np.ndarray
    truncation: np.ndarray
    rounding: np.ndarray
    kink: np.ndarray
    converged: np.ndarray
    flat_below: np.ndarray
    noise: np.ndarray


def ladder(scale: float, base: float = BASE_STEP, steps: int = STEPS, ratio: float = STEP_RATIO) -> np.ndarray:
    """The decreasing steps ``base * ratio**-j``, times the power of two at or below ``max(scale, 1)``.

    ``x + h`` is rounded; callers divide by the step really taken, ``(x + h) - x``.

    Examples:
        >>> ladder(3.0, base=0.01, ratio=4.0, steps=3).tolist()
        [0.02, 0.005, 0.00125]
    """
    if steps < 3:
        raise ValueError(f"ladder: at least 3 steps are needed for an error estimate, got {steps}")
    magnitude = 2.0 ** np.floor(np.log2(max(float(scale), 1.0)))
    return magnitude * base * ratio ** -np.arange(steps, dtype=np.float64)


def estimate(
    f0: np.ndarray, plus: np.ndarray, minus: np.ndarray, steps: np.ndarray, noise: np.ndarray,
    *, ratio: float = STEP_RATIO, kink_safety: float = 100.0, converge_rtol: float = 1e-3,
) -> Estimate:
    """The derivative of each output element from its values along the ladder.

    ``f0`` has shape ``(M,)`` (the values at x), ``plus`` and ``minus`` shape
    ``(N, M)`` (the values at ``x + steps[j]`` and ``x - steps[j]``), ``noise``
    shape ``(M,)``: the absolute rounding error of one evaluation. Values that
    are not finite (a pole or a domain edge within a step) make every entry that
    uses them unusable (infinite error).

    Examples:
        >>> import numpy as np
        >>> h = ladder(1.0)
        >>> est = estimate(np.zeros(1), np.abs(h)[:, None], np.abs(-h)[:, None], h, noise=np.zeros(1))
        >>> bool(est.kink[0])       # |x| at 0
        True
    """
    n = len(steps)
    with np.errstate(all="ignore"):
        # the noise actually seen: second differences at the three smallest steps combined so that the f'' h^2 and
        # h^4 terms cancel (for step ratio 4) leave the rounding noise of the evaluations, which the model
        # eps * |f| underestimates when an intermediate value is much larger than the output (cancellation)
        d2 = plus[-3:] - 2 * f0 + minus[-3:]
        r2 = ratio ** 2  # weights (1, b, c) of the steps h, r h, r^2 h with 1 + b r^2k + c r^4k = 0 for k = 1, 2
        b, c = np.linalg.solve(np.array([[r2, r2 ** 2], [r2 ** 2, r2 ** 4]]), -np.ones(2))
        seen = np.abs(d2[2] + b * d2[1] + c * d2[0]) / 4
        model_noise, noise = noise, np.maximum(noise, np.where(np.isfinite(seen), seen, 0.0))
        # a quantised output (a small value computed from much larger ones): the central difference is exactly
        # zero at the smallest step and not at larger ones, so the output moves in quanta of about the smallest
        # change seen
        same = plus == minus
        changes = np.where(same | ~np.isfinite(plus - minus), np.inf, np.abs(plus - minus))
        quantum = np.min(changes, axis=0) / 2
        noise = np.maximum(noise, np.where(same[-1] & np.isfinite(quantum), quantum, 0.0))
        central = (plus - minus) / (2 * steps[:, None])
        round_d = np.broadcast_to(noise / steps[:, None], central.shape).astype(np.float64)
        bad = ~np.isfinite(central)
        central = np.where(bad, 0.0, central)
        round_d = np.where(bad, np.inf, round_d)
        levels, rounds = [central], [round_d]
        best = np.full(f0.shape, np.nan)
        best_err = np.full(f0.shape, np.inf)
        best_trunc = np.full(f0.shape, np.inf)
        best_round = np.full(f0.shape, np.inf)
        for m in range(1, n):
            factor = ratio ** (2 * m)
            low, low_round = levels[-1], rounds[-1]
            level = (factor * low[1:] - low[:-1]) / (factor - 1)
            level_round = (factor * low_round[1:] + low_round[:-1]) / (factor - 1)
            trunc = np.maximum(np.abs(level - low[:-1]), np.abs(level - low[1:]))
            if level.shape[0] > 1:  # the neighbour on the same level, a smaller step
                neighbour = np.abs(level[:-1] - level[1:])
                trunc[:-1] = np.maximum(trunc[:-1], neighbour)
            total = trunc + level_round
            total = np.where(np.isfinite(total), total, np.inf)
            pick = np.argmin(total, axis=0)
            cols = np.arange(f0.shape[0])
            better = total[pick, cols] < best_err
            best = np.where(better, level[pick, cols], best)
            best_err = np.where(better, total[pick, cols], best_err)
            best_trunc = np.where(better, trunc[pick, cols], best_trunc)
            best_round = np.where(better, level_round[pick, cols], best_round)
            levels.append(level)
            rounds.append(level_round)
        # one-sided quotients at the three smallest steps: a jump that stays the same as h shrinks is a kink
        # (smooth: it shrinks with h; rounding noise: it grows like 1/h)
        jumps = np.abs(plus[-3:] - 2 * f0 + minus[-3:]) / steps[-3:, None]
        jump_noise = 4 * model_noise / steps[-1]  # a kink's jump, linear in h, would pass for noise in `seen`
        steady = (np.abs(jumps[2] - jumps[1]) <= 0.25 * jumps[2]) & (np.abs(jumps[1] - jumps[0]) <= 0.25 * jumps[1])
        kink = steady & (jumps[2] > kink_safety * jump_noise)
        kink |= ~np.isfinite(jumps[2]) & np.isfinite(f0)
        scale = np.abs(np.nan_to_num(best))
        converged = np.isfinite(best_err) & (best_trunc <= converge_rtol * scale + 1e3 * best_round + 1e-300)
        flat = np.all(plus == minus, axis=0)
        flat_below = np.where(flat, np.sqrt(EPS) * np.maximum(np.abs(f0), 1.0) / steps[0], 0.0)
    return Estimate(best, best_err, best_trunc, best_round, kink, converged, flat_below, noise)
