"""Normalisation, embedding, one-hot and dropout: what a comparison with PyTorch cannot check.

Dropout in training mode is random: its kept fraction, scaling, whole-channel
masks, gradients and reproducibility are checked statistically here. Also:
second-order gradients, buffers staying out of the graph and keeping their
dtypes, initialisation, in-place renormalisation counting as a change, and the
wording of errors. Value-by-value agreement with PyTorch is in
``tests/parity/normalization.py``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from tinygrad_mnist import Tensor, manual_seed, nn, no_grad
from tinygrad_mnist.autograd import gradcheck, gradgradcheck
from tinygrad_mnist.nn import functional as F


def leaf(*shape: int, seed: int = 0) -> Tensor:
    return Tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True)


def within_binomial(fraction: float, p: float, n: int) -> bool:
    """``fraction`` of n Bernoulli(p) draws lies within 5 standard deviations of p."""
    return abs(fraction - p) < 5 * math.sqrt(p * (1 - p) / n)


# ---- dropout in training mode --------------------------------------------------------------------
@pytest.mark.parametrize(("make", "shape", "mask_shape"), [
    (lambda x, p: F.dropout2d(x, p), (40, 50, 3, 4), (40, 50, 1, 1)),
    (lambda x, p: F.dropout1d(x, p), (40, 50, 6), (40, 50, 1)),
    (lambda x, p: F.dropout1d(x, p), (2000, 6), (2000, 1)),
    (lambda x, p: nn.Dropout2d(p)(x), (40, 50, 2, 2), (40, 50, 1, 1)),
    (lambda x, p: nn.Dropout1d(p)(x), (40, 50, 3), (40, 50, 1)),
])
@pytest.mark.parametrize("p", [0.2, 0.7])
def test_channel_dropout_zeroes_whole_channels_at_rate_p_and_scales_the_rest(make, shape, mask_shape, p):
    x = Tensor(np.random.default_rng(1).uniform(1.0, 2.0, size=shape).astype(np.float32), requires_grad=True)
    manual_seed(3)
    out = make(x, p)
    assert out.dtype == np.float32 and out.shape == x.shape
    ratio = out.data / x.data
    kept = ratio != 0
    first = tuple(slice(0, 1) if m == 1 else slice(None) for m in mask_shape)
    assert np.array_equal(kept, np.broadcast_to(kept[first], shape))  # a channel is kept or dropped whole
    np.testing.assert_allclose(ratio[kept], 1.0 / (1.0 - p), rtol=1e-6)
    assert within_binomial(1.0 - kept[first].mean(), p, int(np.prod(mask_shape)))
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / (1.0 - p), rtol=1e-6)  # the gradient is the scaled mask


def test_dropout2d_on_3d_input_warns_and_drops_channels_of_n_c_l():
    x = Tensor(np.ones((30, 40, 5)))
    manual_seed(0)
    with pytest.warns(UserWarning, match=r"dropout2d: a 3-d input is taken as \(N, C, L\)"):
        out = F.dropout2d(x, 0.5)
    assert np.all(out.data == out.data[:, :, :1])
    assert 0.3 < (out.data == 0).mean() < 0.7


@pytest.mark.parametrize("shape", [(6, 7), (2, 3, 2, 2, 2)])
def test_dropout2d_on_other_ranks_warns_and_masks_the_first_two_axes(shape):
    manual_seed(0)
    with pytest.warns(UserWarning, match=r"dropout2d: a \d-d input is deprecated"):
        out = F.dropout2d(Tensor(np.ones(shape)), 0.5)
    flat = out.data.reshape(shape[0], shape[1], -1)
    assert np.all(flat == flat[..., :1])


def test_dropout2d_on_4d_input_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(Tensor(np.ones((2, 3, 2, 2))), 0.5)


def test_channel_dropout_is_reproducible_with_manual_seed():
    x = Tensor(np.ones((20, 30, 2, 2)))
    masks = []
    for seed in (7, 7, 8):
        manual_seed(seed)
        masks.append(F.dropout2d(x, 0.5).data == 0)
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], masks[2])


def test_dropout_module_draws_the_mask_of_f_dropout():
    x = Tensor(np.ones((30, 40)))
    manual_seed(5)
    functional = F.dropout(x, 0.3).data
    manual_seed(5)
    np.testing.assert_array_equal(nn.Dropout(0.3)(x).data, functional)


def test_dropout_in_place_changes_the_input_and_keeps_the_gradient():
    x = leaf(30, 20, 3)
    for layer in (nn.Dropout(0.4, inplace=True), nn.Dropout1d(0.4, inplace=True)):
        x.grad = None
        y = x * 1.0
        manual_seed(2)
        out = layer(y)
        assert out is y and y._version == 1
        out.sum().backward()
        kept = out.data != 0
        np.testing.assert_allclose(x.grad.data, kept / 0.6)
        assert 0.5 < kept.mean() < 0.7


def test_dropout_in_eval_mode_returns_the_input_itself():
    x = leaf(2, 3, 4)
    for layer in (nn.Dropout(), nn.Dropout1d(), nn.Dropout2d(), nn.Dropout2d(inplace=True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert layer.eval()(x) is x
    assert F.dropout1d(x, training=False) is x and F.dropout2d(x[None], training=False).shape == (1, 2, 3, 4)


def test_dropout_p_one_and_p_nan():
    out = nn.Dropout(1.0)(Tensor(np.ones(5, dtype=np.float32)))
    np.testing.assert_array_equal(out.data, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"^Dropout: dropout probability has to be between 0 and 1, but got nan"):
        nn.Dropout(float("nan"))


# ---- BatchNorm: buffers and modes ----------------------------------------------------------------
def test_batch_norm_buffers_stay_out_of_the_graph_and_keep_their_dtypes():
    bn = nn.BatchNorm2d(3)
    out = bn(Tensor(np.random.default_rng(0).normal(size=(4, 3, 2, 2)).astype(np.float32)))
    assert out.dtype == np.float32
    for name, buffer in bn.named_buffers():
        assert not buffer.requires_grad and buffer.grad_fn is None, name
    assert {n: b.dtype for n, b in bn.named_buffers()} == {
        "running_mean": np.float32, "running_var": np.float32, "num_batches_tracked": np.int64}
    bn.double()
    assert bn.running_mean.dtype == np.float64 and bn.weight.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.item() == 1
    bn.float()
    assert bn.running_var.dtype == np.float32 and bn.num_batches_tracked.dtype == np.int64


def test_batch_norm_running_statistics_by_hand():
    """Momentum 0.1 toward the batch mean and the unbiased variance, computed here with numpy."""
    data = np.random.default_rng(4).normal(2.0, 3.0, size=(6, 2, 3))
    bn = nn.BatchNorm1d(2).double()
    bn(Tensor(data))
    per_channel = data.transpose(1, 0, 2).reshape(2, -1)
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * per_channel.mean(axis=1))
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * per_channel.var(axis=1, ddof=1))


def test_batch_norm_momentum_none_gives_the_plain_mean_of_batch_means():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = [np.random.default_rng(s).normal(s, 1.0, size=(5, 2)) for s in range(4)]
    for b in batches:
        bn(Tensor(b))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([b.mean(axis=0) for b in batches], axis=0))
    assert bn.num_batches_tracked.item() == 4


def test_batch_norm_under_no_grad_still_updates_in_training_mode():
    bn = nn.BatchNorm1d(2)
    with no_grad():
        bn(Tensor(np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)))
    np.testing.assert_allclose(bn.running_mean.data, [0.2, 0.4], rtol=1e-6)


def test_batch_norm_reset_and_state_dict_round_trip():
    bn = nn.BatchNorm2d(2)
    bn(Tensor(np.random.default_rng(0).normal(size=(3, 2, 2, 2)).astype(np.float32)))
    copy = nn.BatchNorm2d(2)
    copy.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(copy.running_var.data, bn.running_var.data)
    assert copy.num_batches_tracked.item() == 1
    bn.reset_running_stats()
    assert bn.running_mean.data.tolist() == [0, 0] and bn.running_var.data.tolist() == [1, 1]
    assert bn.num_batches_tracked.item() == 0


# ---- gradients of any order ----------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    lambda x, w, b: F.group_norm(x, 2, w, b),
    lambda x, w, b: F.layer_norm(x.reshape(3, 8), (8,), w.reshape(4).repeat(2), b.reshape(4).repeat(2)),
], ids=["batch_norm", "group_norm", "layer_norm"])
def test_normalisation_first_and_second_derivatives(fn):
    inputs = (leaf(3, 4, 2), leaf(4, seed=1), leaf(4, seed=2))
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_embedding_second_derivative_through_the_gathered_rows():
    index = Tensor(np.array([[0, 2], [2, 1]]))
    assert gradgradcheck(lambda w: F.embedding(index, w, padding_idx=1) ** 2, (leaf(3, 2),))


# ---- Embedding -----------------------------------------------------------------------------------
def test_embedding_initialisation_is_standard_normal_float32_and_seeded():
    manual_seed(11)
    table = nn.Embedding(400, 50, padding_idx=3)
    manual_seed(11)
    again = nn.Embedding(400, 50, padding_idx=3)
    w = table.weight.data
    assert w.dtype == np.float32 and table.weight.requires_grad
    np.testing.assert_array_equal(w, again.weight.data)
    assert np.all(w[3] == 0)
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1.0) < 0.02


def test_embedding_max_norm_counts_as_an_in_place_change():
    weight = Tensor(np.array([[3.0, 4.0], [0.3, 0.4]]), requires_grad=True)
    before = weight._version
    F.embedding(Tensor(np.array([1])), weight, max_norm=1.0)
    assert weight._version == before  # no row over the limit: nothing changed
    out = F.embedding(Tensor(np.array([0, 0])), weight, max_norm=1.0)
    assert weight._version == before + 1
    np.testing.assert_allclose(np.linalg.norm(weight.data[0]), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out.data, weight.data[[0, 0]])


def test_embedding_accepts_numpy_indices_and_rejects_lists():
    table = nn.Embedding(5, 2)
    np.testing.assert_array_equal(table(np.array([1, 4])).data, table.weight.data[[1, 4]])
    with pytest.raises(TypeError, match=r"^embedding: indices must be an integer Tensor, got list"):
        table([1, 4])  # type: ignore[arg-type]


@pytest.mark.parametrize("option", ["scale_grad_by_freq", "sparse"])
def test_embedding_unsupported_options_raise(option):
    with pytest.raises(NotImplementedError, match=rf"^Embedding: {option}=True is not supported"):
        nn.Embedding(3, 2, **{option: True})
    with pytest.raises(NotImplementedError, match=rf"^embedding: {option}=True is not supported"):
        F.embedding(Tensor(np.array([0])), leaf(3, 2), **{option: True})


# ---- one_hot -------------------------------------------------------------------------------------
def test_one_hot_is_int64_without_gradient():
    out = F.one_hot(Tensor(np.array([[2], [0]])), 4)
    assert out.dtype == np.int64 and not out.requires_grad and out.shape == (2, 1, 4)
    assert out.data.sum() == 2 and out.data[0, 0, 2] == 1 and out.data[1, 0, 0] == 1


# ---- errors name the op, the argument and the value ----------------------------------------------
@pytest.mark.parametrize(("call", "kind", "pattern"), [
    (lambda: nn.BatchNorm1d(0), ValueError, r"^BatchNorm1d: num_features must be a positive integer, got 0"),
    (lambda: nn.GroupNorm(4, 6), ValueError, r"^GroupNorm: num_channels \(6\) must be divisible by num_groups"),
    (lambda: nn.LayerNorm((3, 0)), ValueError, r"^LayerNorm: normalized_shape must be a positive integer, got 0"),
    (lambda: F.layer_norm(leaf(2, 3), 3), TypeError, r"^layer_norm: normalized_shape must be a tuple or list"),
    (lambda: F.batch_norm(leaf(3), None, None, training=True), ValueError,
     r"^batch_norm: input must have at least 2 dimensions"),
    (lambda: F.group_norm(leaf(2, 4), 0), ValueError, r"^group_norm: num_groups must be a positive integer, got 0"),
    (lambda: nn.Embedding(3, 0), ValueError, r"^Embedding: embedding_dim must be a positive integer, got 0"),
    (lambda: F.one_hot(Tensor(np.array([1])), -2), ValueError, r"^one_hot: num_classes must be -1"),
    (lambda: F.dropout2d(leaf(2, 2, 2, 2), p=2), ValueError, r"^dropout2d: dropout probability .* got 2"),
], ids=lambda v: getattr(v, "__name__", "") if isinstance(v, type) else None)
def test_errors_name_the_op_and_the_value(call, kind, pattern):
    with pytest.raises(kind, match=pattern):
        call()


def test_names_are_exported():
    for name in ("BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "Embedding", "Dropout", "Dropout1d",
                 "Dropout2d"):
        assert name in nn.__all__ and hasattr(nn, name)
    for name in ("batch_norm", "layer_norm", "group_norm", "embedding", "one_hot", "dropout1d", "dropout2d"):
        assert name in F.__all__ and hasattr(F, name)
