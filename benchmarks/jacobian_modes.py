"""Forward against reverse mode: the time of a full Jacobian by ``func.jacfwd`` and by ``func.jacrev``.

Run from the repository root:

    python -m benchmarks.jacobian_modes            # the grid below (about half a minute)
    python -m benchmarks.jacobian_modes --quick    # a smoke run

For f: R^n -> R^m, ``f(x) = tanh(W2 tanh(W1 x))`` with W1 (h, n) and W2 (m, h),
h = 64, float64. ``jacfwd`` pushes one tangent per input coordinate (n forward
passes), ``jacrev`` pulls one cotangent per output coordinate (m backward
passes over one retained graph), so forward mode should win when n < m and
reverse mode when m < n. Each cell is the best of several runs, the two modes
alternating; the ratio jacfwd / jacrev below 1 means forward mode is faster.
The two Jacobians are checked to agree before anything is timed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:
    import tinygrad_mnist as tm
except ImportError:  # run as a file from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_mnist as tm

from benchmarks import best_times
from tinygrad_mnist import func

HIDDEN = 64
SIZES = (4, 16, 64, 256)


def problem(n: int, m: int, seed: int = 0) -> tuple[tm.Tensor, object]:
    rng = np.random.default_rng(seed)
    w1 = tm.tensor(rng.standard_normal((HIDDEN, n)) / np.sqrt(n))
    w2 = tm.tensor(rng.standard_normal((m, HIDDEN)) / np.sqrt(HIDDEN))

    def f(x: tm.Tensor) -> tm.Tensor:
        return (w2 @ (w1 @ x).tanh()).tanh()

    return tm.tensor(rng.standard_normal(n)), f


def measure(n: int, m: int, repeats: int) -> tuple[float, float]:
    x, f = problem(n, m)
    forward, reverse = func.jacfwd(f), func.jacrev(f)
    np.testing.assert_allclose(forward(x).numpy(), reverse(x).numpy(), rtol=1e-12, atol=1e-12)
    t_fwd, t_rev = best_times(lambda: forward(x), lambda: reverse(x), repeats=repeats)
    return t_fwd, t_rev


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two sizes, two repeats")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    sizes, repeats = ((4, 64), 2) if args.quick else (SIZES, args.repeats)
    print(f"jacfwd / jacrev time for f: R^n -> R^m (tanh MLP, hidden {HIDDEN}, float64; best of {repeats})")
    print("n \\ m | " + " | ".join(f"{m:>6}" for m in sizes))
    for n in sizes:
        cells = []
        for m in sizes:
            t_fwd, t_rev = measure(n, m, repeats)
            cells.append(f"{t_fwd / t_rev:6.2f}")
        print(f"{n:>5} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
