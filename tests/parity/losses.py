"""Cases for the losses: ``nn.functional`` functions and their ``nn`` modules, values and input gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from parity import case, raises


def _logits(T: Any, *shape: int) -> Any:
    n = int(np.prod(shape))
    return T.tensor(np.sin(np.arange(n, dtype=np.float64) * 1.3).reshape(shape) * 2.0, requires_grad=True)


def _labels(T: Any, values: Any) -> Any:
    return T.tensor(np.asarray(values, dtype=np.int64))


def _probs(T: Any, *shape: int, requires_grad: bool = False) -> Any:
    n = int(np.prod(shape))
    p = 0.1 + 0.8 * (np.cos(np.arange(n, dtype=np.float64)) + 1) / 2
    return T.tensor(p.reshape(shape), requires_grad=requires_grad)


def _grad_of(loss: Any, *inputs: Any) -> tuple[Any, ...]:
    (loss * loss).sum().backward() if loss.ndim else (loss * 1.5).backward()
    return (loss, *(x.grad for x in inputs))


def _soft_targets(T: Any, n: int, c: int) -> Any:
    raw = np.exp(np.cos(np.arange(n * c, dtype=np.float64)).reshape(n, c))
    return T.tensor(raw / raw.sum(axis=1, keepdims=True))


# ---- cross_entropy ------------------------------------------------------------------------------


@case
def cross_entropy_mean(T):
    x = _logits(T, 4, 3)
    return _grad_of(T.nn.functional.cross_entropy(x, _labels(T, [0, 2, 1, 2])), x)


@case
def cross_entropy_sum(T):
    x = _logits(T, 4, 3)
    return _grad_of(T.nn.functional.cross_entropy(x, _labels(T, [0, 2, 1, 2]), reduction="sum"), x)


@case
def cross_entropy_none(T):
    x = _logits(T, 4, 3)
    return _grad_of(T.nn.functional.cross_entropy(x, _labels(T, [0, 2, 1, 2]), reduction="none"), x)


@case
def cross_entropy_weight(T):
    x = _logits(T, 4, 3)
    w = T.tensor([0.5, 2.0, 1.5], dtype=T.float64)
    return _grad_of(T.nn.functional.cross_entropy(x, _labels(T, [0, 2, 1, 2]), weight=w), x)


@case
def cross_entropy_ignore_index(T):
    x = _logits(T, 4, 3)
    return _grad_of(T.nn.functional.cross_entropy(x, _labels(T, [0, -100, 1, 2])), x)


@case
def cross_entropy_ignore_index_custom_weight_none(T):
    x = _logits(T, 4, 3)
    w = T.tensor([0.5, 2.0, 1.5], dtype=T.float64)
    loss = T.nn.functional.cross_entropy(x, _labels(T, [0, 1, 1, 2]), weight=w, ignore_index=1, reduction="none")
    return _grad_of(loss, x)


@case
def cross_entropy_label_smoothing(T):
    x = _logits(T, 4, 3)
    return _grad_of(T.nn.functional.cross_entropy(x, _labels(T, [0, 2, 1, 2]), label_smoothing=0.2), x)


@case
def cross_entropy_label_smoothing_weight_ignore(T):
    x = _logits(T, 5, 3)
    w = T.tensor([0.5, 2.0, 1.5], dtype=T.float64)
    loss = T.nn.functional.cross_entropy(x, _labels(T, [0, 2, -100, 1, 2]), weight=w, label_smoothing=0.3)
    return _grad_of(loss, x)


@case
def cross_entropy_label_smoothing_sum_none(T):
    x = _logits(T, 4, 3)
    y = _labels(T, [0, 2, 1, 2])
    f = T.nn.functional.cross_entropy
    return _grad_of(f(x, y, reduction="sum", label_smoothing=0.1) + f(x, y, reduction="none",
                                                                       label_smoothing=0.4).sum(), x)


@case
def cross_entropy_probability_targets(T):
    x = _logits(T, 4, 3)
    return _grad_of(T.nn.functional.cross_entropy(x, _soft_targets(T, 4, 3)), x)


@case
def cross_entropy_probability_targets_weight_smoothing_none(T):
    x = _logits(T, 4, 3)
    w = T.tensor([0.5, 2.0, 1.5], dtype=T.float64)
    loss = T.nn.functional.cross_entropy(x, _soft_targets(T, 4, 3), weight=w, label_smoothing=0.2, reduction="none")
    return _grad_of(loss, x)


@case
def cross_entropy_higher_dim(T):
    x = _logits(T, 2, 3, 2, 2)
    y = _labels(T, [[[0, 1], [2, 2]], [[1, -100], [0, 1]]])
    w = T.tensor([0.5, 2.0, 1.5], dtype=T.float64)
    return _grad_of(T.nn.functional.cross_entropy(x, y, weight=w), x)


@case
def cross_entropy_higher_dim_none_smoothing(T):
    x = _logits(T, 2, 3, 4)
    y = _labels(T, [[0, 1, 2, 2], [1, 0, 0, 1]])
    return _grad_of(T.nn.functional.cross_entropy(x, y, reduction="none", label_smoothing=0.25), x)


@case
def cross_entropy_unbatched(T):
    x = _logits(T, 3)
    return _grad_of(T.nn.functional.cross_entropy(x, T.tensor(2)), x)


@case
def cross_entropy_module(T):
    x = _logits(T, 4, 3)
    loss_fn = T.nn.CrossEntropyLoss(weight=T.tensor([0.5, 2.0, 1.5], dtype=T.float64), ignore_index=0,
                                    label_smoothing=0.1)
    return (*_grad_of(loss_fn(x, _labels(T, [0, 2, 1, 2])), x), sorted(loss_fn.state_dict()))


@raises
def cross_entropy_float_target_of_wrong_shape(T):
    T.nn.functional.cross_entropy(_logits(T, 3, 4), T.tensor([0.0, 1.0, 2.0], dtype=T.float64))


@raises
def cross_entropy_class_out_of_range(T):
    T.nn.functional.cross_entropy(_logits(T, 3, 4), _labels(T, [0, 4, 1]))


@raises
def cross_entropy_negative_class(T):
    T.nn.functional.cross_entropy(_logits(T, 3, 4), _labels(T, [0, -1, 1]))


@raises
def cross_entropy_target_shape(T):
    T.nn.functional.cross_entropy(_logits(T, 3, 4), _labels(T, [0, 1]))


@raises
def cross_entropy_bad_reduction(T):
    T.nn.functional.cross_entropy(_logits(T, 3, 4), _labels(T, [0, 1, 2]), reduction="avg")


@raises
def cross_entropy_weight_shape(T):
    T.nn.functional.cross_entropy(_logits(T, 3, 4), _labels(T, [0, 1, 2]), weight=T.tensor([1.0, 2.0]))


@raises
def cross_entropy_label_smoothing_out_of_range(T):
    T.nn.functional.cross_entropy(_logits(T, 3, 4), _labels(T, [0, 1, 2]), label_smoothing=1.5)


# ---- nll_loss -----------------------------------------------------------------------------------


@case
def nll_loss_reductions(T):
    x = _logits(T, 4, 3)
    y = _labels(T, [0, 2, 1, 2])
    f = T.nn.functional.nll_loss
    return _grad_of(f(x, y) + f(x, y, reduction="sum") * 0.5 + f(x, y, reduction="none")[1] * 0.25, x)


@case
def nll_loss_weight_ignore_index(T):
    x = _logits(T, 5, 3)
    w = T.tensor([0.5, 2.0, 1.5], dtype=T.float64)
    return _grad_of(T.nn.functional.nll_loss(x, _labels(T, [0, 2, 7, 1, 2]), weight=w, ignore_index=7), x)


@case
def nll_loss_higher_dim_none(T):
    x = _logits(T, 2, 3, 4)
    y = _labels(T, [[0, 1, 2, -100], [1, 0, 0, 1]])
    return _grad_of(T.nn.functional.nll_loss(x, y, reduction="none"), x)


@case
def nll_loss_module(T):
    x = _logits(T, 4, 3)
    loss_fn = T.nn.NLLLoss(weight=T.tensor([0.5, 2.0, 1.5], dtype=T.float64), reduction="sum")
    return _grad_of(loss_fn(x, _labels(T, [0, 2, 1, 2])), x)


@raises
def nll_loss_float_target(T):
    T.nn.functional.nll_loss(_logits(T, 3, 4), T.tensor([0.0, 1.0, 2.0]))


@raises
def nll_loss_class_out_of_range(T):
    T.nn.functional.nll_loss(_logits(T, 3, 4), _labels(T, [0, 5, 1]))


@raises
def nll_loss_bad_reduction(T):
    T.nn.functional.nll_loss(_logits(T, 3, 4), _labels(T, [0, 1, 2]), reduction="max")


# ---- regression losses --------------------------------------------------------------------------


@case
def mse_loss_reductions(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4, requires_grad=True)
    f = T.nn.functional.mse_loss
    return _grad_of(f(x, t) + f(x, t, reduction="sum") * 0.5 + f(x, t, reduction="none")[1, 2], x, t)


@case
def mse_loss_module(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4)
    return _grad_of(T.nn.MSELoss(reduction="none")(x, t), x)


@case
def l1_loss_reductions(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4, requires_grad=True)
    f = T.nn.functional.l1_loss
    return _grad_of(f(x, t) + f(x, t, reduction="sum") * 0.5 + f(x, t, reduction="none")[1, 2], x, t)


@case
def l1_loss_module(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4)
    return _grad_of(T.nn.L1Loss(reduction="sum")(x, t), x)


@case
def smooth_l1_loss_reductions(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4, requires_grad=True)
    f = T.nn.functional.smooth_l1_loss
    return _grad_of(f(x, t) + f(x, t, reduction="sum") * 0.5 + f(x, t, reduction="none")[1, 2], x, t)


@case
def smooth_l1_loss_beta(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4)
    f = T.nn.functional.smooth_l1_loss
    return _grad_of(f(x, t, beta=0.5) + f(x, t, beta=2.5, reduction="sum") + f(x, t, beta=0.0), x)


@case
def smooth_l1_loss_module(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4)
    return _grad_of(T.nn.SmoothL1Loss(reduction="none", beta=0.7)(x, t), x)


@raises
def mse_loss_bad_reduction(T):
    T.nn.functional.mse_loss(_logits(T, 2, 2), _probs(T, 2, 2), reduction="avg")


@raises
def l1_loss_bad_reduction(T):
    T.nn.functional.l1_loss(_logits(T, 2, 2), _probs(T, 2, 2), reduction="avg")


@raises
def smooth_l1_loss_negative_beta(T):
    T.nn.functional.smooth_l1_loss(_logits(T, 2, 2), _probs(T, 2, 2), beta=-1.0)


# ---- binary cross-entropy -----------------------------------------------------------------------


@case
def binary_cross_entropy_reductions(T):
    x, t = _probs(T, 3, 4, requires_grad=True), _probs(T, 4, 3).reshape(3, 4)
    f = T.nn.functional.binary_cross_entropy
    return _grad_of(f(x, t) + f(x, t, reduction="sum") * 0.5 + f(x, t, reduction="none")[1, 2], x)


@case
def binary_cross_entropy_weight(T):
    x, t = _probs(T, 3, 4, requires_grad=True), _probs(T, 4, 3).reshape(3, 4)
    w = T.tensor([0.5, 1.0, 2.0, 3.0], dtype=T.float64)
    return _grad_of(T.nn.functional.binary_cross_entropy(x, t, weight=w, reduction="none"), x)


@case
def binary_cross_entropy_clamps_the_log(T):
    x = T.tensor([0.0, 1.0, 0.5], dtype=T.float64)
    t = T.tensor([1.0, 0.0, 1.0], dtype=T.float64)
    return T.nn.functional.binary_cross_entropy(x, t, reduction="none")


@case
def bce_loss_module(T):
    x, t = _probs(T, 3, 4, requires_grad=True), _probs(T, 4, 3).reshape(3, 4)
    loss_fn = T.nn.BCELoss(weight=T.tensor([0.5, 1.0, 2.0, 3.0], dtype=T.float64), reduction="sum")
    return (*_grad_of(loss_fn(x, t), x), sorted(loss_fn.state_dict()))


@raises
def binary_cross_entropy_input_out_of_range(T):
    T.nn.functional.binary_cross_entropy(T.tensor([1.5, 0.5]), T.tensor([1.0, 0.0]))


@raises
def binary_cross_entropy_bad_reduction(T):
    T.nn.functional.binary_cross_entropy(T.tensor([0.5]), T.tensor([1.0]), reduction="all")


@case
def binary_cross_entropy_with_logits_reductions(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4, requires_grad=True)
    f = T.nn.functional.binary_cross_entropy_with_logits
    return _grad_of(f(x, t) + f(x, t, reduction="sum") * 0.5 + f(x, t, reduction="none")[1, 2], x, t)


@case
def binary_cross_entropy_with_logits_weight_pos_weight(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4)
    w = T.tensor([[0.5], [1.0], [2.0]], dtype=T.float64)
    pw = T.tensor([0.5, 1.0, 2.0, 3.0], dtype=T.float64)
    loss = T.nn.functional.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction="none")
    return _grad_of(loss, x)


@case
def binary_cross_entropy_with_logits_is_stable(T):
    x = T.tensor([-1000.0, 1000.0, 0.0, 40.0], dtype=T.float64, requires_grad=True)
    t = T.tensor([1.0, 0.0, 1.0, 1.0], dtype=T.float64)
    return _grad_of(T.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="sum"), x)


@case
def bce_with_logits_loss_module(T):
    x, t = _logits(T, 3, 4), _probs(T, 3, 4)
    loss_fn = T.nn.BCEWithLogitsLoss(pos_weight=T.tensor([0.5, 1.0, 2.0, 3.0], dtype=T.float64))
    return (*_grad_of(loss_fn(x, t), x), sorted(loss_fn.state_dict()))


@raises
def binary_cross_entropy_with_logits_target_shape(T):
    T.nn.functional.binary_cross_entropy_with_logits(_logits(T, 3, 4), _probs(T, 4, 3))


# ---- kl_div -------------------------------------------------------------------------------------


def _kl_inputs(T: Any) -> tuple[Any, Any]:
    x = T.tensor(np.log(_soft_targets(T, 3, 4).numpy()[::-1].copy()), requires_grad=True)
    raw = _soft_targets(T, 3, 4).numpy().copy()
    raw[0, 1] = 0.0
    return x, T.tensor(raw)


@case
def kl_div_reductions(T):
    x, t = _kl_inputs(T)
    f = T.nn.functional.kl_div
    return _grad_of(f(x, t, reduction="mean") + f(x, t, reduction="sum") * 0.5
                    + f(x, t, reduction="none")[1, 2], x)


@case
def kl_div_batchmean(T):
    x, t = _kl_inputs(T)
    return _grad_of(T.nn.functional.kl_div(x, t, reduction="batchmean"), x)


@case
def kl_div_log_target(T):
    x, _ = _kl_inputs(T)
    log_t = T.tensor(np.log(_soft_targets(T, 3, 4).numpy()), requires_grad=True)
    return _grad_of(T.nn.functional.kl_div(x, log_t, reduction="none", log_target=True), x, log_t)


@case
def kl_div_loss_module(T):
    x, t = _kl_inputs(T)
    return _grad_of(T.nn.KLDivLoss(reduction="batchmean")(x, t), x)


@raises
def kl_div_bad_reduction(T):
    x, t = _kl_inputs(T)
    T.nn.functional.kl_div(x, t, reduction="avg")
