"""The engine's gradients against the numpy-only oracles in ``tinygrad_mnist.mnist.reference``.

Every property runs in float64 on MLPs built by ``models.build_mlp``: depth 1-4
Linear layers, widths 1-32, every hidden activation, batch 1-16, with and
without the L2 term. Agreement is checked to a relative 1e-10 by
:func:`gradient_errors`, which a deliberately broken closed form (the 1/m
dropped) must fail. The Jacobian chain's ``memory_estimate`` is checked
against the Jacobians the chain actually multiplies, counted by a spy.
"""

from __future__ import annotations

from typing import Any, Sequence
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.mnist.models import build_mlp
from tinygrad_mnist.nn import functional as F
from tinygrad_mnist.mnist.reference import closed_form, jacobian_chain
from tinygrad_mnist.mnist.reference.closed_form import Gradients

RTOL = 1e-10
# Gradients of a mean cross-entropy are built from probabilities in [0, 1], whose
# rounding errors are absolute (~1e-16): an array whose entries are all below
# GRAD_FLOOR is compared on the scale GRAD_FLOOR, i.e. to an absolute RTOL * GRAD_FLOOR.
# An all-zero reference (dead relu layers, a single class) is then matched to 1e-16.
GRAD_FLOOR = 1e-6
LOSS_FLOOR = 1.0  # losses below 1 are compared to an absolute RTOL


# ---- the comparison ----------------------------------------------------------------------


def as_dict(grads: Gradients) -> dict[str, np.ndarray]:
    """Named arrays of a Gradients: dW[l] and db[l] (column-major shapes) and the loss."""
    named = {"loss": np.asarray(grads.loss, dtype=np.float64)}
    for l, (dW, db) in enumerate(zip(grads.dW, grads.db)):
        named[f"dW[{l}]"] = np.asarray(dW)
        named[f"db[{l}]"] = np.asarray(db).reshape(-1, 1)
    return named


def gradient_errors(actual: Gradients, expected: Gradients) -> dict[str, float]:
    """max|actual - expected| / max(max|expected|, floor), per named array.

    A shape mismatch or a non-finite value counts as an infinite error.
    """
    got, want = as_dict(actual), as_dict(expected)
    if got.keys() != want.keys():
        return {"layers": np.inf}
    errors = {}
    for name, ref in want.items():
        value = got[name]
        if value.shape != ref.shape or not np.all(np.isfinite(value)):
            errors[name] = np.inf
            continue
        floor = LOSS_FLOOR if name == "loss" else GRAD_FLOOR
        scale = max(float(np.max(np.abs(ref), initial=0.0)), floor)
        errors[name] = float(np.max(np.abs(value - ref), initial=0.0)) / scale
    return errors


def assert_same_gradients(actual: Gradients, expected: Gradients, rtol: float = RTOL) -> None:
    """AssertionError naming every array (and the loss) that differs by more than ``rtol``."""
    errors = gradient_errors(actual, expected)
    bad = {name: error for name, error in errors.items() if not error <= rtol}
    assert not bad, "gradients differ (relative error): " + ", ".join(f"{k} {v:.3g}" for k, v in bad.items())


# ---- the network and the engine's gradients ----------------------------------------------


class Case:
    """A float64 MLP from build_mlp, a batch, and the loss settings."""

    def __init__(self, sizes: Sequence[int], act: str, slope: float, batch: int, lam: float | None,
                 weight_seed: int, data_seed: int, x_scale: float) -> None:
        self.sizes, self.act, self.slope, self.lam = list(sizes), act, slope, lam
        tm.manual_seed(weight_seed)
        self.model = build_mlp(sizes[0], list(sizes[1:-1]), sizes[-1], act, 0.0)
        for module in self.model.modules():
            if isinstance(module, nn.LeakyReLU):
                module.negative_slope = slope
        for parameter in self.model.parameters():
            parameter.data = parameter.data.astype(np.float64)
        self.linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        rng = np.random.default_rng(data_seed)
        self.X = rng.normal(scale=x_scale, size=(batch, sizes[0]))  # rows are samples, as the engine wants
        self.labels = rng.integers(0, sizes[-1], size=batch)

    @property
    def W(self) -> list[np.ndarray]:
        return [layer.weight.data for layer in self.linears]

    @property
    def b(self) -> list[np.ndarray]:
        return [layer.bias.data.reshape(-1, 1) for layer in self.linears]

    def reference_args(self) -> tuple[Any, ...]:
        return self.W, self.b, self.X.T, self.labels, self.act, self.slope, self.lam or 0.0

    def engine(self) -> Gradients:
        self.model.zero_grad()
        loss = F.cross_entropy(self.model(Tensor(self.X)), self.labels)
        if self.lam is not None:
            loss = loss + F.l2_penalty([layer.weight for layer in self.linears], self.lam)
        assert loss.dtype == np.float64
        loss.backward()
        return Gradients(loss.item(), [layer.weight.grad.data for layer in self.linears],
                         [layer.bias.grad.data for layer in self.linears])

    def __repr__(self) -> str:
        return (f"Case({'-'.join(map(str, self.sizes))} {self.act} slope={self.slope} "
                f"batch={len(self.X)} lam={self.lam})")


