"""The value domains behind :func:`tinygrad_mnist.testing.elements`: float arithmetic only.

A domain is ``[low, high]`` minus a hole of half-width ``margin`` around each
point to avoid, as closed intervals whose ends are representable in the dtype.
The hole's edges are found exactly, by bisection over the float64 values in
order, so that ``abs(x - p) >= margin`` holds as float64 computes it.
"""

from __future__ import annotations

import math
import struct
from typing import Callable, Iterable

import numpy as np
from numpy.typing import DTypeLike

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype: DTypeLike) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if resolved not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


def _avoid_points(avoid: float | Iterable[float] | None) -> list[float]:
    if avoid is None:
        return []
    try:
        points = [float(p) for p in np.ravel(np.asarray(avoid, dtype=np.float64))]
    except (TypeError, ValueError):
        raise ValueError(f"avoid: expected a number or a sequence of numbers, got {avoid!r}") from None
    if not all(math.isfinite(p) for p in points):
        raise ValueError(f"avoid: points must be finite numbers, got {avoid!r}")
    return sorted(set(points))


_SIGN = 1 << 63


def _float_to_rank(x: float) -> int:
    """An integer that orders float64 values as they compare (-0.0 and 0.0 share one)."""
    (bits,) = struct.unpack("<q", struct.pack("<d", x))
    return bits if bits >= 0 else -(bits & (_SIGN - 1))


def _rank_to_float(k: int) -> float:
    bits = k if k >= 0 else (-k) | _SIGN
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def _boundary(yes: int, no: int, holds: Callable[[float], bool]) -> float:
    """The float closest to rank ``no`` for which ``holds`` is true, by bisection over ranks.

    ``holds`` must be true at rank ``yes``, false at rank ``no`` and switch once in between.
    """
    while abs(yes - no) > 1:
        middle = (yes + no) // 2
        if holds(_rank_to_float(middle)):
            yes = middle
        else:
            no = middle
    return _rank_to_float(yes)


def _lowest_above(p: float, margin: float) -> float:
    """The smallest float64 x with ``x - p >= margin``, as float64 arithmetic computes it."""
    return _boundary(_float_to_rank(math.inf), _float_to_rank(p), lambda x: x - p >= margin)


def _highest_below(p: float, margin: float) -> float:
    """The largest float64 x with ``p - x >= margin``."""
    return _boundary(_float_to_rank(-math.inf), _float_to_rank(p), lambda x: p - x >= margin)


def _round_inwards(lo: float, hi: float, dtype: np.dtype) -> tuple[float, float] | None:
    """The same interval with float32 ends (inside it), or None when no float32 lies in it."""
    if dtype == np.float64:
        return lo, hi
    lo32, hi32 = np.float32(lo), np.float32(hi)
    if float(lo32) < lo:
        lo32 = np.nextafter(lo32, np.float32(np.inf))
    if float(hi32) > hi:
        hi32 = np.nextafter(hi32, np.float32(-np.inf))
    return (float(lo32), float(hi32)) if lo32 <= hi32 else None


def domain(
    dtype: np.dtype, low: float, high: float, avoid: float | Iterable[float] | None, margin: float, positive: bool
) -> list[tuple[float, float]]:
    """The closed intervals, with ends representable in ``dtype``, that make up the domain."""
    low, high, margin = float(low), float(high), float(margin)
    finfo = np.finfo(dtype)
    for name, value in (("low", low), ("high", high)):
        if not math.isfinite(value) or abs(value) > float(finfo.max):
            raise ValueError(f"{name}={value!r} must be a finite {dtype} number")
    if low > high:
        raise ValueError(f"low={low!r} must not exceed high={high!r}")
    if not (math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin={margin!r} must be a positive finite number")
    points = _avoid_points(avoid)
    if positive:
        low = max(low, 0.0)
        points = sorted(set(points) | {0.0})

    intervals = []
    start = low
    for p in points:  # sorted, and every hole is 2 * margin wide, so the holes' ends are sorted too
        end = min(_highest_below(p, margin), high)
        if start <= end:
            intervals.append((start, end))
        start = max(start, _lowest_above(p, margin))
    if start <= high:
        intervals.append((start, high))

    rounded = [r for r in (_round_inwards(lo, hi, dtype) for lo, hi in intervals) if r is not None]
    if not rounded:
        raise ValueError(
            f"no {dtype} value lies in [{low!r}, {high!r}] at least margin={margin!r} away from {points}"
        )
    return rounded
