"""Mutation analysis of the gradient checkers: a catalogue of deliberately broken VJPs.

Each :class:`Mutant` is one realistic bug in the primitive table of
:mod:`tinygrad_mnist.core.rules` (or in the engine's gradient accumulation), a small
program that goes through the broken entry, and a hypothesis strategy for that
program's float64 inputs. :func:`evaluate` applies the mutant, runs a checker
on K inputs drawn reproducibly from the strategy and says whether the checker
noticed. The same inputs are first run through the *unmutated* table, which
must pass the checker: a catch only counts if the correct code is clean.

Three kinds of mutants:

* ``first``: a wrong first derivative; full ``gradcheck`` must catch every one.
* ``second``: right to first order, but the VJP is not differentiable the way
  the primitive is (``.detach()``, masks or products computed on ``.data``), so
  only ``gradgradcheck`` can see it.
* ``equivalent``: a change that gives the same gradients wherever the function
  is differentiable (kink-only bugs, or bugs the engine repairs); no checker
  working from finite differences can catch them, by construction.

A fourth family, ``SCALED_MUTANTS``, is kept apart from the catalogue: the VJP of
a well-conditioned primitive wrong by a relative ``d`` (every element times
``1 + d``, one element times ``1 + d``, or each element times ``1 +- d``), for
``d`` from 1e-2 down to 1e-8. It measures how small an error each checker can
see (``benchmarks/detection_rate.py`` prints the table).

The second half of the module generates random *correct* programs (a few
primitives applied to random shapes, every kink, tie and pole kept out of
reach of the finite-difference step) for the false-alarm sweep.
"""

from __future__ import annotations

import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, ContextManager, Iterator

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mnist as tg
from tinygrad_mnist import Tensor, testing
from tinygrad_mnist.core import graph
from tinygrad_mnist.core import rules
from tinygrad_mnist.autograd import (
    GradcheckError, check_gradients, check_second_derivatives, gradcheck, gradgradcheck,
)
from tinygrad_mnist.nn import functional as F

K = 8  # inputs per mutant
CHECKERS = ("full", "fast", "gradgrad")
BOUND_CHECKERS = ("bound", "bound-fast")  # check_gradients, full and fast=True
BOUND_GRADGRAD = "bound-gradgrad"  # check_second_derivatives: wherever gradgradcheck applies
SCALED_CHECKERS = ("full", "fast", *BOUND_CHECKERS)  # the checkers run on the scaled mutants
FIRST, SECOND, EQUIVALENT = "first", "second", "equivalent"

# Element domains, away from poles (log, division), kinks (relu, maximum) and ties (max, maximum).
ANY = testing.elements(low=-2.0, high=2.0)
POSITIVE = testing.elements(low=0.5, high=3.0)  # log, pow bases
# |b| >= 0.5, the values of elements(low=-2, high=2, avoid=0.0, margin=0.5), but the positive side
# first: the inputs are drawn derandomized, and the branch order is part of what fixes them.
NONZERO = testing.elements(low=0.5, high=2.0) | testing.elements(low=-2.0, high=-0.5)
ODD_TENTHS = testing.grid(0.2, offset=0.1, low=-7.9, high=7.9)  # never 0 or an even tenth; >= 0.2 apart
EVEN_TENTHS = testing.grid(0.2, low=-8.0, high=7.8)  # >= 0.1 from every odd tenth


# ---- applying a mutation -------------------------------------------------------------
@contextmanager
def replaced(owner: Any, attribute: str, value: Any) -> Iterator[None]:
    """Set ``owner.attribute`` to ``value`` for the duration of the block; always restored."""
    saved = getattr(owner, attribute)
    setattr(owner, attribute, value)
    try:
        yield
    finally:
        setattr(owner, attribute, saved)


def vjp(prim: rules.Primitive, index: int, fn: Callable[..., Tensor]) -> Callable[[], ContextManager[None]]:
    """A patch replacing the VJP of input ``index`` of ``prim`` (the rest of the tuple is kept)."""
    def patch() -> ContextManager[None]:
        vjps = list(prim.vjps)
        vjps[index] = fn
        return replaced(prim, "vjps", tuple(vjps))
    return patch


def vjps(prim: rules.Primitive, *fns: Callable[..., Tensor]) -> Callable[[], ContextManager[None]]:
    """A patch replacing the whole VJP tuple of ``prim``."""
    return lambda: replaced(prim, "vjps", fns)


def forward(prim: rules.Primitive, fn: Callable[..., np.ndarray]) -> Callable[[], ContextManager[None]]:
    """A patch replacing the numpy forward of ``prim`` (the VJPs no longer match it)."""
    return lambda: replaced(prim, "forward", fn)


def accumulate(fn: Callable[..., None]) -> Callable[[], ContextManager[None]]:
    """A patch replacing the engine's fan-out accumulation ``tinygrad_mnist.core.graph._accumulate``."""
    return lambda: replaced(graph, "_accumulate", fn)


def snapshot() -> dict[str, Any]:
    """Everything a mutant may change, to check that it was put back."""
    table = {name: (p.forward, p.vjps, p.vjp) for name, p in rules.PRIMITIVES.items()}
    return {"table": table, "_accumulate": graph._accumulate}


# ---- the catalogue -------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    """One bug: ``patch()`` applies it; ``program(*tensors, **params)`` exercises it on
    inputs drawn from ``inputs`` (``(arrays, params)`` pairs; every array becomes a
    float64 leaf that requires grad)."""

    name: str
    target: str
    bug: str
    patch: Callable[[], ContextManager[None]]
    program: Callable[..., Tensor]
    inputs: st.SearchStrategy
    order: str = FIRST
    checkers: tuple[str, ...] = CHECKERS  # the checkers that are meaningful on these inputs
    note: str = ""
    crashes: bool = False  # detected by an error from the engine rather than by a wrong number

    def __repr__(self) -> str:
        return f"Mutant({self.name!r})"


def _plain(arrays: st.SearchStrategy) -> st.SearchStrategy:
    return arrays.map(lambda arrs: (arrs, {}))


def same(n: int, elements: st.SearchStrategy = ANY, min_dims: int = 0, max_dims: int = 2,
         min_side: int = 1, unique: bool = False) -> st.SearchStrategy:
    """``n`` arrays of one drawn shape (0-d included unless ``min_dims`` > 0)."""
    shapes = testing.shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=3)
    return _plain(testing.operands(shapes.map(lambda s: (s,) * n), *[elements] * n, unique=unique))


def bcast(*elements: st.SearchStrategy) -> st.SearchStrategy:
    """Arrays of mutually broadcastable shapes, one per element strategy (0-d included)."""
    return _plain(testing.operands(testing.broadcastable_shapes(len(elements), max_dims=2, max_side=3), *elements))


def shaped(*shapes_of: Callable[[int], tuple[int, ...]], elements: st.SearchStrategy = ANY,
           sides: tuple[int, int] = (2, 3), unique: bool = False) -> st.SearchStrategy:
    """Arrays whose shapes are functions of one drawn side ``n`` (square, cube, (n, n) with (n,) ...)."""
    shapes = st.integers(*sides).map(lambda n: tuple(f(n) for f in shapes_of))
    return _plain(testing.operands(shapes, *[elements] * len(shapes_of), unique=unique))


def matrix_with_row_ties() -> st.SearchStrategy:
    """(m, n) arrays in which every row's maximum occurs exactly twice (two-way ties only)."""
    def tie(a: np.ndarray) -> tuple[tuple[np.ndarray], dict]:
        a = a.copy()
        for row in a:
            order = np.argsort(row)
            row[order[-2]] = row[order[-1]]
        return (a,), {}
    shapes = st.tuples(st.integers(1, 3), st.integers(2, 4))
    return testing.arrays(shapes, elements=ODD_TENTHS, unique=True).map(tie)