@st.composite
def cases(draw: Any, min_batch: int = 1, min_classes: int = 1) -> Case:
    depth = draw(st.integers(1, 4))  # Linear layers
    sizes = draw(st.lists(st.integers(1, 32), min_size=depth, max_size=depth))
    sizes.append(draw(st.integers(min_classes, 32)))
    act = draw(st.sampled_from(closed_form.ACTIVATIONS))
    slope = draw(st.floats(0.0, 1.0)) if act == "leaky_relu" else 0.01
    lam = draw(st.none() | st.floats(1e-4, 10.0))
    return Case(sizes, act, slope, draw(st.integers(min_batch, 16)), lam,
                draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)), draw(st.floats(0.1, 5.0)))


# ---- the comparison helper itself --------------------------------------------------------


def _grads(loss: float, *arrays: Any) -> Gradients:
    half = len(arrays) // 2
    return Gradients(loss, [np.asarray(a, float) for a in arrays[:half]], [np.asarray(a, float) for a in arrays[half:]])


def test_gradient_errors_is_relative_to_the_largest_reference_entry():
    ref = _grads(2.0, [[1.0, -4.0]], [[0.5]])
    assert gradient_errors(ref, ref) == {"loss": 0.0, "dW[0]": 0.0, "db[0]": 0.0}
    off = _grads(2.0, [[1.0 + 4e-9, -4.0]], [[0.5]])  # 4e-9 against max |dW| = 4: 1e-9
    assert gradient_errors(off, ref)["dW[0]"] == pytest.approx(1e-9)
    with pytest.raises(AssertionError, match=r"dW\[0\] 1e-09"):
        assert_same_gradients(off, ref)
    assert_same_gradients(_grads(2.0, [[1.0 + 4e-11, -4.0]], [[0.5]]), ref)


def test_gradient_errors_floors_tiny_and_zero_references():
    ref = _grads(0.0, [[0.0, 0.0]], [[1e-9]])
    assert_same_gradients(_grads(0.0, [[1e-17, 0.0]], [[1e-9 + 1e-17]]), ref)  # rounding-level noise
    with pytest.raises(AssertionError, match=r"dW\[0\]"):
        assert_same_gradients(_grads(0.0, [[1e-15, 0.0]], [[1e-9]]), ref)
    with pytest.raises(AssertionError, match=r"db\[0\]"):
        assert_same_gradients(_grads(0.0, [[0.0, 0.0]], [[2e-9]]), ref)  # twice the true gradient
    with pytest.raises(AssertionError, match="loss"):
        assert_same_gradients(_grads(1e-9, [[0.0, 0.0]], [[1e-9]]), ref)


def test_gradient_errors_flags_shapes_and_non_finite_values():
    ref = _grads(1.0, [[1.0, 2.0]], [[1.0]])
    assert gradient_errors(_grads(1.0, [[1.0], [2.0]], [[1.0]]), ref)["dW[0]"] == np.inf
    assert gradient_errors(_grads(1.0, [[1.0, np.nan]], [[1.0]]), ref)["dW[0]"] == np.inf
    assert gradient_errors(_grads(np.nan, [[1.0, 2.0]], [[1.0]]), ref)["loss"] == np.inf
    assert gradient_errors(Gradients(1.0, [], []), ref) == {"layers": np.inf}


# ---- engine == closed form == Jacobian chain ---------------------------------------------


@given(cases())
def test_engine_matches_closed_form(case):
    assert_same_gradients(case.engine(), closed_form.backward(*case.reference_args()))


@given(cases())
def test_engine_matches_jacobian_chain(case):
    assert_same_gradients(case.engine(), jacobian_chain.backward(*case.reference_args()))


@given(cases())
def test_closed_form_matches_jacobian_chain(case):
    assert_same_gradients(jacobian_chain.backward(*case.reference_args()), closed_form.backward(*case.reference_args()))


