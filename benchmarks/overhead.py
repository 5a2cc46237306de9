"""How much the engine's bookkeeping costs: per-op overhead and backward scaling on long chains.

Run from the repository root, either way:

    python -m benchmarks.overhead               # full run (about ten seconds)
    python benchmarks/overhead.py --quick       # smoke run (a few seconds)
    python -m benchmarks.overhead --json out.json

Two measurements, both in the same process:

(a) Per-op overhead. One iteration is a whole training-style step on tiny
    float32 vectors (10 elements): create the leaves ``a`` and ``b`` with
    ``requires_grad=True``, compute ``((a * b) + a).sum()`` and call
    ``backward()``. Leaf creation is inside the timed loop, because a training
    loop builds a fresh graph at every step. The arrays are so small that
    almost all of the time is Python bookkeeping: three primitives forward,
    their VJPs, the topological sort and the accumulation. The baseline is
    the same arithmetic written by hand in numpy, forward and backward
    (``y = (a*b + a).sum()``; the scalar seed broadcast to ``g``;
    ``ga = g*b + g``; ``gb = g*a``). Rounds of N iterations alternate between
    the two; the median over rounds of the time per iteration is reported.
    Target: at most 30 microseconds per iteration for the engine.

(b) Chain scaling. The time of ``backward()`` alone (the chain is built
    before the clock starts) through chains ``x = x * 1.0001`` of 10,000 and
    of 100,000 nodes on a 10-element float32 vector, median over rounds. The
    timed region includes releasing the graph, which backward does as it goes.
    Target: t(100,000) / t(10,000) at most 11, i.e. linear in the graph size.

The garbage collector is left on, as in a real training loop, but a collection
is run before each timed region so that every round starts from the same state.
A completed run exits with status 0 whether or not the targets are met: it
reports, it does not test.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

try:
    from tinygrad_mnist import Tensor
except ImportError:  # run as a file from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tinygrad_mnist import Tensor

PER_OP_TARGET_US = 30.0
CHAIN_RATIO_TARGET = 11.0
CHAIN_SIZES = (10_000, 100_000)
VECTOR_SIZE = 10
FACTOR = 1.0001


@dataclass
class PerOpResult:
    iterations: int
    rounds: int
    project_us: float
    numpy_us: float
    ratio: float
    target_us: float
    project_rounds_us: list[float] = field(default_factory=list)
    numpy_rounds_us: list[float] = field(default_factory=list)
    torch_us: float | None = None  # the same step in PyTorch eager, when torch can be imported
    torch_rounds_us: list[float] = field(default_factory=list)


@dataclass
class ChainResult:
    sizes: list[int]
    rounds: int
    seconds: dict[str, float]
    ratio: float
    target_ratio: float
    rounds_seconds: dict[str, list[float]] = field(default_factory=dict)


# ---- (a) per-op overhead -------------------------------------------------------------
def project_step(a_data: np.ndarray, b_data: np.ndarray) -> None:
    """One training-style step with the engine: fresh leaves, forward, backward."""
    a = Tensor(a_data, requires_grad=True)
    b = Tensor(b_data, requires_grad=True)
    loss = ((a * b) + a).sum()
    loss.backward()


def numpy_step(a: np.ndarray, b: np.ndarray) -> None:
    """The same step written by hand in numpy: forward, then the gradients of both inputs."""
    y = (a * b + a).sum()
    g = np.broadcast_to(np.ones_like(y), a.shape)  # d y / d(a*b + a): the scalar seed, broadcast
    ga = g * b + g
    gb = g * a
    del ga, gb


def torch_step_for() -> Callable[[np.ndarray, np.ndarray], None] | None:
    """The same step in PyTorch eager (leaves made from the arrays without a copy), or None without torch."""
    try:
        import torch
    except Exception:  # not installed, or installed but broken
        return None

    def torch_step(a_data: np.ndarray, b_data: np.ndarray) -> None:
        a = torch.from_numpy(a_data).requires_grad_()
        b = torch.from_numpy(b_data).requires_grad_()
        loss = ((a * b) + a).sum()
        loss.backward()

    return torch_step


def time_loop(step: Callable[[np.ndarray, np.ndarray], None], a: np.ndarray, b: np.ndarray, n: int) -> float:
    """Seconds per call of ``step`` over ``n`` calls."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        step(a, b)
    return (time.perf_counter() - start) / n