def pairs_with_ties() -> st.SearchStrategy:
    """Same-shaped (a, b) equal at some elements (at least the first) and >= 0.1 apart elsewhere."""
    def build(shape: tuple[int, ...]) -> st.SearchStrategy:
        mask = hnp.arrays(np.bool_, shape)
        return st.tuples(testing.arrays(shape, elements=ODD_TENTHS), testing.arrays(shape, elements=EVEN_TENTHS),
                         mask)

    def tie(drawn: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[tuple[np.ndarray, ...], dict]:
        a, b, mask = drawn
        mask = mask.copy()
        mask.flat[0] = True
        return (a, np.where(mask, a, b)), {}
    return testing.shapes(min_dims=1, max_dims=2, max_side=3).flatmap(build).map(tie)


def repeated_indices() -> st.SearchStrategy:
    """A vector or matrix and an integer index array along axis 0 that repeats at least one row."""
    def build(shape: tuple[int, ...]) -> st.SearchStrategy:
        index = st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=4)
        return st.tuples(testing.arrays(shape, elements=ANY), index)

    def repeat(drawn: tuple[np.ndarray, list[int]]) -> tuple[tuple[np.ndarray], dict]:
        x, index = drawn
        return (x,), {"index": np.array(index + [index[0]], dtype=np.intp)}
    return testing.shapes(min_dims=1, max_dims=2, max_side=3).flatmap(build).map(repeat)


def with_condition(n: int = 2) -> st.SearchStrategy:
    """Two same-shaped arrays and a boolean condition of that shape."""
    def build(shape: tuple[int, ...]) -> st.SearchStrategy:
        return st.tuples(st.tuples(*(testing.arrays(shape, elements=ANY) for _ in range(n))),
                         hnp.arrays(np.bool_, shape).map(lambda c: {"cond": c}))
    return testing.shapes(max_dims=2, max_side=3).flatmap(build)


def rows(elements: st.SearchStrategy = ANY, unique: bool = False, min_rows: int = 1) -> st.SearchStrategy:
    """(m, n) arrays with n >= 2 (softmax rows, reductions along an axis)."""
    shapes = st.tuples(st.integers(min_rows, 3), st.integers(2, 3))
    return _plain(testing.operands(shapes.map(lambda s: (s,)), elements, unique=unique))


def _kept(shape: tuple[int, ...], axis: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _max_winners(out: Tensor, a: Tensor, axis: tuple[int, ...]) -> np.ndarray:
    return a.data == out.data.reshape(_kept(a.shape, axis))


def _max_first_winner(g: Tensor, out: Tensor, a: Tensor, axis: tuple[int, ...], keepdims: bool) -> Tensor:
    winners = _max_winners(out, a, axis)
    first = np.cumsum(winners, axis=axis[0]) == 1  # tests reduce over one axis
    return g.reshape(_kept(a.shape, axis)) * (winners & first).astype(a.dtype)


def _accumulate_overwrites(grads, owned, tensor, g, create_graph):
    grads[tensor] = g  # the last contribution wins


def _accumulate_keeps_first(grads, owned, tensor, g, create_graph):
    grads.setdefault(tensor, g)  # later contributions are dropped


def _accumulate_in_numpy(grads, owned, tensor, g, create_graph):
    previous = grads.get(tensor)  # sums on .data even under create_graph: the sum is not recorded
    grads[tensor] = g if previous is None else Tensor._wrap(np.asarray(previous.data + g.data))


def _sigmoid_abs(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), 1 / (1 + e))  # copy-paste: the negative branch is e / (1 + e)


def _log_softmax_no_normaliser(a: np.ndarray, axis: int) -> np.ndarray:
    return a - np.max(a, axis=axis, keepdims=True)  # the log-sum-exp term was forgotten