@pytest.mark.parametrize("act", closed_form.ACTIVATIONS)
@pytest.mark.parametrize("lam", [None, 0.3])
def test_engine_matches_both_oracles_on_a_fixed_deep_network(act, lam):
    case = Case([32, 32, 32, 32, 10], act, 0.2, 16, lam, weight_seed=1, data_seed=2, x_scale=1.0)
    engine = case.engine()
    assert_same_gradients(engine, closed_form.backward(*case.reference_args()))
    assert_same_gradients(engine, jacobian_chain.backward(*case.reference_args()))
    assert max(np.abs(g).max() for g in engine.dW) > 1e-3  # a real signal, not all zeros


@given(cases(min_batch=2, min_classes=2))
def test_dropping_the_mean_is_detected(case):
    """Negative control: the closed form without 1/m differs from the engine whenever m > 1."""
    # a batch whose output-bias gradient vanishes would not tell the two apart
    assume(np.abs(closed_form.backward(*case.reference_args()).db[-1]).max() > 1e-3)
    engine = case.engine()
    wrong = backward_without_mean(*case.reference_args())
    with pytest.raises(AssertionError, match="gradients differ"):
        assert_same_gradients(engine, wrong)
    errors = gradient_errors(engine, wrong)
    assert errors["loss"] > RTOL
    assert errors[f"db[{len(case.W) - 1}]"] > 0.49  # (m - 1) / m of the wrong one, m >= 2


def test_dropping_the_mean_is_harmless_at_batch_one():
    """The control's own check: at m = 1 the broken formula is the right one."""
    case = Case([5, 7, 3], "tanh", 0.01, 1, 0.1, weight_seed=0, data_seed=0, x_scale=1.0)
    assert_same_gradients(case.engine(), backward_without_mean(*case.reference_args()))
    case = Case([5, 7, 3], "tanh", 0.01, 4, 0.1, weight_seed=0, data_seed=0, x_scale=1.0)
    with pytest.raises(AssertionError, match=r"loss .*dW\[0\] .*db\[1\]"):
        assert_same_gradients(case.engine(), backward_without_mean(*case.reference_args()))


def test_halving_the_l2_gradient_is_detected():
    case = Case([6, 5, 4], "sigmoid", 0.01, 8, 0.5, weight_seed=3, data_seed=4, x_scale=1.0)
    W, b, X, labels, act, slope, lam = case.reference_args()
    right = closed_form.backward(W, b, X, labels, act, slope, lam)
    half = Gradients(right.loss, [dW - 0.5 * lam * W_l for dW, W_l in zip(right.dW, W)], right.db)
    with pytest.raises(AssertionError, match=r"dW\[0\] .*dW\[1\]"):
        assert_same_gradients(case.engine(), half)


def backward_without_mean(W, b, X, labels, act="relu", negative_slope=0.01, l2=0.0):
    """closed_form.backward with the 1/m of the mean dropped everywhere (loss, dW, db)."""
    cache = closed_form.forward(W, b, X, act, negative_slope)
    Y = closed_form.one_hot(labels, W[-1].shape[0])
    loss = -np.sum(Y * np.log(cache.A[-1])) + 0.5 * l2 * sum(np.sum(W_l**2) for W_l in W)
    dW, db = [None] * len(W), [None] * len(W)
    dZ = cache.A[-1] - Y
    for l in range(len(W) - 1, -1, -1):
        dW[l] = dZ @ cache.A[l].T + l2 * W[l]
        db[l] = dZ.sum(axis=1, keepdims=True)
        if l > 0:
            dZ = (W[l].T @ dZ) * closed_form.activation_derivative(act, cache.Z[l - 1], negative_slope)
    return Gradients(float(loss), dW, db)


# ---- softmax followed by cross-entropy ---------------------------------------------------


@given(batch=st.integers(1, 16), classes=st.integers(1, 32), scale=st.floats(0.0, 50.0),
       seed=st.integers(0, 2**32 - 1))
