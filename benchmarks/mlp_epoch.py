"""Seconds per MNIST epoch: the framework against hand-written numpy doing identical work.

Both sides train 784-512-10 ReLU, float32, batch 128, Adam (lr 1e-3) on the same
batches from the same initial weights, one epoch of 468 steps (drop_last), and
report the epoch's wall time and the process's peak RSS. The framework runs the
model twice over: built from ``nn.Linear`` (weights shaped (out, in),
``project``) and written with plain operations as custom networks are,
``(x @ w1 + b1).relu() @ w2 + b2`` with weights shaped (in, out) (``plain``:
the same initial weights transposed, so the same final loss to float32
rounding; the plain row of the table). Each measurement runs in a fresh
subprocess (peak RSS is per process); rounds alternate the three
implementations so drift on a noisy machine hits them all alike, and the
figure to quote is the median of the per-round ratios.

Run from the repository root::

    python -m benchmarks.mlp_epoch            # 3 rounds
    python -m benchmarks.mlp_epoch --rounds 5 --json results.json
    python -m benchmarks.mlp_epoch --quick    # a few steps: checks the harness only
    python -m benchmarks.mlp_epoch --profile  # where a step of the nn.Linear model goes (one epoch)

Targets: time ratio project / numpy <= 1.10 (the plain model's too), peak RSS ratio <= 1.25.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import peak_rss_mb, step_profile

HIDDEN, CLASSES, BATCH, LR = 512, 10, 128, 1e-3
QUICK_STEPS = 20  # --quick: a harness check, not a timing
BETAS, EPS = (0.9, 0.999), 1e-8


def _data(steps: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from tinygrad_mnist.datasets import DataLoader, load_mnist

    images, labels = load_mnist("train")
    loader = DataLoader(images, labels, batch_size=BATCH, shuffle=True, seed=0, drop_last=True)
    batches = list(loader.batches(0))  # prepared up front: the epoch times only training
    return batches[:steps] if steps else batches


def _initial_weights() -> list[np.ndarray]:
    import tinygrad_mnist as tm
    from tinygrad_mnist import nn

    tm.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))
    return [p.data for p in model.parameters()]


def run_project(batches: list[tuple[np.ndarray, np.ndarray]],
                on_step: Callable[[str], None] = step_profile.no_clock) -> tuple[float, float]:
    """The nn.Linear model; ``on_step(phase)`` is told where each step is (the profile's clock)."""
    import tinygrad_mnist as tm
    from tinygrad_mnist import Tensor, nn, optim
    from tinygrad_mnist.nn import functional as F

    tm.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    start = time.perf_counter()
    for x, y in batches:
        on_step("forward")
        loss = F.cross_entropy(model(Tensor(x)), y)
        on_step("zero_grad")
        opt.zero_grad()
        on_step("backward")
        loss.backward()
        on_step("optimizer")
        opt.step()
        on_step("end")
    return time.perf_counter() - start, loss.item()


def run_plain(batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """The model of ``run_project`` in plain operations, its weights shaped (in, out)."""
    from tinygrad_mnist import Tensor, optim
    from tinygrad_mnist.nn import functional as F

    w1, b1, w2, b2 = (Tensor(np.array(p.T, order="C"), requires_grad=True) for p in _initial_weights())
    opt = optim.Adam([w1, b1, w2, b2], lr=LR, betas=BETAS, eps=EPS)
    start = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy((Tensor(x) @ w1 + b1).relu() @ w2 + b2, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start, loss.item()


IMPLEMENTATIONS = {"project": run_project, "plain": run_plain}


def run_numpy(batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    w1, b1, w2, b2 = (p.copy() for p in _initial_weights())
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    scratch = [np.zeros_like(p) for p in params]
    b1_, b2_ = BETAS
    start = time.perf_counter()
    for t, (x, y) in enumerate(batches, start=1):
        n = len(y)
        z1 = x @ w1.T
        z1 += b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ w2.T
        z2 += b2
        shifted = z2 - z2.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        one_hot = np.zeros_like(z2)
        one_hot[np.arange(n), y] = 1
        loss = -(log_probs * one_hot).sum() / n
        dz2 = (np.exp(log_probs) - one_hot) * np.float32(1 / n)
        grads = [None, None, dz2.T @ a1, dz2.sum(axis=0)]
        dz1 = (dz2 @ w2) * (z1 > 0)
        grads[0], grads[1] = dz1.T @ x, dz1.sum(axis=0)
        step_size = LR / (1 - b1_**t)
        correction = 1 / math.sqrt(1 - b2_**t)
        for p, g, mi, vi, s in zip(params, grads, m, v, scratch, strict=True):
            np.subtract(g, mi, out=s)
            s *= 1 - b1_
            mi += s
            np.multiply(g, g, out=s)
            s -= vi
            s *= 1 - b2_
            vi += s
            if t % 100 == 0:  # a subnormal flush like the framework's (within one epoch neither changes a value)
                mi[np.abs(mi) < 1e-30] = 0
                vi[vi < 1e-30] = 0
            np.sqrt(vi, out=s)
            s *= correction
            s += EPS
            np.divide(mi, s, out=s)
            s *= step_size
            p -= s
    return time.perf_counter() - start, float(loss)


def _current_rss_mb() -> float:
    """Resident memory now (Linux), or nan where /proc is unavailable."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def child(impl: str, steps: int | None) -> None:
    batches = _data(steps)
    if impl == "profile":
        print(json.dumps(step_profile.profile(batches, run_project)))
        return
    before = _current_rss_mb()  # the data and batches are in memory by now
    seconds, loss = IMPLEMENTATIONS.get(impl, run_numpy)(batches)
    peak_mb = peak_rss_mb()
    print(json.dumps({"impl": impl, "seconds": seconds, "final_loss": loss, "peak_rss_mb": peak_mb,
                      "rss_growth_mb": _current_rss_mb() - before, "steps": len(batches)}))


def measure(impl: str, steps: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.mlp_epoch", "--child", impl]
    if steps:
        command += ["--steps", str(steps)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps, 1 round: a harness check, not a timing")
    parser.add_argument("--profile", action="store_true",
                        help="where a step of the nn.Linear model goes (one fresh interpreter, one epoch or --steps)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", choices=["project", "plain", "numpy", "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help="steps per run (default: the whole epoch)")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.steps)
        return 0
    if args.profile:
        result = measure("profile", args.steps or (QUICK_STEPS if args.quick else None))
        print(step_profile.format_profile(result, f"MLP 784-{HIDDEN}-{CLASSES}, float32, batch {BATCH}, Adam"))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        return 0
    steps, rounds = (QUICK_STEPS, 1) if args.quick else (args.steps, args.rounds)
    results: dict[str, list[dict[str, Any]]] = {"project": [], "plain": [], "numpy": []}
    for _ in range(rounds):
        for impl, runs in results.items():
            runs.append(measure(impl, steps))

    def ratios(impl: str, key: str) -> list[float]:
        return [p[key] / n[key] for p, n in zip(results[impl], results["numpy"], strict=True)]

    time_ratios = ratios("project", "seconds")
    plain_ratios = ratios("plain", "seconds")
    rss_ratios = ratios("project", "peak_rss_mb")
    summary = {
        "steps": results["project"][0]["steps"],
        "project_seconds": statistics.median(r["seconds"] for r in results["project"]),
        "numpy_seconds": statistics.median(r["seconds"] for r in results["numpy"]),
        "time_ratio": statistics.median(time_ratios),
        "plain_seconds": statistics.median(r["seconds"] for r in results["plain"]),
        "plain_time_ratio": statistics.median(plain_ratios),
        "project_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results["project"]),
        "numpy_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results["numpy"]),
        "rss_ratio": statistics.median(rss_ratios),
        "final_loss": {k: v[-1]["final_loss"] for k, v in results.items()},
        "rounds": rounds,
    }
    print(f"MLP 784-{HIDDEN}-{CLASSES}, float32, batch {BATCH}, Adam: {summary['steps']} steps, {rounds} round(s)")
    print(f"{'':22}{'project':>10}{'numpy':>10}{'ratio':>8}{'target':>9}")
    print(f"{'seconds per epoch':22}{summary['project_seconds']:10.3f}{summary['numpy_seconds']:10.3f}"
          f"{summary['time_ratio']:8.3f}{'<= 1.10':>9}")
    print(f"{'  plain ops':22}{summary['plain_seconds']:10.3f}{summary['numpy_seconds']:10.3f}"
          f"{summary['plain_time_ratio']:8.3f}{'<= 1.10':>9}")
    print(f"{'peak RSS (MB)':22}{summary['project_peak_rss_mb']:10.1f}{summary['numpy_peak_rss_mb']:10.1f}"
          f"{summary['rss_ratio']:8.3f}{'<= 1.25':>9}")
    print("final loss: " + ", ".join(f"{impl} {loss:.6f}" for impl, loss in summary["final_loss"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "runs": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
