"""The shape API: ``transpose(dim0, dim1)``, ``permute``, ``t``/``T``/``mT``, ``view``/``reshape``,
``squeeze``/``unsqueeze``, ``flatten``/``unflatten``, ``expand``, ``repeat``, ``clone``, ``flip``,
``split``/``chunk``/``narrow``, ``cat``/``stack`` with ``dim=``, and the metadata and conversions
(``size()``, ``dim()``, ``numel()``, ``to``, ``long``, ``tolist``, ...)."""

from __future__ import annotations

import numpy as np

from parity import case, raises, value_and_grad, weighted

A234 = np.arange(24.0).reshape(2, 3, 4) / 7


def _x(T, array=A234):
    return T.tensor(array, dtype=T.float64, requires_grad=True)


def _run(T, f, array=A234):
    return value_and_grad(T, f, array)


# ---- transpose, permute, t, T, mT ---------------------------------------------------------------
@case
def transpose_swaps_two_dims_of_3d(T):
    return _run(T, lambda x: x.transpose(0, 1)), _run(T, lambda x: x.transpose(-1, 0))


@case
def transpose_2d_and_t_and_T(T):
    a = np.arange(6.0).reshape(2, 3)
    return _run(T, lambda x: x.transpose(0, 1), a), _run(T, lambda x: x.t(), a), _run(T, lambda x: x.T, a)


@case
def t_of_1d_is_itself(T):
    return _run(T, lambda x: x.t(), np.arange(3.0))


@case
def mT_swaps_the_last_two(T):
    return _run(T, lambda x: x.mT)


@case
def permute_varargs_and_tuple(T):
    return _run(T, lambda x: x.permute(2, 0, 1)), _run(T, lambda x: x.permute((1, -1, 0)))


@raises
def transpose_needs_two_dims(T):
    T.tensor([[1.0, 2.0]]).transpose()


@raises
def transpose_dim_out_of_range(T):
    T.tensor([[1.0, 2.0]]).transpose(0, 2)


@raises
def permute_not_a_permutation(T):
    T.zeros(2, 3, 4).permute(0, 0, 1)


@raises
def t_of_3d(T):
    T.zeros(2, 3, 4).t()


# ---- view, reshape, squeeze, unsqueeze, flatten, unflatten -------------------------------------
@case
def view_and_reshape(T):
    return (_run(T, lambda x: x.view(4, -1)), _run(T, lambda x: x.reshape((6, 4))),
            _run(T, lambda x: x.view_as(T.zeros(3, 8))))


@raises
def view_incompatible_size(T):
    T.zeros(2, 3).view(4, 2)


@raises
def view_of_a_transpose(T):
    T.zeros(2, 3).t().view(-1)


@case
def contiguous_then_view_and_is_contiguous(T):
    x = T.tensor(np.arange(6.0).reshape(2, 3))
    flags = [x.is_contiguous(), x.t().is_contiguous(), (x.t() * 2).is_contiguous(), x[:, ::2].is_contiguous(),
             x.unsqueeze(0).expand(2, 2, 3).is_contiguous(), x.t().contiguous().is_contiguous()]
    return (flags, _run(T, lambda y: y.transpose(0, 2).contiguous().view(4, 6)), x.t().reshape(-1),
            x.unsqueeze(0).expand(2, 2, 3).view(2, 6))


@raises
def reshape_two_minus_ones(T):
    T.zeros(2, 3).reshape(-1, -1)


@case
def unsqueeze_and_squeeze(T):
    a = np.arange(6.0).reshape(1, 2, 1, 3)
    return (_run(T, lambda x: x.unsqueeze(0)), _run(T, lambda x: x.unsqueeze(-1)),
            _run(T, lambda x: x.squeeze(), a), _run(T, lambda x: x.squeeze(2), a), _run(T, lambda x: x.squeeze(1), a))


@raises
def unsqueeze_out_of_range(T):
    T.zeros(2, 3).unsqueeze(3)


@case
def flatten_start_end(T):
    return (_run(T, lambda x: x.flatten()), _run(T, lambda x: x.flatten(1)), _run(T, lambda x: x.flatten(0, 1)),
            _run(T, lambda x: x.flatten(start_dim=-2, end_dim=-1)), T.tensor(5.0).flatten())