def test_softmax_cross_entropy_gradient_is_A_minus_Y_over_m(batch, classes, scale, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(scale=scale, size=(batch, classes))
    labels = rng.integers(0, classes, size=batch)
    logits = Tensor(Z, requires_grad=True)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    A = closed_form.softmax_columns(Z.T)  # the closed form is column-major
    Y = closed_form.one_hot(labels, classes)
    expected = ((A - Y) / batch).T
    scale_ = max(np.abs(expected).max(), GRAD_FLOOR)
    assert np.abs(logits.grad.data - expected).max() <= RTOL * scale_
    expected_loss = -np.sum(Y * np.log(np.clip(A, 1e-300, None))) / batch
    assert abs(loss.item() - expected_loss) <= RTOL * max(abs(expected_loss), LOSS_FLOOR)
    # each column of A - Y sums to 0, up to one rounding per class
    np.testing.assert_allclose(logits.grad.data.sum(axis=1), 0.0, atol=classes * np.finfo(np.float64).eps)


def test_softmax_cross_entropy_gradient_known_values():
    logits = Tensor(np.array([[0.0, np.log(3.0)], [np.log(3.0), 0.0]]), requires_grad=True)
    F.cross_entropy(logits, np.array([0, 0])).backward()
    # A = [[1/4, 3/4], [3/4, 1/4]] (rows = samples), Y = [[1, 0], [1, 0]], m = 2
    np.testing.assert_allclose(logits.grad.data, [[-3 / 8, 3 / 8], [-1 / 8, 1 / 8]], rtol=1e-14)


# ---- memory_estimate against the Jacobians the chain multiplies --------------------------


class _RowVector(np.ndarray):
    """The chain's running row vector dL/d(...): records every matrix it is right-multiplied by."""

    shapes: list[tuple[int, ...]] = []

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc is np.matmul and method == "__call__" and isinstance(inputs[0], _RowVector):
            _RowVector.shapes.append(np.shape(inputs[1]))
        args = [np.asarray(x) if isinstance(x, _RowVector) else x for x in inputs]
        out = getattr(ufunc, method)(*args, **kwargs)
        return out.view(_RowVector) if ufunc is np.matmul else out


class _NumpySpy:
    """jacobian_chain's ``np``, except that ``np.zeros`` (only the row vector dL/ds) is a _RowVector."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def zeros(*args: Any, **kwargs: Any) -> np.ndarray:
        return np.zeros(*args, **kwargs).view(_RowVector)


def jacobians_multiplied(sizes: Sequence[int], act: str = "tanh", seed: int = 0) -> list[tuple[int, ...]]:
    """Shapes of the matrices the chain multiplies for one sample of an MLP with ``sizes``."""
    rng = np.random.default_rng(seed)
    W = [rng.normal(size=(n, n_in)) for n_in, n in zip(sizes[:-1], sizes[1:])]
    b = [rng.normal(size=(n, 1)) for n in sizes[1:]]
    x = rng.normal(size=sizes[0])
    _RowVector.shapes = []
    with mock.patch.object(jacobian_chain, "np", _NumpySpy()):
        loss, dW, db = jacobian_chain.sample_gradients(W, b, x, 0, act)
    # the spied run computed the real gradients, layer by layer
    assert_same_gradients(Gradients(loss, dW, db), closed_form.backward(W, b, x[:, None], np.array([0]), act))
    return list(_RowVector.shapes)


def chain_entries_by_hand(sizes: Sequence[int]) -> int:
    """What the chain's code multiplies, read off sample_gradients: per layer I (x) a^T and I,
    dz/da = W for every layer but the first, diag(g') for hidden layers, and softmax's K x K."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    return (sum(n * n * n_in + n * n for n_in, n in layers) + sum(n * n_in for n_in, n in layers[1:])
            + sum(n * n for n in sizes[1:-1]) + sizes[-1] ** 2)


SMALL_NETS = [[3, 2], [5, 4, 3, 2], [7, 1, 6], [4, 9, 9, 9, 3], [784, 8, 10]]


@pytest.mark.parametrize("sizes", SMALL_NETS, ids=lambda s: "-".join(map(str, s)))
def test_spy_counts_what_the_chain_multiplies(sizes):
    shapes = jacobians_multiplied(sizes)
    layers = len(sizes) - 1
    # softmax, then per layer (last first) I (x) a^T, I, and for all but the first W and diag(g')
    assert len(shapes) == 1 + 2 * layers + 2 * (layers - 1)
    assert shapes[0] == (sizes[-1], sizes[-1])
    assert sum(int(np.prod(s)) for s in shapes) == chain_entries_by_hand(sizes)


@pytest.mark.parametrize("sizes", SMALL_NETS, ids=lambda s: "-".join(map(str, s)))
def test_memory_estimate_bounds_the_jacobians_multiplied(sizes):
    counted = sum(int(np.prod(s)) for s in jacobians_multiplied(sizes))
    estimate = jacobian_chain.memory_estimate(sizes, batch=3, bytes_per_entry=8)
    assert estimate.per_sample_entries == counted
    assert estimate.per_sample_bytes == 8 * estimate.per_sample_entries
    assert estimate.batch_bytes == 3 * estimate.per_sample_bytes


@pytest.mark.parametrize("sizes", [[5, 4, 3, 2]], ids=["5-4-3-2"])
def test_memory_estimate_equals_the_jacobians_multiplied(sizes):
    counted = sum(int(np.prod(s)) for s in jacobians_multiplied(sizes))
    assert jacobian_chain.memory_estimate(sizes, batch=1).per_sample_entries == counted


def test_write_up_network_needs_tens_of_gigabytes():
    estimate = jacobian_chain.memory_estimate([784, 512, 10], batch=50)  # float32 by default
    assert estimate.bytes_per_entry == 4
    assert 10e9 <= estimate.batch_bytes < 100e9
    by_hand = chain_entries_by_hand([784, 512, 10]) * 4 * 50
    assert 10e9 <= by_hand < 100e9
    assert estimate.batch_bytes == pytest.approx(by_hand, rel=1e-2)
    assert estimate.per_sample_entries > 512 * 512 * 784  # the first layer's I (x) a^T alone


# ---- input validation --------------------------------------------------------------------


def _net(sizes=(3, 4, 2)):
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(n, n_in)) for n_in, n in zip(sizes[:-1], sizes[1:])]
    b = [rng.normal(size=(n, 1)) for n in sizes[1:]]
    return W, b, rng.normal(size=(sizes[0], 5)), np.array([0, 1, 1, 0, 1])


