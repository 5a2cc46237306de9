"""``nn.init``: the gain table and fan rules exactly, the deterministic fills exactly, and the random
initialisers by their distribution (bounds, moments) on large tensors, with dtypes and in-place effects."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from parity import case, raises

NAMES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
         "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


# ---- calculate_gain ------------------------------------------------------------------------------
@case
def gain_of_every_nonlinearity(T):
    return [T.nn.init.calculate_gain(name) for name in NAMES]


@case
def gain_ignores_param_outside_leaky_relu(T):
    return [T.nn.init.calculate_gain(name, 0.5) for name in NAMES if name != "leaky_relu"]


@case
def gain_of_leaky_relu_slopes(T):
    gain = T.nn.init.calculate_gain
    return [gain("leaky_relu", s) for s in (None, 0, 1, 0.2, math.sqrt(5), -0.3, 3)]


@raises
def gain_of_unknown_nonlinearity(T):
    T.nn.init.calculate_gain("softplus")


@raises
def gain_of_leaky_relu_with_bool_slope(T):
    T.nn.init.calculate_gain("leaky_relu", True)


@raises
def gain_of_leaky_relu_with_string_slope(T):
    T.nn.init.calculate_gain("leaky_relu", "0.1")


# ---- fans ----------------------------------------------------------------------------------------
@case
def fans_of_linear_and_conv_shapes(T):
    fans = T.nn.init._calculate_fan_in_and_fan_out
    return [list(fans(T.empty(*shape))) for shape in ((3, 5), (4, 3, 5), (8, 2, 3, 3), (2, 3, 1, 2, 4), (0, 3))]


@case
def correct_fan_by_mode_in_any_case(T):
    w = T.empty(6, 4, 3, 3)
    return [T.nn.init._calculate_correct_fan(w, mode) for mode in ("fan_in", "fan_out", "FAN_OUT", "Fan_In")]


@raises
def fans_of_a_vector(T):
    T.nn.init._calculate_fan_in_and_fan_out(T.empty(5))


@raises
def fans_of_a_scalar(T):
    T.nn.init.xavier_uniform_(T.tensor(1.0))


@raises
def kaiming_with_unknown_mode(T):
    T.nn.init.kaiming_uniform_(T.empty(3, 4), mode="fan_avg")


@raises
def kaiming_of_a_vector(T):
    T.nn.init.kaiming_normal_(T.empty(4))


@raises
def kaiming_with_unknown_nonlinearity(T):
    T.nn.init.kaiming_normal_(T.empty(4, 4), nonlinearity="gelu")


# ---- deterministic fills -------------------------------------------------------------------------
@case
def constant_ones_zeros_keep_dtype(T):
    out = []
    for dtype in (T.float32, T.float64, T.int64, T.uint8, T.bool):
        t = T.zeros(2, 3, dtype=dtype)
        out += [T.nn.init.constant_(t, 1).clone(), T.nn.init.zeros_(t).clone(), T.nn.init.ones_(t).clone()]
    return [*out, T.nn.init.constant_(T.empty(4), 0.3), T.nn.init.constant_(T.empty(2, dtype=T.int64), 2.7)]


@case
def eye_of_square_wide_and_tall(T):
    return [T.nn.init.eye_(T.empty(*shape)) for shape in ((3, 3), (2, 5), (4, 2))] + [
        T.nn.init.eye_(T.full((2, 3), 7, dtype=T.int64))]


@raises
def eye_of_3d(T):
    T.nn.init.eye_(T.empty(2, 2, 2))


@case
def dirac_of_3d_4d_5d(T):
    dirac = T.nn.init.dirac_
    return [dirac(T.empty(4, 3, 5)), dirac(T.empty(2, 3, 3, 4)), dirac(T.empty(3, 3, 2, 3, 3)),
            dirac(T.full((3, 2, 3), 5.0, dtype=T.float64))]


@case
def dirac_with_groups(T):
    return [T.nn.init.dirac_(T.empty(6, 2, 3, 3), groups=3), T.nn.init.dirac_(T.empty(4, 3, 5), groups=2),
            T.nn.init.dirac_(T.empty(4, 1, 3), groups=2)]


@raises
def dirac_of_2d(T):
    T.nn.init.dirac_(T.empty(3, 3))


@raises
def dirac_with_groups_not_dividing_dim0(T):
    T.nn.init.dirac_(T.empty(5, 2, 3), groups=2)


# ---- random initialisers: distributions on large tensors -----------------------------------------
def _summary(T: Any, w: Any, bound: float) -> list[Any]:
    """dtype, shape, max |w| / bound, mean / bound, std / bound: what two independent draws share."""
    a = w.double()
    return [w.dtype, list(w.shape), (a.abs().max() / bound).item(), (a.mean() / bound).item(),
            (a.std() / bound).item()]


def _uniform_summaries(T: Any) -> list[Any]:
    init, out = T.nn.init, []
    T.manual_seed(0)
    for dtype in (T.float32, T.float64):
        w = T.empty(500, 40, 5, dtype=dtype)  # fan_in 200, fan_out 2500
        out.append(_summary(T, init.kaiming_uniform_(w, a=math.sqrt(5)), 1 / math.sqrt(200)))
        out.append(_summary(T, init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu"),
                            math.sqrt(6 / 2500)))
        out.append(_summary(T, init.xavier_uniform_(w, gain=2.0), 2.0 * math.sqrt(6 / 2700)))
        out.append(_summary(T, init.uniform_(w, -0.5, 1.5), 1.0))
    return out


@case(rtol=2e-2, atol=1e-2)
def uniform_family_bounds_and_moments(T):
    return _uniform_summaries(T)


@case(rtol=2e-3, atol=5e-3)
def uniform_family_maximum_is_close_to_the_bound(T):
    return [s[2] for s in _uniform_summaries(T)]


@case(rtol=2e-2, atol=1.5e-2)
def normal_family_moments(T):
    init, out = T.nn.init, []
    T.manual_seed(0)
    for dtype in (T.float32, T.float64):
        w = T.empty(400, 50, 5, dtype=dtype)  # fan_in 250, fan_out 2000
        for fill, std in ((lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 250)),
                          (lambda t: init.kaiming_normal_(t, a=0.2, mode="fan_out"),
                           math.sqrt(2 / 1.04) / math.sqrt(2000)),
                          (lambda t: init.xavier_normal_(t, gain=5 / 3), 5 / 3 * math.sqrt(2 / 2250)),
                          (lambda t: init.normal_(t, 0.0, 0.7), 0.7)):
            s = _summary(T, fill(w), std)
            out.append(s[:2] + s[3:])  # the maximum of a normal sample varies too much to compare
    w = T.nn.init.normal_(T.empty(100_000), mean=2.0, std=0.5)
    out.append([w.mean().item(), w.std().item()])
    return out


@case(rtol=2e-2, atol=5e-3)
def trunc_normal_inside_bounds_with_the_truncated_moments(T):
    T.manual_seed(0)
    out = []
    for mean, std, a, b in ((0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (0.5, 1.0, -0.2, 0.1),
                            (0.0, 1.0, 1.0, 3.0)):
        w = T.nn.init.trunc_normal_(T.empty(200_000), mean=mean, std=std, a=a, b=b)
        # float32 bounds: the draws are compared with a and b as the tensor's dtype stores them
        low, high = np.float32(a), np.float32(b)
        out.append([w.dtype, bool(w.min().item() >= low), bool(w.max().item() <= high),
                    (w.double().mean().item() - a) / (b - a), w.double().std().item() / (b - a)])
    return out


def _gram(T: Any, w: Any) -> Any:
    flat = w.reshape(w.shape[0], -1)
    return flat @ flat.t() if flat.shape[0] <= flat.shape[1] else flat.t() @ flat


@case(atol=1e-12)
def orthogonal_rows_or_columns_are_orthonormal(T):
    T.manual_seed(0)
    shapes = ((5, 5), (3, 8), (8, 3), (6, 2, 2, 2), (20, 2, 3))
    return [_gram(T, T.nn.init.orthogonal_(T.empty(*s, dtype=T.float64))) for s in shapes] + [
        _gram(T, T.nn.init.orthogonal_(T.empty(4, 6, dtype=T.float64), gain=2.5))]


@case(atol=1e-6)
def orthogonal_of_float32_keeps_the_dtype(T):
    T.manual_seed(0)
    w = T.nn.init.orthogonal_(T.empty(16, 32))
    return w.dtype, _gram(T, w.double())


@raises
def orthogonal_of_a_vector(T):
    T.nn.init.orthogonal_(T.empty(4))


@case(rtol=3e-2, atol=1e-4)
def sparse_zeroes_the_same_count_in_every_column(T):
    T.manual_seed(0)
    w = T.nn.init.sparse_(T.empty(400, 300), sparsity=0.25, std=0.05)
    nonzero = w[w != 0].double()
    return w.dtype, (w == 0).sum(0), nonzero.std().item()


@raises
def sparse_of_3d(T):
    T.nn.init.sparse_(T.empty(3, 3, 3), 0.1)


# ---- in place, no gradient recorded ---------------------------------------------------------------
@case
def initialisers_fill_parameters_in_place_without_a_graph(T):
    init, out = T.nn.init, []
    fills = [lambda t: init.uniform_(t, -1, 1), lambda t: init.normal_(t), init.xavier_uniform_,
             init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_,
             init.trunc_normal_, lambda t: init.constant_(t, 0.5), init.ones_, init.zeros_, init.eye_]
    for fill in fills:
        p = T.nn.Parameter(T.zeros(4, 6))
        before = p._version
        result = fill(p)
        out.append([result is p, p.requires_grad, p.is_leaf, p.grad is None, p.dtype, p._version > before])
    return out


@case
def zero_element_tensors_are_left_alone_with_a_warning(T):
    w = T.empty(0, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shapes = [T.nn.init.kaiming_uniform_(w).shape, T.nn.init.kaiming_normal_(w).shape]
    return shapes, [str(c.message) for c in caught], T.nn.init.orthogonal_(T.empty(0, 4)).shape
