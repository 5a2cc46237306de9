"""The value domains behind [`tinygrad_mnist.testing`][tinygrad_mnist.testing]: float arithmetic only.

A domain is ``[low, high]`` minus a hole of half-width ``margin`` around each
point to avoid, as closed intervals whose ends are representable in the dtype.
The hole's edges are found exactly, by bisection over the float64 values in
order, so that ``abs(x - p) >= margin`` holds as float64 computes it.

Grids are ranges of integers ``k`` with a map ``k -> value``: multiples of a
power of two inside a domain (the values of ``unique`` arrays), and the
decimal grids of [`tinygrad_mnist.testing.grid`][tinygrad_mnist.testing.grid].
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from fractions import Fraction

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


def power_of_two_grid(
    dtype: np.dtype, intervals: list[tuple[float, float]], gap: float
) -> tuple[float, list[tuple[int, int]], int]:
    """``step``, the least power of two >= ``gap``, the ranges of k with ``k * step`` in each interval,
    and how many such k there are in all.

    Such multiples are exact in both float32 and float64, so distinct ones are
    at least ``gap`` apart with no rounding in between.
    """
    if not (math.isfinite(gap) and gap > 0):
        raise ValueError(f"gap={gap!r} must be a positive finite number")
    step = 2.0 ** math.ceil(math.log2(gap))
    limit = 2 ** (np.finfo(dtype).nmant + 1)  # integers up to this are exact in dtype
    ranges = []
    for lo, hi in intervals:
        first, last = math.ceil(lo / step), math.floor(hi / step)
        if first > last:
            continue
        if max(abs(first), abs(last)) > limit:
            raise ValueError(
                f"unique=True: [{lo!r}, {hi!r}] holds too many multiples of {step!r} to be exact in {dtype}; "
                "use a larger gap or narrower bounds"
            )
        ranges.append((first, last))
    if not ranges:
        raise ValueError(
            f"unique=True: no multiple of {step!r} (the gap rounded up to a power of two) lies in the domain"
        )
    return step, ranges, sum(last - first + 1 for first, last in ranges)


def check_unique_room(shape: int | tuple[int, ...], capacity: int, gap: float) -> None:
    """Refuse a fixed shape that needs more distinct values than the ``capacity`` of the domain."""
    size = math.prod((shape,) if isinstance(shape, int) else shape)
    if size > capacity:
        raise ValueError(
            f"unique=True: shape {shape} needs {size} distinct values but the domain holds "
            f"only {capacity} values {gap!r} apart; widen low/high or lower gap"
        )


def _decimal(x: float) -> Fraction:
    """``x`` as the decimal number it is written as: 0.1 is 1/10, not the binary fraction nearest to it."""
    return Fraction(repr(float(x)))


def decimal_grid(spacing: float, offset: float, low: float, high: float) -> tuple[int, int, Callable[[int], float]]:
    """The range ``first..last`` of the k with ``offset + k * spacing`` in ``[low, high]``, and the map
    from k to that point: computed exactly on the decimal numbers and rounded once to float64, so that
    ``0.1 + 2 * 0.2`` gives 0.5 and not 0.5000000000000001."""
    for name, value in (("spacing", spacing), ("offset", offset), ("low", low), ("high", high)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name}={value!r} must be a finite number")
    if spacing <= 0:
        raise ValueError(f"spacing={spacing!r} must be positive")
    if low > high:
        raise ValueError(f"low={low!r} must not exceed high={high!r}")
    step, start = _decimal(spacing), _decimal(offset)
    first = math.ceil((_decimal(low) - start) / step)
    last = math.floor((_decimal(high) - start) / step)
    if first > last:
        raise ValueError(f"no point {offset!r} + k * {spacing!r} lies in [{low!r}, {high!r}]")
    return first, last, lambda k: float(start + k * step)