def _scatter_assigns(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g  # repeated indices overwrite instead of adding up
    return out


def _matrix_branch(index: int, general: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """A matmul VJP whose matrix-matrix branch is ``general``; the vector cases keep their formulas."""
    original = rules._matmul_vjp_a if index == 0 else rules._matmul_vjp_b

    def mutated(g: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
        if a.ndim == 1 or b.ndim == 1:
            return original(g, out, a, b)
        return general(g, out, a, b)
    return mutated


CUBE = lambda n: (n, n, n)  # noqa: E731
SQUARE = lambda n: (n, n)  # noqa: E731
VECTOR = lambda n: (n,)  # noqa: E731
LOG_SOFTMAX = lambda x: x.log_softmax(axis=-1)  # noqa: E731
GRADGRAD_AT_TIES = ("full", "fast")  # the first derivative jumps at a tie: gradgradcheck does not apply

MUTANTS: list[Mutant] = [
    # -- sign flips ------------------------------------------------------------------
    Mutant("add.b.sign", "add vjps[1]", "-g instead of g", vjp(rules.add, 1, lambda g, out, a, b: -g),
           lambda a, b: a + b, bcast(ANY, ANY)),
    Mutant("sub.b.missing_minus", "sub vjps[1]", "g instead of -g", vjp(rules.sub, 1, lambda g, out, a, b: g),
           lambda a, b: a - b, bcast(ANY, ANY)),
    Mutant("neg.identity", "neg vjps[0]", "g instead of -g", vjp(rules.neg, 0, lambda g, out, a: g),
           lambda a: -a, same(1)),
    Mutant("div.b.missing_minus", "div vjps[1]", "g*out/b instead of -g*out/b",
           vjp(rules.div, 1, lambda g, out, a, b: g * out / b), lambda a, b: a / b, bcast(ANY, NONZERO)),
    Mutant("relu.inverted_mask", "relu vjps[0]", "mask a < 0 instead of a > 0",
           vjp(rules.relu, 0, lambda g, out, a: g * (a.data < 0)), lambda a: a.relu(), same(1, ODD_TENTHS)),
    Mutant("where.swapped_branches", "where vjps", "x gets the gradient where cond is false and y where it is true",
           vjps(rules.where, lambda g, out, a, b, cond: g * ~cond, lambda g, out, a, b, cond: g * cond),
           lambda a, b, cond: tg.where(cond, a, b), with_condition()),
    Mutant("maximum.swapped_shares", "maximum vjps", "each side gets the other side's share",
           vjps(rules.maximum, lambda g, out, a, b: g * rules._maximum_share(b.data, a.data, g.dtype),
                lambda g, out, a, b: g * rules._maximum_share(a.data, b.data, g.dtype)),
           lambda a, b: a.maximum(b), bcast(ODD_TENTHS, EVEN_TENTHS)),
    # -- factors ---------------------------------------------------------------------
    Mutant("mul.a.factor_2", "mul vjps[0]", "2*g*b instead of g*b", vjp(rules.mul, 0, lambda g, out, a, b: 2 * g * b),
           lambda a, b: a * b, bcast(ANY, ANY)),
    Mutant("sum.divides_by_count", "sum vjps[0]", "the gradient of mean (g/N) instead of sum",
           vjp(rules.reduce_sum, 0, lambda g, out, a, axis, keepdims: g.reshape(_kept(a.shape, axis)).broadcast_to(a.shape)
               * (1.0 / np.prod([a.shape[i] for i in axis]))),
           lambda a: a.sum(axis=0), rows(min_rows=2)),
    Mutant("sigmoid.missing_one_minus", "sigmoid vjps[0]", "g*out instead of g*out*(1-out)",
           vjp(rules.sigmoid, 0, lambda g, out, a: g * out), lambda a: a.sigmoid(), same(1)),
    Mutant("tanh.missing_square", "tanh vjps[0]", "g*(1-out) instead of g*(1-out*out)",
           vjp(rules.tanh, 0, lambda g, out, a: g * (1 - out)), lambda a: a.tanh(), same(1)),
    # -- the input instead of the output (or the wrong operand) ------------------------
    Mutant("exp.uses_input", "exp vjps[0]", "g*a instead of g*out", vjp(rules.exp, 0, lambda g, out, a: g * a),
           lambda a: a.exp(), same(1)),
    Mutant("tanh.uses_input", "tanh vjps[0]", "g*(1-a*a) instead of g*(1-out*out)",
           vjp(rules.tanh, 0, lambda g, out, a: g * (1 - a * a)), lambda a: a.tanh(), same(1)),
    Mutant("sigmoid.uses_input", "sigmoid vjps[0]", "g*a*(1-a) instead of g*out*(1-out)",
           vjp(rules.sigmoid, 0, lambda g, out, a: g * a * (1 - a)), lambda a: a.sigmoid(), same(1)),
    Mutant("mul.a.wrong_operand", "mul vjps[0]", "g*a instead of g*b", vjp(rules.mul, 0, lambda g, out, a, b: g * a),
           lambda a, b: a * b, bcast(ANY, ANY)),
    Mutant("log.times_input", "log vjps[0]", "g*a instead of g/a", vjp(rules.log, 0, lambda g, out, a: g * a),
           lambda a: a.log(), same(1, POSITIVE)),
    Mutant("log.reciprocal_plus_one", "log vjps[0]", "g/(a+1) (the log1p derivative) instead of g/a",
           vjp(rules.log, 0, lambda g, out, a: g / (a + 1)), lambda a: a.log(), same(1, POSITIVE)),
    Mutant("div.a.times_b", "div vjps[0]", "g*b instead of g/b", vjp(rules.div, 0, lambda g, out, a, b: g * b),
           lambda a, b: a / b, bcast(ANY, NONZERO)),
    Mutant("div.b.first_power", "div vjps[1]", "-g*a/b (b**1) instead of -g*a/b**2",
           vjp(rules.div, 1, lambda g, out, a, b: -g * a / b), lambda a, b: a / b, bcast(ANY, NONZERO)),
    # -- pow -------------------------------------------------------------------------
    Mutant("pow.a.exponent_off_by_one", "pow vjps[0]", "g*b*a**b instead of g*b*a**(b-1)",
           vjp(rules.power, 0, lambda g, out, a, b: g * b * a ** b), lambda a, b: a ** b, bcast(POSITIVE, ANY)),
    Mutant("pow.a.missing_factor", "pow vjps[0]", "g*a**(b-1) (the factor b dropped)",
           vjp(rules.power, 0, lambda g, out, a, b: g * a ** (b - 1)), lambda a, b: a ** b, bcast(POSITIVE, ANY)),
    Mutant("pow.b.missing_log", "pow vjps[1]", "g*out instead of g*out*log(a)",
           vjp(rules.power, 1, lambda g, out, a, b: g * out), lambda a, b: a ** b, bcast(POSITIVE, ANY)),
    # -- broadcasting and reductions over the wrong axes ------------------------------
    Mutant("add.b.reduces_wrong_axis", "add vjps[1]",
           "reduces a broadcast (n,) operand over the last axis, not the first",
           vjp(rules.add, 1, lambda g, out, a, b: g.sum(axis=-1) if g.ndim > b.ndim else g),
           lambda a, b: a + b, shaped(SQUARE, VECTOR)),
    Mutant("mul.b.mean_over_broadcast", "mul vjps[1]", "reduces the broadcast axis with mean instead of sum",
           vjp(rules.mul, 1, lambda g, out, a, b: (g * a).mean(axis=0) if g.ndim > b.ndim else g * a),
           lambda a, b: a * b, shaped(SQUARE, VECTOR)),
    Mutant("broadcast_to.wrong_axis", "broadcast_to vjps[0]",
           "sums over axis 0 and reshapes to fit, instead of unbroadcast",
           vjp(rules.broadcast_to, 0, lambda g, out, a, shape: g.sum(axis=0).reshape(a.shape)),
           lambda a: a.broadcast_to((a.shape[0], a.shape[0])), shaped(lambda n: (n, 1))),
    Mutant("sum.skips_kept_shape", "sum vjps[0]", "broadcasts g without re-inserting the reduced axis",
           vjp(rules.reduce_sum, 0, lambda g, out, a, axis, keepdims: g.broadcast_to(a.shape)),
           lambda a: a.sum(axis=1), shaped(SQUARE)),
    Mutant("exp.sums_g", "exp vjps[0]", "g.sum()*out: right only for 0-d (one-element) tensors",
           vjp(rules.exp, 0, lambda g, out, a: g.sum() * out), lambda a: a.exp(), same(1, max_dims=2)),
    Mutant("max.grad_to_every_element", "max vjps[0]", "g sent to every element instead of the argmax",
           vjp(rules.reduce_max, 0, lambda g, out, a, axis, keepdims: g.reshape(_kept(a.shape, axis)).broadcast_to(a.shape)),
           lambda a: a.amax(axis=-1), rows(ODD_TENTHS, unique=True)),
    Mutant("max.shares_over_wrong_axes", "max vjps[0]",
           "ties counted over the whole tensor, not along the reduced axis",
           vjp(rules.reduce_max, 0, lambda g, out, a, axis, keepdims: g.reshape(_kept(a.shape, axis))
               * (_max_winners(out, a, axis) / _max_winners(out, a, axis).sum())),
           lambda a: a.amax(axis=-1), rows(ODD_TENTHS, unique=True, min_rows=2)),
    Mutant("log_softmax.drops_softmax_term", "log_softmax vjps[0]", "g (the -softmax*sum(g) term dropped)",
           vjp(rules.log_softmax, 0, lambda g, out, a, axis: g), LOG_SOFTMAX, rows()),
    Mutant("log_softmax.missing_sum", "log_softmax vjps[0]", "g - softmax*g instead of g - softmax*sum(g)",
           vjp(rules.log_softmax, 0, lambda g, out, a, axis: g - out.exp() * g), LOG_SOFTMAX, rows()),
    Mutant("log_softmax.sums_all_axes", "log_softmax vjps[0]", "sum(g) over every axis instead of the softmax axis",
           vjp(rules.log_softmax, 0, lambda g, out, a, axis: g - out.exp() * g.sum(keepdims=True)),
           LOG_SOFTMAX, rows(min_rows=2)),
    Mutant("log_softmax.out_not_exp", "log_softmax vjps[0]", "out (log-probabilities) where softmax = exp(out) belongs",
           vjp(rules.log_softmax, 0, lambda g, out, a, axis: g - out * g.sum(axis=axis, keepdims=True)),
           LOG_SOFTMAX, rows()),
    # -- matrix products and layouts ---------------------------------------------------
    Mutant("matmul.a.no_transpose", "matmul vjps[0]", "g @ b instead of g @ b.T (square: still runs)",
           vjp(rules.matmul, 0, _matrix_branch(0, lambda g, out, a, b: g @ b)),
           lambda a, b: a @ b, shaped(SQUARE, SQUARE)),
    Mutant("matmul.b.no_transpose", "matmul vjps[1]", "a @ g instead of a.T @ g (square: still runs)",
           vjp(rules.matmul, 1, _matrix_branch(1, lambda g, out, a, b: a @ g)),
           lambda a, b: a @ b, shaped(SQUARE, SQUARE)),
    Mutant("matmul.a.batched_T", "matmul vjps[0]", "g @ b.T (all axes reversed) instead of swapaxes(-1, -2) on a batch",
           vjp(rules.matmul, 0, _matrix_branch(0, lambda g, out, a, b: g @ b.T)), lambda a, b: a @ b, shaped(CUBE, CUBE)),
    Mutant("linear.w.transposed", "linear vjps[1]", "x.T @ g (laid out like w.T) instead of g.T @ x",
           vjp(rules.linear, 1, lambda g, out, x, w, b: x.T @ g), F.linear, shaped(SQUARE, SQUARE, VECTOR)),
    Mutant("linear.x.w_transposed", "linear vjps[0]", "g @ w.T instead of g @ w",
           vjp(rules.linear, 0, lambda g, out, x, w, b: g @ w.T), F.linear, shaped(SQUARE, SQUARE, VECTOR)),
    Mutant("linear.b.wrong_axis", "linear vjps[2]", "bias gradient summed over features instead of the batch",
           vjp(rules.linear, 2, lambda g, out, x, w, b: g.sum(axis=-1)), F.linear, shaped(SQUARE, SQUARE, VECTOR)),
    Mutant("transpose.not_inverted", "transpose vjps[0]", "g.transpose(axes) instead of the inverse permutation",
           vjp(rules.transpose, 0, lambda g, out, a, axes: g.permute(axes)),
           lambda a: a.permute(1, 2, 0), shaped(CUBE)),
    Mutant("transpose.identity", "transpose vjps[0]", "g returned as it is (square: still runs)",
           vjp(rules.transpose, 0, lambda g, out, a, axes: g), lambda a: a.T, shaped(SQUARE)),
    Mutant("reshape.transposed", "reshape vjps[0]", "g.T.reshape(a.shape): the gradient read in the wrong order",
           vjp(rules.reshape, 0, lambda g, out, a, shape: g.T.reshape(a.shape)),
           lambda a: a.reshape(a.shape[1], a.shape[0]), shaped(lambda n: (n, n + 1))),
    Mutant("reshape.to_out_shape", "reshape vjps[0]", "g.reshape(out.shape): the gradient keeps the output's shape",
           vjp(rules.reshape, 0, lambda g, out, a, shape: g.reshape(out.shape)),
           lambda a: a.reshape(-1), shaped(lambda n: (n, n + 1)), crashes=True,
           note="the engine refuses the mis-shaped gradient: a crash, not a wrong number"),
    Mutant("stack.ignores_axis", "stack vjps", "g[i] (axis 0) whatever the stacking axis",
           lambda: replaced(rules.stack, "vjp", lambda g, out, *inputs, axis: [g[i] for i in range(len(inputs))]),
           lambda a, b: tg.stack([a, b], axis=1), _plain(testing.operands([(2,), (2,)], ANY, ANY))),
    Mutant("getitem.scatter_assigns", "scatter forward",
           "the getitem VJP scatters with out[index] = g: repeats overwrite",
           forward(rules.scatter, _scatter_assigns), lambda a, index: a[index], repeated_indices()),
    # -- forward/VJP mismatches ----------------------------------------------------------
    Mutant("sigmoid.forward_abs", "sigmoid forward", "negative branch copy-pasted: computes sigmoid(|a|)",
           forward(rules.sigmoid, _sigmoid_abs), lambda a: a.sigmoid(), same(1, ODD_TENTHS)),
    Mutant("log_softmax.forward_no_normaliser", "log_softmax forward", "a - max(a): the log-sum-exp term forgotten",
           forward(rules.log_softmax, _log_softmax_no_normaliser), LOG_SOFTMAX, rows(ODD_TENTHS, unique=True)),
    # -- ties (inputs with two-way ties on purpose) --------------------------------------
    Mutant("max.ties_not_split", "max vjps[0]", "every tied maximum gets all of g",
           vjp(rules.reduce_max, 0, lambda g, out, a, axis, keepdims: g.reshape(_kept(a.shape, axis))
               * _max_winners(out, a, axis).astype(a.dtype)),
           lambda a: a.amax(axis=-1), matrix_with_row_ties(), checkers=GRADGRAD_AT_TIES,
           note="inputs have two-way ties, where the central difference is the even split"),
    Mutant("max.first_winner_only", "max vjps[0]", "g goes to the first of tied maxima (argmax) only",
           vjp(rules.reduce_max, 0, _max_first_winner), lambda a: a.amax(axis=-1), matrix_with_row_ties(),
           checkers=GRADGRAD_AT_TIES, note="inputs have two-way ties"),
    Mutant("maximum.ties_to_first", "maximum vjps", "ties give all of g to the first operand (>= instead of >)",
           vjps(rules.maximum, lambda g, out, a, b: g * (a.data >= b.data), lambda g, out, a, b: g * (b.data > a.data)),
           lambda a, b: a.maximum(b), pairs_with_ties(), checkers=GRADGRAD_AT_TIES, note="inputs tie at some elements"),
    # -- the engine ----------------------------------------------------------------------
    Mutant("engine.accumulate_overwrites", "graph._accumulate", "a second contribution replaces the first",
           accumulate(_accumulate_overwrites), lambda a: a * a + a.exp(), same(1)),
    Mutant("engine.accumulate_keeps_first", "graph._accumulate", "later contributions are dropped",
           accumulate(_accumulate_keeps_first), lambda a, b: a * b + a.tanh() * b, bcast(ANY, ANY)),
    # -- second order: right values, wrong graph ----------------------------------------
    Mutant("tanh.detached_out", "tanh vjps[0]", "g*(1-o*o) with o = out.detach()",
           vjp(rules.tanh, 0, lambda g, out, a: g * (1 - out.detach() * out.detach())),
           lambda a: a.tanh(), same(1), order=SECOND),
    Mutant("sigmoid.mask_from_data", "sigmoid vjps[0]", "g * (out.data*(1-out.data)), a numpy constant",
           vjp(rules.sigmoid, 0, lambda g, out, a: g * (out.data * (1 - out.data))),
           lambda a: a.sigmoid(), same(1), order=SECOND),
    Mutant("exp.detached_out", "exp vjps[0]", "g*out.detach()", vjp(rules.exp, 0, lambda g, out, a: g * out.detach()),
           lambda a: a.exp(), same(1), order=SECOND),
    Mutant("log.reciprocal_in_numpy", "log vjps[0]", "g * (1/a.data)",
           vjp(rules.log, 0, lambda g, out, a: g * (1 / a.data)),
           lambda a: a.log(), same(1, POSITIVE), order=SECOND),
    Mutant("mul.detached_operands", "mul vjps", "g*b.detach() and g*a.detach(): no mixed second derivative",
           vjps(rules.mul, lambda g, out, a, b: g * b.detach(), lambda g, out, a, b: g * a.detach()),
           lambda a, b: a * b, bcast(ANY, ANY), order=SECOND),
    Mutant("div.b.in_numpy", "div vjps[1]", "-g * (out.data/b.data)",
           vjp(rules.div, 1, lambda g, out, a, b: -g * (out.data / b.data)), lambda a, b: a / b,
           bcast(ANY, NONZERO), order=SECOND),
    Mutant("pow.a.detached_power", "pow vjps[0]", "g*b*(a**(b-1)).detach()",
           vjp(rules.power, 0, lambda g, out, a, b: g * b * (a ** (b - 1)).detach()), lambda a, b: a ** b,
           bcast(POSITIVE, ANY), order=SECOND),
    Mutant("log_softmax.softmax_in_numpy", "log_softmax vjps[0]", "softmax taken as np.exp(out.data)",
           vjp(rules.log_softmax, 0, lambda g, out, a, axis: g - np.exp(out.data) * g.sum(axis=axis, keepdims=True)),
           LOG_SOFTMAX, rows(), order=SECOND),
    Mutant("matmul.a.detached_b", "matmul vjps[0]", "the VJP of a computed with b.detach()",
           vjp(rules.matmul, 0, lambda g, out, a, b: rules._matmul_vjp_a(g, out, a, b.detach())),
           lambda a, b: a @ b, _plain(testing.operands([(2, 3), (3, 2)], ANY, ANY)), order=SECOND),
    Mutant("linear.x.detached_w", "linear vjps[0]", "g @ w.detach()",
           vjp(rules.linear, 0, lambda g, out, x, w, b: g @ w.detach()), F.linear,
           _plain(testing.operands([(2, 3), (2, 3), (2,)], ANY, ANY, ANY)),
           order=SECOND),
    Mutant("sum.vjp_in_numpy", "sum vjps[0]", "the broadcast done on g.data: no derivative with respect to g",
           vjp(rules.reduce_sum, 0, lambda g, out, a, axis, keepdims:
               Tensor._wrap(np.broadcast_to(g.data.reshape(_kept(a.shape, axis)), a.shape).copy())),
           lambda a: (a * a).sum(axis=0), rows(), order=SECOND),
    Mutant("relu.vjp_in_numpy", "relu vjps[0]", "g.data * (a.data > 0): no derivative with respect to g",
           vjp(rules.relu, 0, lambda g, out, a: Tensor._wrap(g.data * (a.data > 0))),
           lambda a: (a * a).relu(), same(1, ODD_TENTHS), order=SECOND),
    Mutant("engine.accumulate_in_numpy", "graph._accumulate", "fan-out summed on .data even under create_graph",
           accumulate(_accumulate_in_numpy), lambda a: a * a.tanh(), same(1), order=SECOND),
    # -- equivalent on continuous inputs --------------------------------------------------
    Mutant("relu.ge_mask", "relu vjps[0]", "mask a >= 0 instead of a > 0",
           vjp(rules.relu, 0, lambda g, out, a: g * (a.data >= 0)), lambda a: a.relu(), same(1, ODD_TENTHS),
           order=EQUIVALENT,
           note="differs only at a == 0 exactly, the kink, where relu has no derivative: the central "
                "difference there is 1/2, so neither mask agrees with it and no input can tell them apart"),
    Mutant("linear.b.not_reduced", "linear vjps[2]", "returns g unreduced, shaped (batch, out)",
           vjp(rules.linear, 2, lambda g, out, x, w, b: g), F.linear,
           _plain(testing.operands([(3, 2), (2, 2), (2,)], ANY, ANY, ANY)),
           order=EQUIVALENT,
           note="the engine sums a broadcast-shaped gradient back to the input's shape (unbroadcast), "
                "so the missing reduction is repaired before anyone sees it"),
]

BY_NAME = {m.name: m for m in MUTANTS}
assert len(BY_NAME) == len(MUTANTS), "mutant names must be unique"


# ---- scaled mutants: a VJP wrong by a relative d ------------------------------------------
DS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
SCALE, ELEMENT, NOISE = "scale", "element", "noise"
SCALED_KINDS = (SCALE, ELEMENT, NOISE)
SMALL = testing.elements(low=-1.0, high=1.0)  # sin' = cos stays >= 0.54


@dataclass(frozen=True, repr=False)
class ScaledMutant(Mutant):
    """A VJP that is right up to a relative error ``d`` of the given ``kind``."""

    d: float = 0.0
    kind: str = SCALE
    primitive: str = ""


def _distort(kind: str, d: float, seed: int) -> Callable[[Tensor], Tensor]:
    """Multiply a gradient by ``1 + d`` (``scale``), only its first element by ``1 + d`` (``element``)
    or each element by ``1 + d`` or ``1 - d`` with a random sign (``noise``)."""
    def apply(r: Tensor) -> Tensor:
        shape = r.shape
        if kind == SCALE:
            return r * (1 + d)
        if kind == ELEMENT:
            factor = np.ones(shape)
            factor.flat[0] = 1 + d
        else:
            signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=shape)
            factor = 1 + d * signs
        return r * Tensor(np.asarray(factor, dtype=np.float64))
    return apply


def _scaled_vjp(prim: rules.Primitive, index: int, kind: str, d: float,
                seed: int) -> Callable[[], ContextManager[None]]:
    original = prim.vjps[index]  # the correct entry, taken when the module is imported
    distort = _distort(kind, d, seed)
    return vjp(prim, index, lambda g, out, *args, **kwargs: distort(original(g, out, *args, **kwargs)))


def _pair(first: st.SearchStrategy, second: st.SearchStrategy, shapes: st.SearchStrategy) -> st.SearchStrategy:
    return _plain(testing.operands(shapes, first, second))


_SAME_PAIR = testing.shapes(max_dims=2, max_side=3).map(lambda s: (s, s))
_MATMUL_PAIR = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).map(
    lambda nkm: ((nkm[0], nkm[1]), (nkm[1], nkm[2])))

# (name, primitive, VJP index, program, inputs): derivatives of order one, no kinks or poles nearby
SCALED_TARGETS: list[tuple[str, rules.Primitive, int, Callable[..., Tensor], st.SearchStrategy]] = [
    ("tanh", rules.tanh, 0, lambda a: a.tanh(), same(1)),
    ("exp", rules.exp, 0, lambda a: a.exp(), same(1)),
    ("sin", rules.sin, 0, lambda a: a.sin(), same(1, SMALL)),
    ("log", rules.log, 0, lambda a: a.log(), same(1, POSITIVE)),
    ("mul.a", rules.mul, 0, lambda a, b: a * b, _pair(ANY, NONZERO, _SAME_PAIR)),
    ("matmul.b", rules.matmul, 1, lambda a, b: a @ b, _pair(NONZERO, ANY, _MATMUL_PAIR)),
]


def _scaled_mutants() -> list[ScaledMutant]:
    out = []
    for i, (name, prim, index, program, inputs) in enumerate(SCALED_TARGETS):
        for kind in SCALED_KINDS:
            for d in DS:
                out.append(ScaledMutant(
                    f"scaled.{name}.{kind}.{d:.0e}", f"{prim.name} vjps[{index}]",
                    f"{kind}: the gradient wrong by a relative {d:.0e}",
                    _scaled_vjp(prim, index, kind, d, seed=i), program, inputs,
                    checkers=SCALED_CHECKERS, d=d, kind=kind, primitive=name))
    return out


SCALED_MUTANTS: list[ScaledMutant] = _scaled_mutants()
SCALED_BY_NAME = {m.name: m for m in SCALED_MUTANTS}
assert len(SCALED_BY_NAME) == len(SCALED_MUTANTS) and not set(SCALED_BY_NAME) & set(BY_NAME)


# ---- drawing inputs reproducibly -------------------------------------------------------
def draw(strategy: st.SearchStrategy, k: int = K, key: str = "") -> list[Any]:
    """``k`` examples of ``strategy``, the same ones on every run: a hypothesis run seeded from ``key``.

    Not ``derandomize``: it seeds from a digest of the test that includes the
    strategy's repr, and a lambda's repr holds its address, which moves with
    whatever else the process imported.
    """
    found: list[Any] = []

    @hypothesis_seed(zlib.crc32(key.encode()))
    @settings(max_examples=k, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found[:k]


@lru_cache(maxsize=None)
def examples(name: str, k: int = K) -> tuple[Any, ...]:
    mutant = BY_NAME[name] if name in BY_NAME else SCALED_BY_NAME[name]
    return tuple(draw(mutant.inputs, k, key=name))


# ---- running a checker ------------------------------------------------------------------
PASSED, CAUGHT, CRASH, MISSED, NOT_APPLICABLE = "passed", "caught", "crash", "missed", "n/a"


def run_checker(checker: str, program: Callable[..., Tensor], arrays: tuple[np.ndarray, ...],
                params: dict[str, Any], seed: int = 0) -> tuple[str, str]:
    """One checker on one input: ``(passed | caught | crash, detail)``.

    A RuntimeWarning (overflow, invalid value) is an error here, in the tests and in
    the benchmark alike, so a bug that produces nan counts the same way in both.
    """
    tensors = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]

    def fn(*ts: Tensor) -> Tensor:
        return program(*ts, **params)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            if checker == "full":
                gradcheck(fn, tensors)
            elif checker == "fast":
                gradcheck(fn, tensors, fast_mode=True, seed=seed)
            elif checker == "gradgrad":
                gradgradcheck(fn, tensors, seed=seed)
            elif checker == "bound":
                check_gradients(fn, tensors)
            elif checker == "bound-fast":
                check_gradients(fn, tensors, fast=True, seed=seed)
            elif checker == BOUND_GRADGRAD:
                check_second_derivatives(fn, tensors, seed=seed)
            else:
                raise ValueError(f"unknown checker {checker!r}")
    except GradcheckError as exc:
        return CAUGHT, str(exc)
    except Exception as exc:  # the program itself failed loudly
        return CRASH, f"{type(exc).__name__}: {exc}"
    return PASSED, ""


@dataclass
class Verdict:
    """One checker on one mutant over its K inputs."""

    mutant: str
    checker: str
    outcome: str  # caught | crash | missed | n/a
    per_input: list[str] = field(default_factory=list)  # passed | caught | crash, input by input
    detail: str = ""  # the first message from a catch or crash

    @property
    def detected(self) -> bool:
        return self.outcome in (CAUGHT, CRASH)


def applies(mutant: Mutant, checker: str) -> bool:
    """Whether ``checker`` is meaningful on the mutant's inputs (the error-bounded second-order check goes
    wherever gradgradcheck does)."""
    return checker in mutant.checkers or (checker == BOUND_GRADGRAD and "gradgrad" in mutant.checkers)


def evaluate(mutant: Mutant, checker: str, k: int = K, stop_early: bool = False) -> Verdict:
    """Run ``checker`` on the mutated program over ``k`` inputs (input i uses seed i)."""
    if not applies(mutant, checker):
        return Verdict(mutant.name, checker, NOT_APPLICABLE)
    per_input, detail = [], ""
    for i, (arrays, params) in enumerate(examples(mutant.name, k)):
        with mutant.patch():
            outcome, message = run_checker(checker, mutant.program, arrays, params, seed=i)
        per_input.append(outcome)
        detail = detail or message
        if stop_early and outcome != PASSED:
            break
    outcome = CAUGHT if CAUGHT in per_input else CRASH if CRASH in per_input else MISSED
    return Verdict(mutant.name, checker, outcome, per_input, detail)


def baseline(mutant: Mutant, checker: str, k: int = K) -> list[tuple[str, str]]:
    """The same checker on the same inputs with the table left correct: must all pass."""
    if not applies(mutant, checker):
        return []
    return [run_checker(checker, mutant.program, arrays, params, seed=i)
            for i, (arrays, params) in enumerate(examples(mutant.name, k))]


# ---- random correct programs for the false-alarm sweep -------------------------------------
MARGIN = 1e-3  # how far every kink, tie and clip bound stays from the values a program meets
LIMIT = 50.0  # no intermediate value larger than this (keeps exp, pow, products tame)
MAX_SIZE = 18  # elements per intermediate value


@dataclass
class Program:
    """A random composite: ``fn(*inputs)`` replays ``steps``; ``arrays`` are the inputs' values."""

    seed: int
    arrays: list[np.ndarray]
    steps: list[tuple[str, Callable[..., Tensor], tuple[int, ...]]]

    def fn(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        """Every value no later step uses (the last one included) is an output."""
        values = list(inputs)
        for _, op, args in self.steps:
            values.append(op(*(values[i] for i in args)))
        return tuple(values[i] for i in self.outputs)

    @property
    def outputs(self) -> list[int]:
        used = {i for _, _, args in self.steps for i in args}
        first = len(self.arrays)
        return [first + j for j in range(len(self.steps)) if first + j not in used]

    def describe(self) -> str:
        n = len(self.arrays)
        names = [f"x{i}{tuple(a.shape)}" for i, a in enumerate(self.arrays)]
        names += [f"v{j}" for j in range(len(self.steps))]
        lines = [f"seed {self.seed}: inputs " + ", ".join(names[:n])]
        for j, (name, _, args) in enumerate(self.steps):
            lines.append(f"  v{j} = {name}({', '.join(names[i] for i in args)})")
        lines.append("  outputs " + ", ".join(names[i] for i in self.outputs))
        return "\n".join(lines)


class _Reject(Exception):
    """The drawn op does not apply (shape) or is unsafe (kink, tie, pole, size) here."""


def _gap(values: np.ndarray) -> float:
    return float(np.min(np.abs(values))) if values.size else np.inf


def _random_shape(rng: np.random.Generator, max_dims: int = 3) -> tuple[int, ...]:
    return tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(0, max_dims + 1))))