@raises
def flatten_start_after_end(T):
    T.zeros(2, 3, 4).flatten(2, 1)


@case
def unflatten_a_dim(T):
    return _run(T, lambda x: x.unflatten(2, (2, 2))), _run(T, lambda x: x.unflatten(-1, (2, -1)))


@raises
def unflatten_wrong_sizes(T):
    T.zeros(2, 6).unflatten(1, (4, 2))


# ---- expand, repeat, clone, contiguous, flip ------------------------------------------------------
@case
def expand_and_expand_as(T):
    a = np.arange(3.0).reshape(3, 1)
    return (_run(T, lambda x: x.expand(3, 4), a), _run(T, lambda x: x.expand(2, -1, 5), a),
            _run(T, lambda x: x.expand_as(T.zeros(2, 3, 2)), a))


@raises
def expand_a_non_singleton(T):
    T.zeros(2, 3).expand(4, 3)


@case
def repeat_tiles(T):
    a = np.arange(6.0).reshape(2, 3)
    return _run(T, lambda x: x.repeat(2, 1), a), _run(T, lambda x: x.repeat(2, 1, 3), a)


@raises
def repeat_too_few(T):
    T.zeros(2, 3).repeat(2)


@case
def clone_is_a_differentiable_copy(T):
    y, g = _run(T, lambda x: x.clone() * 2)
    x = _x(T)
    c = x.clone()
    return y, g, c.requires_grad, c.is_leaf, x.contiguous().shape


@case
def flip_dims(T):
    return _run(T, lambda x: x.flip(0)), _run(T, lambda x: x.flip((0, 2)))


# ---- split, chunk, narrow, cat, stack ---------------------------------------------------------------
@case
def split_by_size_and_sizes(T):
    x = _x(T)
    parts = x.split(2, dim=2)
    sizes = x.split([1, 2], dim=1)
    weighted(T, T.cat([parts[1], parts[0]], dim=2)).backward()
    return list(parts), list(sizes), x.grad


@case
def chunk_uneven(T):
    x = _x(T, np.arange(10.0))
    return [list(c.shape) for c in x.chunk(3)], list(x.chunk(4))


@case
def narrow_a_dim(T):
    return _run(T, lambda x: x.narrow(2, 1, 2)), _run(T, lambda x: x.narrow(-1, 0, 4))


@raises
def narrow_past_the_end(T):
    T.zeros(2, 3).narrow(1, 2, 2)


@raises
def split_sizes_do_not_add_up(T):
    T.zeros(2, 3).split([1, 1], dim=1)


@case
def cat_and_stack_with_dim(T):
    a = _x(T, np.arange(6.0).reshape(2, 3))
    b = _x(T, np.arange(3.0).reshape(1, 3))
    y = T.cat([a, b], dim=0)
    s = T.stack([a, a * 2], dim=-1)
    (weighted(T, y) + weighted(T, s)).backward()
    return y, s, T.stack([a, a], 1).shape, a.grad, b.grad


@raises
def cat_mismatched_shapes(T):
    T.cat([T.zeros(2, 3), T.zeros(2, 4)], dim=0)


@raises
def stack_dim_out_of_range(T):
    T.stack([T.zeros(2), T.zeros(2)], dim=3)


# ---- metadata and conversions -------------------------------------------------------------------------
@case
def size_dim_numel(T):
    x = T.zeros(2, 3, 4)
    return list(x.size()), x.size(1), x.size(-1), x.dim(), x.numel(), x.ndim, str(x.device)


@raises
def size_dim_out_of_range(T):
    T.zeros(2, 3).size(2)


@case
def conversions_keep_or_change_dtype(T):
    x = T.tensor([1.5, -2.5, 0.0], dtype=T.float64)
    return (x.float(), x.double(), x.half(), x.long(), x.int(), x.bool(), x.to(T.float32), x.to("cpu"),
            x.type_as(T.tensor([1], dtype=T.int64)), x.tolist(), x[0].item(), x.long().tolist())


@case
def float_conversion_keeps_the_gradient(T):
    x = _x(T, np.array([1.0, 2.0]))
    y = x.float() * 3
    y.sum().backward()
    return y, x.grad, x.double() is x


@case
def numpy_shares_values(T):
    return T.tensor([[1, 2]]).numpy()