ORACLES = [closed_form.backward, jacobian_chain.backward]


@pytest.mark.parametrize("backward", ORACLES, ids=["closed_form", "jacobian_chain"])
def test_mismatched_weight_names_the_layer(backward):
    W, b, X, labels = _net()
    W[1] = W[1][:, :3]  # (2, 3) after a layer of 4 units
    with pytest.raises(ValueError, match=r"W\[1\] has shape \(2, 3\)"):
        backward(W, b, X, labels)


@pytest.mark.parametrize("backward", ORACLES, ids=["closed_form", "jacobian_chain"])
def test_mismatched_input_names_the_first_layer(backward):
    W, b, X, labels = _net()
    with pytest.raises(ValueError, match=r"W\[0\]"):
        backward(W, b, X[:2], labels)


@pytest.mark.parametrize("backward", ORACLES, ids=["closed_form", "jacobian_chain"])
def test_mismatched_bias_names_the_layer(backward):
    W, b, X, labels = _net()
    b[0] = np.zeros((3, 1))
    with pytest.raises(ValueError, match=r"b\[0\] has 3 entries, expected 4"):
        backward(W, b, X, labels)


@pytest.mark.parametrize("backward", ORACLES, ids=["closed_form", "jacobian_chain"])
def test_missing_bias_or_no_layers(backward):
    W, b, X, labels = _net()
    with pytest.raises(ValueError, match="one bias per weight matrix"):
        backward(W, b[:1], X, labels)
    with pytest.raises(ValueError, match="at least one layer"):
        backward([], [], X, labels)


@pytest.mark.parametrize("backward", ORACLES, ids=["closed_form", "jacobian_chain"])
def test_non_matrix_weight_names_the_layer(backward):
    W, b, X, labels = _net()
    W[1] = W[1].reshape(-1)
    with pytest.raises(ValueError, match=r"W\[1\]"):
        backward(W, b, X, labels)


@pytest.mark.parametrize("backward", ORACLES, ids=["closed_form", "jacobian_chain"])
@pytest.mark.parametrize("count", [1, 7])
def test_label_count_must_match_the_batch(backward, count):
    W, b, X, _ = _net()
    with pytest.raises(ValueError, match="label"):
        backward(W, b, X, np.zeros(count, dtype=np.int64))


@pytest.mark.parametrize("backward", ORACLES, ids=["closed_form", "jacobian_chain"])
@pytest.mark.parametrize("bad", [-1, 2])
def test_labels_must_be_class_indices(backward, bad):
    W, b, X, labels = _net()  # two classes
    labels[3] = bad
    with pytest.raises(ValueError, match="label"):
        backward(W, b, X, labels)


def test_the_engine_rejects_what_the_oracles_accept():
    """The engine's loss checks its labels as the oracles do."""
    with pytest.raises(ValueError, match="target has shape"):
        F.cross_entropy(Tensor(np.zeros((5, 2))), np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="target values must be in"):
        F.cross_entropy(Tensor(np.zeros((5, 2))), np.array([0, 1, 1, -1, 1]))
