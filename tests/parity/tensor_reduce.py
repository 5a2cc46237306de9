"""Reductions and selection: ``dim=``/``keepdim=`` (and the ``axis=``/``keepdims=`` aliases),
``max``/``min`` with and without ``dim`` (values and indices, gradients and ties), ``amax``/``amin``,
``argmax``/``argmin``, ``logsumexp``, ``softmax``/``log_softmax(dim)``, ``prod``, ``var``/``std``,
``norm``, ``cumsum``, ``any``/``all``, ``sort``/``argsort``/``topk``, ``gather``, ``scatter``,
``index_select``, ``masked_fill``."""

from __future__ import annotations

import numpy as np

from parity import case, raises, value_and_grad

M = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.75]])
TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])


def _x(T, array=M):
    return T.tensor(array, dtype=T.float64, requires_grad=True)


def _run(T, f, array=M):
    return value_and_grad(T, f, array)


# ---- dim= / keepdim= everywhere --------------------------------------------------------------------
@case
def sum_dim_keepdim(T):
    return (_run(T, lambda x: x.sum()), _run(T, lambda x: x.sum(dim=1, keepdim=True)), _run(T, lambda x: x.sum(0)),
            _run(T, lambda x: x.sum((0, 1))), _run(T, lambda x: x.sum(axis=1, keepdims=True)))


@case
def sum_of_ints_and_bools_is_int64(T):
    return T.tensor([1, 2], dtype=T.int32).sum(), T.tensor([True, True, False]).sum()


@case
def mean_dim_keepdim(T):
    return _run(T, lambda x: x.mean()), _run(T, lambda x: x.mean(dim=-1, keepdim=True)), _run(T, lambda x: x.mean(0))


@raises
def mean_of_ints(T):
    T.tensor([1, 2]).mean()


@raises
def sum_dim_out_of_range(T):
    T.zeros(2, 3).sum(dim=2)


@case
def logsumexp_dim(T):
    return _run(T, lambda x: x.logsumexp(1)), _run(T, lambda x: x.logsumexp(dim=0, keepdim=True))


@raises
def logsumexp_needs_dim(T):
    T.zeros(2, 3).logsumexp()


@raises
def softmax_method_needs_dim(T):
    T.zeros(2, 3).softmax()


@case
def functional_softmax_implicit_dim(T):
    a = np.arange(24.0).reshape(2, 3, 4) / 10
    F = T.nn.functional
    return (_run(T, lambda x: F.softmax(x), a), _run(T, lambda x: F.log_softmax(x)),
            _run(T, lambda x: F.softmax(x), np.arange(3.0)))


@case
def softmax_and_log_softmax_dim(T):
    return (_run(T, lambda x: x.softmax(dim=0)), _run(T, lambda x: x.log_softmax(1)),
            _run(T, lambda x: T.nn.functional.softmax(x, dim=0)), _run(T, lambda x: T.nn.functional.log_softmax(x, -1)))


# ---- max / min: values and indices; amax / amin; argmax / argmin -----------------------------------------
@case
def max_with_dim_is_values_and_indices(T):
    x = _x(T, TIES)
    out = x.max(dim=1)
    values, indices = out
    (values * T.tensor([1.0, 10.0], dtype=T.float64)).sum().backward()
    return values, indices, out.values, out.indices, isinstance(out, tuple), x.grad


@case
def max_dim_keepdim_and_min(T):
    x = _x(T, TIES)
    top = x.max(0, keepdim=True)
    low = x.min(1)
    (top.values.sum() + (low.values * 3).sum()).backward()
    return top, low, x.grad


@case
def max_index_zero_is_the_values(T):
    return _x(T, TIES).max(1)[0], _x(T, TIES).min(1)[1]


@case
def max_without_dim_splits_ties_evenly(T):
    return _run(T, lambda x: x.max(), TIES), _run(T, lambda x: x.min(), TIES)


@case
def amax_amin_share_ties(T):
    return (_run(T, lambda x: x.amax(1), TIES), _run(T, lambda x: x.amin(dim=0, keepdim=True), TIES),
            _run(T, lambda x: x.amax(), TIES), _run(T, lambda x: x.amax((0, 1)), TIES))


@case
def argmax_argmin(T):
    x = T.tensor(TIES)
    return x.argmax(), x.argmin(), x.argmax(dim=1), x.argmin(0, keepdim=True), x.argmax(1, True)


@raises
def max_dim_out_of_range(T):
    T.zeros(2, 3).max(2)


@raises
def max_of_empty(T):
    T.zeros(0).max()


# ---- prod, var, std, norm, cumsum, any, all -------------------------------------------------------------
@case
def prod_with_zeros(T):
    a = np.array([[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]])
    return _run(T, lambda x: x.prod(), a), _run(T, lambda x: x.prod(1), a), _run(T, lambda x: x.prod(0, True), a)


