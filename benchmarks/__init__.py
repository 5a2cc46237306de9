"""Timing scripts for the engine; run them as modules, e.g. ``python -m benchmarks.overhead``."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_times(*fns: Callable[[], object], repeats: int) -> list[float]:
    """The best time in seconds of each callable over ``repeats`` rounds; within a round the callables run
    one after the other, so that a drift in machine speed hits them all alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, taken in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            taken.append(time.perf_counter() - start)
    return [min(taken) for taken in times]

