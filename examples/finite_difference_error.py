"""How large should the finite-difference step be? Error against the exact gradient.

A finite difference replaces a derivative by a difference quotient with a step
``eps``. Two errors pull the best ``eps`` in opposite directions:

* truncation error, from the Taylor terms the quotient ignores. It shrinks with
  the step: like ``eps`` for the forward difference ``(f(x + eps) - f(x)) / eps``
  and like ``eps**2`` for the central difference
  ``(f(x + eps) - f(x - eps)) / (2 eps)``;
* rounding error. ``f`` is only computed to about ``u |f|``, where ``u`` is the
  machine epsilon of the dtype (2.2e-16 in float64, 1.2e-7 in float32), and
  dividing the difference of two such values by ``eps`` magnifies that to about
  ``u / eps``. It grows as the step shrinks. (Rounding ``x + eps`` to the dtype
  is an error of the same size and is part of this term.)

Balancing ``eps`` against ``u / eps`` puts the best forward step near
``u**(1/2)``; balancing ``eps**2`` against ``u / eps`` puts the best central step
near ``u**(1/3)``, with a much smaller error there (about ``u**(2/3)`` instead of
``u**(1/2)``). The constants depend on ``f`` and its derivatives, so the measured
optimum sits within a small factor of these estimates.

The test function is ``f(x) = sum(x * exp(tanh(x)))`` at eight fixed points. Its
exact gradient comes from the engine (``autograd.grad``) in float64 and is
checked against the closed form ``exp(tanh x) * (1 + x * (1 - tanh(x)**2))``.
The finite differences perturb one coordinate at a time and evaluate ``f`` on
float32 or float64 Tensors; the points are float32 numbers, so both dtypes
differentiate at exactly the same ``x`` and the float64 gradient is the
reference for both. Each table entry is the relative error
``||g_fd - g|| / ||g||`` over the eight coordinates. In float32, steps
below about 1e-7 are lost entirely for ``|x|`` near 1 (``x + eps`` rounds back to
``x``): the quotient is zero and the error is 1.

    python examples/finite_difference_error.py                # half-decade steps 1e-1 .. 1e-12
    python examples/finite_difference_error.py --quick        # one step per decade
    python examples/finite_difference_error.py --plot         # also writes finite_difference_error.png
    python examples/finite_difference_error.py --plot errors.png --json errors.json

``--plot`` needs matplotlib (it is skipped with a message otherwise); ``--json``
writes the table, the best step per method and dtype and the theoretical
optima, for scripts and tests.
"""

from __future__ import annotations

import argparse
import json
from typing import Callable

import numpy as np

from tinygrad_mnist import Tensor, autograd, no_grad

DTYPES = (np.float32, np.float64)
METHODS = ("forward", "central")
COLUMNS = [(method, np.dtype(dtype).name) for dtype in DTYPES for method in METHODS]
DEFAULT_PLOT = "finite_difference_error.png"


def f(x: Tensor) -> Tensor:
    """The smooth test function: sum(x * exp(tanh(x)))."""
    return (x * x.tanh().exp()).sum()