@case
def var_std_corrections(T):
    return (_run(T, lambda x: x.var()), _run(T, lambda x: x.var(1)), _run(T, lambda x: x.var(1, unbiased=False)),
            _run(T, lambda x: x.var(dim=0, correction=0, keepdim=True)), _run(T, lambda x: x.std()),
            _run(T, lambda x: x.std(dim=1, keepdim=True)))


@case
def norm_p_dim(T):
    return (_run(T, lambda x: x.norm()), _run(T, lambda x: x.norm(dim=1)), _run(T, lambda x: x.norm(p=1, dim=0)),
            _run(T, lambda x: x.norm(3)), _run(T, lambda x: x.norm(float("inf"), dim=1)))


@case
def norm_of_zero_has_zero_gradient(T):
    return _run(T, lambda x: x.norm(), np.zeros(3))


@case
def cumsum_dim(T):
    return _run(T, lambda x: x.cumsum(1)), _run(T, lambda x: x.cumsum(dim=0)), T.tensor([1, 2, 3]).cumsum(0)


@case
def any_all(T):
    b = T.tensor([[True, False], [False, False]])
    return b.any(), b.all(), b.any(dim=1), b.all(0), T.tensor([1.0, 2.0]).all(), b.any(1, keepdim=True)


# ---- sort, argsort, topk ------------------------------------------------------------------------------------
@case
def sort_and_argsort(T):
    x = _x(T)
    s = x.sort(dim=1)
    d = x.sort(0, descending=True)
    (s.values * T.tensor(np.arange(6.0).reshape(2, 3), dtype=T.float64)).sum().backward()
    return s, d, x.argsort(), x.argsort(dim=0, descending=True), x.grad


@case
def topk_largest_smallest(T):
    x = _x(T)
    top = x.topk(2)
    low = x.topk(1, dim=0, largest=False)
    (top.values.sum() * 2 + low.values.sum()).backward()
    return top, low, x.grad


@raises
def topk_k_too_large(T):
    T.zeros(2, 3).topk(4)


# ---- gather, scatter, scatter_add, index_select, masked_fill ----------------------------------------------------
@case
def gather_along_dims(T):
    i = T.tensor([[2, 0], [1, 1]])
    return _run(T, lambda x: x.gather(1, i)), _run(T, lambda x: x.gather(0, T.tensor([[1, 0, 1]])))


@raises
def gather_index_out_of_range(T):
    T.zeros(2, 3).gather(1, T.tensor([[3], [0]]))


@raises
def gather_float_index(T):
    T.zeros(2, 3).gather(1, T.tensor([[1.0], [0.0]]))


@case
def scatter_add_repeats_add_up(T):
    src = _x(T, np.array([[1.0, 2.0, 3.0]]))
    base = _x(T, np.zeros((2, 3)))
    y = base.scatter_add(0, T.tensor([[1, 0, 1]]), src)
    z = base.scatter_add(1, T.tensor([[0, 0, 2]]), src)
    ((y * 2).sum() + (z * T.tensor(M, dtype=T.float64)).sum()).backward()
    return y, z, src.grad, base.grad


@case
def scatter_writes(T):
    src = _x(T, np.array([[1.0, 2.0], [3.0, 4.0]]))
    base = _x(T)
    y = base.scatter(1, T.tensor([[2, 0], [1, 2]]), src)
    (y * T.tensor(M + 1, dtype=T.float64)).sum().backward()
    return y, src.grad, base.grad, T.tensor(M).scatter(0, T.tensor([[1, 0]]), value=9.0)


@case
def index_select_dims(T):
    return (_run(T, lambda x: x.index_select(1, T.tensor([2, 0, 2]))),
            _run(T, lambda x: x.index_select(0, T.tensor([1]))))


@raises
def index_select_out_of_range(T):
    T.zeros(2, 3).index_select(1, T.tensor([3]))


@case
def masked_fill_value(T):
    mask = T.tensor([[True, False, False], [False, True, True]])
    return (_run(T, lambda x: x.masked_fill(mask, -1.0)),
            _run(T, lambda x: x.masked_fill(T.tensor([False, True, False]), 0.5)))


@raises
def masked_fill_needs_a_bool_mask(T):
    T.zeros(2, 3).masked_fill(T.tensor([[1, 0, 0], [0, 0, 0]]), 1.0)


@case
def max_min_argmax_with_nan(T):
    x = T.tensor([[1.0, np.nan, 3.0], [2.0, 1.0, 0.0]], dtype=T.float64)
    return x.max(1), x.min(dim=1), x.argmax(1), x.argmin(), x.amax(1), x.sort(1)