def measure_per_op(iterations: int, rounds: int) -> PerOpResult:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(VECTOR_SIZE).astype(np.float32)
    b = rng.standard_normal(VECTOR_SIZE).astype(np.float32)
    warmup = max(iterations // 10, 100)
    torch_step = torch_step_for()
    time_loop(project_step, a, b, warmup)
    time_loop(numpy_step, a, b, warmup)
    if torch_step is not None:
        time_loop(torch_step, a, b, warmup)
    project: list[float] = []
    baseline: list[float] = []
    torch_rounds: list[float] = []
    for _ in range(rounds):  # alternate, so that drifts in machine speed hit all alike
        project.append(time_loop(project_step, a, b, iterations) * 1e6)
        baseline.append(time_loop(numpy_step, a, b, iterations) * 1e6)
        if torch_step is not None:
            torch_rounds.append(time_loop(torch_step, a, b, iterations) * 1e6)
    project_us = statistics.median(project)
    numpy_us = statistics.median(baseline)
    return PerOpResult(
        iterations=iterations,
        rounds=rounds,
        project_us=project_us,
        numpy_us=numpy_us,
        ratio=project_us / numpy_us,
        target_us=PER_OP_TARGET_US,
        project_rounds_us=project,
        numpy_rounds_us=baseline,
        torch_us=statistics.median(torch_rounds) if torch_rounds else None,
        torch_rounds_us=torch_rounds,
    )


# ---- (b) chain scaling ----------------------------------------------------------------
def build_chain(length: int) -> tuple[Tensor, Tensor]:
    """A leaf and the sum of ``x * FACTOR`` applied ``length`` times to it (length + 1 nodes)."""
    leaf = Tensor(np.ones(VECTOR_SIZE, dtype=np.float32), requires_grad=True)
    y = leaf
    for _ in range(length):
        y = y * FACTOR
    return leaf, y.sum()


def time_chain_backward(length: int) -> float:
    """Seconds for ``backward()`` through a freshly built chain; the build is not timed."""
    leaf, root = build_chain(length)
    gc.collect()
    start = time.perf_counter()
    root.backward()
    elapsed = time.perf_counter() - start
    expected = np.float32(FACTOR) ** length
    if leaf.grad is None or not np.allclose(leaf.grad.data, expected, rtol=1e-2):
        raise RuntimeError(f"chain of {length}: unexpected gradient {leaf.grad!r}, expected about {expected}")
    return elapsed


def measure_chain(rounds: int) -> ChainResult:
    time_chain_backward(1_000)  # warm-up
    samples: dict[str, list[float]] = {str(n): [] for n in CHAIN_SIZES}
    for _ in range(rounds):
        for n in CHAIN_SIZES:
            samples[str(n)].append(time_chain_backward(n))
    seconds = {key: statistics.median(values) for key, values in samples.items()}
    small, large = (str(n) for n in CHAIN_SIZES)
    return ChainResult(
        sizes=list(CHAIN_SIZES),
        rounds=rounds,
        seconds=seconds,
        ratio=seconds[large] / seconds[small],
        target_ratio=CHAIN_RATIO_TARGET,
        rounds_seconds=samples,
    )


# ---- report -----------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER TARGET"


def format_report(per_op: PerOpResult, chain: ChainResult) -> str:
    rows = [
        ("per-op: ((a*b)+a).sum() fwd+bwd, 10 x float32", "", "", ""),
        ("  tinygrad_mnist", f"{per_op.project_us:9.2f} us", f"<= {per_op.target_us:.0f} us",
         verdict(per_op.project_us <= per_op.target_us)),
        ("  numpy by hand", f"{per_op.numpy_us:9.2f} us", "", ""),
        ("  ratio engine / numpy", f"{per_op.ratio:9.1f} x", "", ""),
        ("  per primitive (3 per step)", f"{per_op.project_us / 3:9.2f} us", "", ""),
        ("chain: backward only, x = x * 1.0001", "", "", ""),
    ]
    for n in chain.sizes:
        seconds = chain.seconds[str(n)]
        rows.append((f"  {n:,} nodes", f"{seconds * 1e3:9.2f} ms", f"{seconds / n * 1e6:.2f} us/node", ""))
    rows.append(("  ratio t(1e5) / t(1e4)", f"{chain.ratio:9.2f}", f"<= {chain.target_ratio:.0f}",
                 verdict(chain.ratio <= chain.target_ratio)))
    body = [row for row in rows if row[1]]  # section headings do not set the column widths
    widths = [max(len(row[i]) for row in body) for i in range(4)]
    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}; "
        f"per-op: median of {per_op.rounds} round(s) x {per_op.iterations} iterations; "
        f"chain: median of {chain.rounds} round(s)",
        "",
    ]
    for row in rows:
        if not row[1]:
            lines.append(row[0])
            continue
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.overhead",
        description="Measure the engine's per-op overhead against numpy and its backward scaling on long chains.",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run with few iterations (a few seconds)")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the figures as JSON to PATH")
    parser.add_argument("--iterations", type=_positive, default=None,
                        help="iterations per per-op round (default 20000; 500 with --quick)")
    parser.add_argument("--rounds", type=_positive, default=None,
                        help="rounds of each measurement (default 5; with --quick 3 per-op, 1 chain)")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    iterations = args.iterations or (500 if args.quick else 20_000)
    per_op = measure_per_op(iterations, args.rounds or (3 if args.quick else 5))
    chain = measure_chain(args.rounds or (1 if args.quick else 5))
    print(format_report(per_op, chain))
    if args.json is not None:
        payload = {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "quick": args.quick,
            "per_op": asdict(per_op),
            "chain": asdict(chain),
            "targets_met": {
                "per_op": per_op.project_us <= per_op.target_us,
                "chain_ratio": chain.ratio <= chain.target_ratio,
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