def _broadcast_partner(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape broadcasting with ``shape``: a random suffix, some sides set to 1."""
    suffix = shape[len(shape) - int(rng.integers(0, len(shape) + 1)):]
    return tuple(1 if rng.random() < 0.3 else n for n in suffix)


def _axis(rng: np.random.Generator, ndim: int) -> int:
    return int(rng.integers(0, ndim))


class _Builder:
    """Draws a program step by step, evaluating it as it goes so each op can be checked for safety."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.arrays: list[np.ndarray] = []
        self.values: list[Tensor] = []  # inputs first, then one value per step
        self.steps: list[tuple[str, Callable[..., Tensor], tuple[int, ...]]] = []
        self.n_inputs = 0

    def new_input(self, shape: tuple[int, ...]) -> int:
        """Inputs come before every step, so a new one is inserted after the existing inputs."""
        array = self.rng.uniform(-2, 2, size=shape)
        self.arrays.append(array)
        self.values.insert(self.n_inputs, Tensor(array))
        index = self.n_inputs
        self.n_inputs += 1
        self.steps = [(name, op, tuple(i + (i >= index) for i in args)) for name, op, args in self.steps]
        return index

    def pick(self) -> int:
        """A value to work on; the most recent one most of the time, so programs are chains."""
        if self.rng.random() < 0.8:
            return len(self.values) - 1
        return int(self.rng.integers(0, len(self.values)))

    def partner(self, x: int) -> tuple[int, int]:
        """``(x, y)``: ``y`` broadcasts with ``x``, an existing value when possible, else a new
        input (which moves ``x`` up by one if ``x`` came after the inputs)."""
        shape = self.values[x].shape
        candidates = [i for i, v in enumerate(self.values)
                      if i != x and _broadcastable(v.shape, shape) and np.broadcast_shapes(v.shape, shape) == shape]
        if candidates and self.rng.random() < 0.5:
            return x, int(self.rng.choice(candidates))
        y = self.new_input(_broadcast_partner(self.rng, shape))
        return x + (x >= y), y

    def apply(self, name: str, op: Callable[..., Tensor], args: tuple[int, ...]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            value = op(*(self.values[i] for i in args))
        data = value.data
        if data.dtype != np.float64 or data.size > MAX_SIZE or not np.all(np.abs(data) <= LIMIT):
            raise _Reject(name)
        self.values.append(value)
        self.steps.append((name, op, args))


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _unary(b: _Builder) -> None:
    x = b.pick()
    v = b.values[x].data
    name = str(b.rng.choice(["neg", "tanh", "sigmoid", "exp", "log", "log_sq", "sqrt_sq", "relu", "abs",
                             "square", "cube", "inv_sq", "clip", "leaky_relu", "cast", "scale"]))
    c = float(np.round(b.rng.uniform(-2, 2), 2))
    if name in ("relu", "abs", "leaky_relu") and _gap(v) < MARGIN:
        raise _Reject(name)
    if name == "log" and not np.all(v > 0.2):
        raise _Reject(name)
    if name == "clip":
        lo, hi = sorted(np.round(b.rng.uniform(-2, 2, size=2), 2))
        if _gap(v - lo) < MARGIN or _gap(v - hi) < MARGIN:
            raise _Reject(name)
        b.apply(f"clip[{lo},{hi}]", lambda t: t.clip(lo, hi), (x,))
        return
    ops_by_name = {
        "neg": lambda t: -t, "tanh": Tensor.tanh, "sigmoid": Tensor.sigmoid, "exp": Tensor.exp,
        "log": Tensor.log, "log_sq": lambda t: (t * t + 0.5).log(), "sqrt_sq": lambda t: (t * t + 0.5).sqrt(),
        "relu": Tensor.relu, "abs": Tensor.abs, "square": lambda t: t ** 2, "cube": lambda t: t ** 3,
        "inv_sq": lambda t: 1 / (t * t + 0.5), "leaky_relu": lambda t: F.leaky_relu(t, 0.1),
        "cast": lambda t: t.astype(np.float64), "scale": lambda t: t * c + 0.5,
    }
    b.apply(name if name != "scale" else f"scale[{c}]", ops_by_name[name], (x,))


def _binary(b: _Builder) -> None:
    x = b.pick()
    name = str(b.rng.choice(["add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "rsub"]))
    x, y = b.partner(x)
    vx, vy = b.values[x].data, b.values[y].data
    if name == "div" and _gap(vy) < 0.3:
        raise _Reject(name)
    if name == "pow" and not (np.all(vx > 0.2) and np.all(np.abs(vy) <= 3)):
        raise _Reject(name)
    if name in ("maximum", "minimum") and _gap(vx - vy) < MARGIN:
        raise _Reject(name)
    if name == "where":
        cond = b.rng.random(np.broadcast_shapes(vx.shape, vy.shape)) < 0.5
        b.apply("where", lambda s, t: tg.where(cond, s, t), (x, y))
        return
    ops_by_name = {
        "add": lambda s, t: s + t, "sub": lambda s, t: s - t, "rsub": lambda s, t: t - s,
        "mul": lambda s, t: s * t, "div": lambda s, t: s / t, "pow": lambda s, t: s ** t,
        "maximum": Tensor.maximum, "minimum": Tensor.minimum,
    }
    b.apply(name, ops_by_name[name], (x, y))


def _reduce(b: _Builder) -> None:
    x = b.pick()
    t = b.values[x]
    if t.ndim == 0:
        raise _Reject("reduce")
    name = str(b.rng.choice(["sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax"]))
    axis = None if b.rng.random() < 0.3 else _axis(b.rng, t.ndim)
    keepdims = bool(b.rng.random() < 0.3)
    if name in ("max", "min"):
        ordered = np.sort(t.data, axis=axis)
        if ordered.size > 1:
            flat = ordered.reshape(-1) if axis is None else np.moveaxis(ordered, axis, -1)
            if flat.shape[-1] > 1 and np.min(np.abs(flat[..., -1] - flat[..., -2]) if name == "max"
                                             else np.abs(flat[..., 1] - flat[..., 0])) < MARGIN:
                raise _Reject(name)
    if name in ("softmax", "log_softmax"):
        ax = axis if axis is not None else t.ndim - 1
        b.apply(f"{name}[axis={ax}]", lambda s: getattr(s, name)(axis=ax), (x,))
        return
    method = {"max": "amax", "min": "amin"}.get(name, name)  # max(dim) would give (values, indices)
    if name == "logsumexp" and axis is None:
        axis = tuple(range(t.ndim))  # logsumexp needs a dim
    b.apply(f"{name}[axis={axis},keepdims={keepdims}]",
            lambda s: getattr(s, method)(axis=axis, keepdims=keepdims), (x,))


def _shape(b: _Builder) -> None:
    x = b.pick()
    t = b.values[x]
    name = str(b.rng.choice(["reshape", "flatten", "transpose", "swapaxes", "getitem_repeat", "getitem_slice",
                             "getitem_mask", "broadcast_to", "stack"]))
    if name == "reshape":
        sizes = [d for d in range(1, t.numel() + 1) if t.numel() % d == 0]
        first = int(b.rng.choice(sizes))
        shape = (first, -1) if b.rng.random() < 0.7 else (first, t.numel() // first, 1)
        b.apply(f"reshape{shape}", lambda s: s.reshape(*shape), (x,))
    elif name == "flatten":
        b.apply("flatten", lambda s: s.flatten(), (x,))
    elif name == "transpose":
        if t.ndim < 2:
            raise _Reject(name)
        perm = tuple(int(i) for i in b.rng.permutation(t.ndim))
        b.apply(f"transpose{perm}", lambda s: s.permute(perm), (x,))
    elif name == "swapaxes":
        if t.ndim < 2:
            raise _Reject(name)
        a1, a2 = (int(i) for i in b.rng.choice(t.ndim, size=2, replace=False))
        b.apply(f"swapaxes({a1},{a2})", lambda s: s.swapaxes(a1, a2), (x,))
    elif name == "getitem_repeat":
        if t.ndim == 0:
            raise _Reject(name)
        index = b.rng.integers(0, t.shape[0], size=int(b.rng.integers(1, 5)))
        b.apply(f"getitem[{index.tolist()}]", lambda s: s[index], (x,))
    elif name == "getitem_slice":
        if t.ndim == 0:
            raise _Reject(name)
        b.apply("getitem[::-1, ...]", lambda s: s[::-1, ...], (x,))
    elif name == "getitem_mask":
        mask = b.rng.random(t.shape) < 0.6
        if t.ndim == 0 or not mask.any():
            raise _Reject(name)
        b.apply("getitem[mask]", lambda s: s[mask], (x,))
    elif name == "broadcast_to":
        shape = (2, *t.shape)
        b.apply(f"broadcast_to{shape}", lambda s: s.broadcast_to(shape), (x,))
    else:
        same_shape = [i for i, v in enumerate(b.values) if v.shape == t.shape]
        y = int(b.rng.choice(same_shape))
        axis = _axis(b.rng, t.ndim + 1)
        b.apply(f"stack[axis={axis}]", lambda s, u: tg.stack([s, u], axis=axis), (x, y))


def _matrix(b: _Builder) -> None:
    x = b.pick()
    t = b.values[x]
    if t.ndim == 0:
        raise _Reject("matrix")
    k = int(b.rng.integers(1, 4))
    name = str(b.rng.choice(["matmul", "rmatmul", "linear"]))
    if name == "matmul":
        w = b.new_input((t.shape[-1], k) if b.rng.random() < 0.7 else (t.shape[-1],))
        b.apply("matmul", lambda s, u: s @ u, (x + (x >= w), w))
    elif name == "rmatmul":
        w = b.new_input((k, t.shape[0]) if t.ndim == 1 else (k, t.shape[-2]))
        b.apply("rmatmul", lambda s, u: u @ s, (x + (x >= w), w))
    else:
        w = b.new_input((k, t.shape[-1]))
        bias = b.new_input((k,))
        x_now = x + (x >= w) + (x + (x >= w) >= bias)
        b.apply("linear", F.linear, (x_now, w, bias))


_KINDS = (_unary, _unary, _binary, _binary, _reduce, _shape, _matrix)


def random_program(seed: int, min_ops: int = 3, max_ops: int = 8) -> Program:
    """A correct composite of ``min_ops``..``max_ops`` primitives' worth of steps, safe for finite differences."""
    rng = np.random.default_rng(seed)
    n_ops = int(rng.integers(min_ops, max_ops + 1))
    for attempt in range(100):
        b = _Builder(seed * 1000 + attempt)
        b.new_input(_random_shape(b.rng))
        tries = 0
        while len(b.steps) < n_ops and tries < 200:
            tries += 1
            kind = _KINDS[int(b.rng.integers(0, len(_KINDS)))]
            saved = (list(b.arrays), list(b.values), list(b.steps), b.n_inputs)
            try:
                kind(b)
            except _Reject:
                b.arrays, b.values, b.steps, b.n_inputs = saved
            except (ValueError, RuntimeWarning):
                b.arrays, b.values, b.steps, b.n_inputs = saved
        if len(b.steps) == n_ops:
            return Program(seed, b.arrays, b.steps)
    raise RuntimeError(f"random_program: could not build a program for seed {seed}")


def check_program(program: Program) -> tuple[str, str]:
    """Full gradcheck of one random program: ``(passed | caught | crash, detail)``."""
    return run_checker("full", program.fn, tuple(program.arrays), {})


# ---- detection by error size --------------------------------------------------------------
def detection_by_d(checkers: tuple[str, ...] = SCALED_CHECKERS, ds: tuple[float, ...] = DS,
                   k: int = K) -> dict[tuple[str, float], float]:
    """For each checker and ``d``: the fraction of (scaled mutant, input) pairs caught, over ``k`` inputs each."""
    table = {}
    for checker in checkers:
        for d in ds:
            outcomes = [o for m in SCALED_MUTANTS if m.d == d for o in evaluate(m, checker, k).per_input]
            table[(checker, d)] = outcomes.count(CAUGHT) / len(outcomes)
    return table


# ---- ill-conditioned correct programs -----------------------------------------------------
def contracting_chain(x: Tensor, n: int) -> Tensor:
    for k in range(n):
        x = (x * 1.1).tanh() + x.sin() * 0.5 if k % 2 else (x * 0.3).exp() - 1
    return x


def smooth_chain(x: Tensor, n: int) -> Tensor:
    for k in range(n):
        x = (x * 1.3 + 0.2).tanh() * 1.5 if k % 2 else x.sin() * 1.2 + (x * 0.2).exp() * 0.3
    return x


def _near(rng: np.random.Generator, at: float, size: int) -> np.ndarray:
    """Points at ``at`` +- 10**U(-5, -1.5): some within the finite-difference steps of the kink, some beyond."""
    return at + rng.choice([-1.0, 1.0], size=size) * 10 ** rng.uniform(-5, -1.5, size=size)


ILL_FAMILIES = ("large dynamic range", "exp of large arguments", "steep exp", "near kinks", "near a max tie",
                "long contracting chain", "long smooth chain", "cancellation", "softmax of large logits")


def ill_conditioned_program(seed: int) -> Program:
    """A correct but ill-conditioned program (one of ``ILL_FAMILIES`` in turn, drawn from ``seed``):
    values or derivatives spanning many orders of magnitude, points near kinks, long chains."""
    rng = np.random.default_rng(10_000_000 + seed)
    family = ILL_FAMILIES[seed % len(ILL_FAMILIES)]
    n = int(rng.integers(2, 6))
    sign = rng.choice([-1.0, 1.0], size=n)
    if family == "large dynamic range":
        scales = 10 ** rng.uniform(-6, 6, size=n)
        arrays = [sign * rng.uniform(0.1, 2.0, size=n) / scales]
        op = lambda x: (x * Tensor(scales)).sin() * 1e8 + (x * x + 1).log() * x  # noqa: E731
    elif family == "exp of large arguments":
        arrays = [sign * rng.uniform(20.0, 60.0, size=n)]
        op = lambda x: x.exp() * (x * 0.5).sin()  # noqa: E731
    elif family == "steep exp":
        c = float(rng.uniform(10.0, 40.0))
        arrays = [rng.uniform(-1.0, 1.1, size=n)]
        op = lambda x: (x * c).exp().sum()  # noqa: E731
    elif family == "near kinks":
        arrays = [np.concatenate([_near(rng, 0.0, n), _near(rng, 0.5, n)])]
        op = lambda x: x.relu() + x.abs() * 2 + x.clip(-0.5, 0.5) + F.leaky_relu(x, 0.1)  # noqa: E731
    elif family == "near a max tie":
        a = rng.uniform(-2.0, 2.0, size=n)
        arrays = [a, a + rng.choice([-1.0, 1.0], size=n) * 10 ** rng.uniform(-5, -1.5, size=n)]
        op = lambda s, t: s.maximum(t) * s + tg.stack([s, t]).amax(axis=0)  # noqa: E731
    elif family == "long contracting chain":
        length = int(rng.integers(20, 80))
        arrays = [rng.uniform(-1.5, 1.5, size=n)]
        op = lambda x: contracting_chain(x, length)  # noqa: E731
    elif family == "long smooth chain":
        length = int(rng.integers(20, 100))
        arrays = [rng.uniform(-1.5, 1.5, size=n)]
        op = lambda x: smooth_chain(x, length)  # noqa: E731
    elif family == "cancellation":
        big = float(10 ** rng.uniform(2, 5))
        arrays = [rng.uniform(-2.0, 2.0, size=n)]
        op = lambda x: (x + big) * (x + big) - x * (2 * big)  # noqa: E731
    else:
        c = float(rng.uniform(10.0, 50.0))
        arrays = [rng.uniform(-1.5, 1.5, size=(int(rng.integers(1, 3)), n))]
        op = lambda x: F.log_softmax(x * c, dim=-1)  # noqa: E731
    return Program(seed, arrays, [(family, op, tuple(range(len(arrays))))])