def closed_form_gradient(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return np.exp(t) * (1 + x * (1 - t * t))


def test_points() -> np.ndarray:
    """Eight points in [-2, 2], rounded to float32 so both dtypes see the same x."""
    return np.linspace(-2.0, 2.0, 8).astype(np.float32).astype(np.float64)


def exact_gradient(x: np.ndarray) -> np.ndarray:
    """The engine's gradient of f at x, in float64."""
    leaf = Tensor(x.astype(np.float64), requires_grad=True)
    (g,) = autograd.grad(f(leaf), leaf)
    assert g is not None
    return g.data


def finite_difference(fn: Callable[[Tensor], Tensor], x: np.ndarray, eps: float, method: str) -> np.ndarray:
    """The gradient of ``fn`` at ``x`` by forward or central differences, in x's dtype.

    Only the evaluations of ``fn`` are in x's dtype; the quotient is formed in
    float64 so that it adds no rounding of its own.
    """

    def value(point: np.ndarray) -> float:
        return float(fn(Tensor(point)).data)

    with no_grad():
        centre = value(x) if method == "forward" else 0.0
        grad = np.empty(x.size)
        for k in range(x.size):
            point = x.copy()
            point[k] = x[k] + eps  # rounded to x's dtype, as any caller's code would be
            plus = value(point)
            if method == "forward":
                grad[k] = (plus - centre) / eps
            else:
                point[k] = x[k] - eps
                grad[k] = (plus - value(point)) / (2 * eps)
    return grad


def step_sizes(quick: bool) -> np.ndarray:
    """1e-1 .. 1e-12: one step per decade with ``quick``, else two (half-decades)."""
    per_decade = 1 if quick else 2
    return 10.0 ** (-np.arange(per_decade, 12 * per_decade + 1) / per_decade)


def theoretical_optima() -> dict[str, dict[str, float]]:
    out = {}
    for dtype in DTYPES:
        u = float(np.finfo(dtype).eps)
        out[np.dtype(dtype).name] = {"machine_eps": u, "forward": u ** 0.5, "central": u ** (1 / 3)}
    return out


def measure(eps_values: np.ndarray) -> dict[str, list[float]]:
    """Relative error of each method and dtype at each step, keyed "method dtype"."""
    x = test_points()
    exact = exact_gradient(x)
    norm = float(np.linalg.norm(exact))
    errors: dict[str, list[float]] = {f"{m} {d}": [] for m, d in COLUMNS}
    for eps in eps_values:
        for method, dtype_name in COLUMNS:
            approx = finite_difference(f, x.astype(dtype_name), float(eps), method)
            errors[f"{method} {dtype_name}"].append(float(np.linalg.norm(approx - exact)) / norm)
    return errors


def best_steps(eps_values: np.ndarray, errors: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    best = {}
    for key, column in errors.items():
        i = int(np.argmin(column))
        best[key] = {"eps": float(eps_values[i]), "error": column[i]}
    return best


def print_report(eps_values: np.ndarray, errors: dict[str, list[float]], best: dict[str, dict[str, float]],
                 theory: dict[str, dict[str, float]], closed_form_gap: float) -> None:
    print("f(x) = sum(x * exp(tanh(x))) at 8 points in [-2, 2]")
    print("exact gradient: autograd.grad in float64; "
          f"max |autograd - closed form| = {closed_form_gap:.1e}")
    print()
    print("relative error ||g_fd - g|| / ||g||")
    header = f"{'eps':>8}" + "".join(f"{m + ' ' + d.replace('float', 'f'):>14}" for m, d in COLUMNS)
    print(header)
    for i, eps in enumerate(eps_values):
        row = "".join(f"{errors[f'{m} {d}'][i]:>14.2e}" for m, d in COLUMNS)
        print(f"{eps:>8.0e}{row}" if np.log10(eps) % 1 == 0 else f"{eps:>8.1e}{row}")
    print()
    print("theory: the best step is near u^(1/2) for forward and u^(1/3) for central differences")
    for name, t in theory.items():
        print(f"  {name}: u = {t['machine_eps']:.2e}   u^(1/2) = {t['forward']:.1e}   "
              f"u^(1/3) = {t['central']:.1e}")
    print()
    print("summary:")
    for dtype_name in theory:
        fwd, cen = best[f"forward {dtype_name}"], best[f"central {dtype_name}"]
        print(f"  {dtype_name}: central differences reach {cen['error']:.1e} (at eps {cen['eps']:.1e}), "
              f"forward only {fwd['error']:.1e} (at eps {fwd['eps']:.1e})")
    f64 = errors["central float64"]
    print(f"  float64 at eps {eps_values[-1]:.0e}: rounding dominates, central error {f64[-1]:.1e}, "
          f"{f64[-1] / best['central float64']['error']:.0e} times its best")
    print()
    print("best: method dtype eps error")
    for key, b in best.items():
        print(f"best: {key} {b['eps']:.3e} {b['error']:.3e}")


def save_plot(path: str, eps_values: np.ndarray, errors: dict[str, list[float]],
              theory: dict[str, dict[str, float]]) -> None:
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is not installed; no plot written to {path}")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    colours = {"float32": "tab:orange", "float64": "tab:blue"}
    for method, dtype_name in COLUMNS:
        ax.loglog(eps_values, errors[f"{method} {dtype_name}"], marker="o" if method == "central" else "s",
                  linestyle="-" if method == "central" else "--", color=colours[dtype_name],
                  label=f"{method}, {dtype_name}")
        ax.axvline(theory[dtype_name][method], color=colours[dtype_name], alpha=0.3,
                   linestyle="-" if method == "central" else "--")
    ax.set_xlabel("step eps")
    ax.set_ylabel("relative error of the gradient")
    ax.set_title("Finite differences: truncation (left) vs rounding (right)\n"
                 "faint lines: u^(1/3) (solid, central) and u^(1/2) (dashed, forward)")
    ax.invert_xaxis()
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one step per decade instead of two")
    parser.add_argument("--plot", nargs="?", const=DEFAULT_PLOT, metavar="PATH",
                        help=f"save a log-log plot (default path {DEFAULT_PLOT}); needs matplotlib")
    parser.add_argument("--json", metavar="PATH", help="write the measurements as JSON")
    args = parser.parse_args(argv)

    eps_values = step_sizes(args.quick)
    x = test_points()
    closed_form_gap = float(np.max(np.abs(exact_gradient(x) - closed_form_gradient(x))))
    errors = measure(eps_values)
    best = best_steps(eps_values, errors)
    theory = theoretical_optima()
    print_report(eps_values, errors, best, theory, closed_form_gap)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"eps": eps_values.tolist(), "errors": errors, "best": best, "theory": theory,
                       "closed_form_gap": closed_form_gap}, fh, indent=2)
            fh.write("\n")
    if args.plot:
        save_plot(args.plot, eps_values, errors, theory)


if __name__ == "__main__":
    main()
