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



def peak_rss_mb() -> float:
    """This process's peak resident memory in MB, since it started running its program.

    ``getrusage``'s ``ru_maxrss`` is kept across ``fork`` and ``exec``: a child
    started by a process that once held 3 GB reports at least 3 GB. The kernel's
    high-water mark of the current address space (``VmHWM``) starts afresh at
    ``exec``, so it is read where Linux provides it.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
