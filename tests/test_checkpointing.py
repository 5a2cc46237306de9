"""Checkpointing: the same gradients as without it, bit for bit, with less memory.

The oracle of every gradient test is the same computation without
``checkpoint`` (same seed, so dropout draws the same masks); the memory test
measures tracemalloc's peak of a deep MLP's step with and without.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pytest

import tinygrad_mnist as tm
from benchmarks import checkpointing as bench
from tinygrad_mnist import autograd, nn
from tinygrad_mnist.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential


def leaf(*shape, dtype=np.float64, seed=0):
    return tm.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True)


def grads_of(tensors):
    return [None if t.grad is None else t.grad.numpy().copy() for t in tensors]


def assert_identical(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        assert (u is None) == (v is None)
        if u is not None:
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u, v)


def mlp(dtype, dropout=0.3):
    tm.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(6, 6), nn.Tanh(), nn.Dropout(dropout))])
    return model.to(tm.float64) if dtype == np.float64 else model


def train_step(model, x, run):
    model.zero_grad()
    x.grad = None
    tm.manual_seed(1)  # the dropout masks
    y = run(x)
    (y ** 2).sum().backward()
    return grads_of([*model.parameters(), x])


# ---- gradients ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_with_dropout_gradients_are_identical(dtype):
    model = mlp(dtype)
    x = leaf(5, 6, dtype=dtype)
    plain = train_step(model, x, model)
    blocks = list(model)
    per_block = train_step(model, x, lambda h: _each(blocks, 3, h))
    sequential = train_step(model, x, lambda h: checkpoint_sequential(model, 4, h, use_reentrant=False))
    reentrant = train_step(model, x, lambda h: checkpoint_sequential(model, 2, h, use_reentrant=True))
    assert_identical(plain, per_block)
    assert_identical(plain, sequential)
    assert_identical(plain, reentrant)


def _each(blocks, size, x):
    for i in range(0, len(blocks), size):
        x = checkpoint(nn.Sequential(*blocks[i:i + size]), x, use_reentrant=False)
    return x


def test_dropout_draws_the_same_masks_and_leaves_the_generator_as_without_checkpoint():
    x = leaf(50, dtype=np.float64)
    drop = nn.Dropout(0.5)
    tm.manual_seed(3)
    y = checkpoint(drop, x, use_reentrant=False)
    y.sum().backward()
    after = tm.random.generator().random()
    np.testing.assert_array_equal(x.grad.numpy(), (y.numpy() != 0) * 2.0)  # the rerun's mask is the first run's
    tm.manual_seed(3)
    drop(x)
    assert after == tm.random.generator().random()


def test_without_preserve_rng_state_the_rerun_draws_new_numbers():
    x = leaf(200, dtype=np.float64)
    tm.manual_seed(3)
    y = checkpoint(nn.Dropout(0.5), x, use_reentrant=False, preserve_rng_state=False)
    y.sum().backward()
    assert not np.array_equal(x.grad.numpy(), (y.numpy() != 0) * 2.0)


def test_cnn_block_gradients_are_identical():
    tm.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 3, 3), nn.Tanh())
    head = nn.Linear(3, 2)
    x = leaf(2, 2, 6, 6, dtype=np.float32)
    runs = []
    for wrap in (block, lambda h: checkpoint(block, h, use_reentrant=False)):
        block.zero_grad()
        head.zero_grad()
        x.grad = None
        head(wrap(x).mean(axis=(2, 3))).sum().backward()
        runs.append(grads_of([*block.parameters(), *head.parameters(), x]))
    assert_identical(*runs)


def test_several_inputs_outputs_kwargs_and_other_values():
    w = leaf(3, seed=1)
    a, b = leaf(3, seed=2), leaf(3, seed=3)
    marker = object()

    def f(p, q, *, scale):
        return (p * q * w, [(p.sin() * scale).astype(np.float32), marker], {"n": 3, "t": q.exp()})

    runs = []
    for wrapped in (False, True):
        for t in (w, a, b):
            t.grad = None
        out = checkpoint(f, a, b, scale=2.0, use_reentrant=False) if wrapped else f(a, b, scale=2.0)
        assert out[1][1] is marker and out[2]["n"] == 3
        assert out[1][0].dtype == np.float32
        loss = (out[0] ** 2).sum() + out[1][0].astype(np.float64).sum() * 3 + out[2]["t"].sum()
        loss.backward()
        runs.append(grads_of([w, a, b]))
    assert_identical(*runs)


def test_an_output_used_twice_and_an_input_returned_as_it_is():
    x = leaf(4)
    y, same = checkpoint(lambda a: ((a * a).sum(), a), x, use_reentrant=False)
    assert same is x
    (y * y + same.sum()).backward()
    expected = 4 * (x.numpy() ** 2).sum() * x.numpy() + 1
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)


def test_parameters_only_inputs_not_requiring_grad():
    tm.manual_seed(0)
    layer = nn.Linear(4, 3).to(tm.float64)
    x = tm.Tensor(np.random.default_rng(0).standard_normal((5, 4)))
    layer(x).tanh().sum().backward()
    plain = grads_of(layer.parameters())
    layer.zero_grad()
    y = checkpoint(lambda h: layer(h).tanh(), x, use_reentrant=False)
    assert y.requires_grad
    y.sum().backward()
    assert_identical(plain, grads_of(layer.parameters()))


def test_reentrant_with_no_input_requiring_grad_warns_and_the_outputs_do_not_require_grad():
    layer = nn.Linear(4, 3)
    with pytest.warns(UserWarning, match="none of the inputs requires grad"):
        y = checkpoint(layer, tm.randn(2, 4), use_reentrant=True)
    assert not y.requires_grad


def test_use_reentrant_none_warns_and_means_true():
    with pytest.warns(UserWarning, match="use_reentrant was not given"), \
            pytest.raises(ValueError, match="unexpected keyword arguments scale"):
        checkpoint(lambda a, scale: a * scale, leaf(2), scale=2.0)


def test_autograd_grad_returns_the_gradients_and_writes_no_grad():
    w, x = leaf(3, seed=1), leaf(3, seed=2)
    y = checkpoint(lambda a: (a * w).sin().sum(), x, use_reentrant=False)
    gw, gx = autograd.grad(y, [w, x])
    assert w.grad is None and x.grad is None
    np.testing.assert_array_equal(gw.numpy(), (np.cos(x.numpy() * w.numpy()) * x.numpy()))
    np.testing.assert_array_equal(gx.numpy(), (np.cos(x.numpy() * w.numpy()) * w.numpy()))


def test_double_backward_matches_the_plain_graph():
    w, x = leaf(3, seed=1), leaf(3, seed=2)
    results = []
    for wrapped in (False, True):
        f = lambda a: ((a * w).tanh() ** 2).sum()  # noqa: E731
        y = checkpoint(f, x, use_reentrant=False) if wrapped else f(x)
        (gx,) = autograd.grad(y, [x], create_graph=True)
        results.append([g.numpy() for g in autograd.grad((gx * gx).sum(), [x, w])])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_hooks_on_inputs_run_once_and_retain_grad_on_outputs_works():
    base = leaf(3)
    x = base * 2  # a non-leaf input with a graph of its own
    calls = []
    x.register_hook(lambda g: calls.append(1) or g * 10)
    y = checkpoint(lambda a: a.exp(), x, use_reentrant=False)
    y.retain_grad()
    y.sum().backward()
    assert calls == [1]
    np.testing.assert_array_equal(y.grad.numpy(), np.ones(3))
    np.testing.assert_array_equal(base.grad.numpy(), np.exp(x.numpy()) * 10 * 2)


# ---- when the function runs ----------------------------------------------------------------
def test_the_function_runs_once_forward_and_once_more_per_backward():
    calls = []
    x = leaf(3)

    def f(a):
        calls.append(1)
        return a.sin()
    y = checkpoint(f, x, use_reentrant=False).sum()
    assert len(calls) == 1
    y.backward(retain_graph=True)
    assert len(calls) == 2
    y.backward()
    assert len(calls) == 3
    with pytest.raises(RuntimeError, match="freed"):
        y.backward()


def test_under_no_grad_it_is_a_plain_call():
    calls = []
    x = leaf(3)
    with tm.no_grad():
        y = checkpoint(lambda a: calls.append(1) or a * 2, x, use_reentrant=False)
    assert calls == [1] and not y.requires_grad


def test_context_fn_contexts_surround_the_first_run_and_the_rerun():
    seen = []

    @contextmanager
    def tag(name):
        seen.append(name)
        yield

    y = checkpoint(lambda a: a.sin(), leaf(2), use_reentrant=False, context_fn=lambda: (tag("first"), tag("rerun")))
    assert seen == ["first"]
    y.sum().backward()
    assert seen == ["first", "rerun"]


# ---- memory --------------------------------------------------------------------------------
def test_peak_memory_is_lower_on_a_deep_mlp():
    blocks, x = bench.build(layers=16, width=16, batch=512)
    plain = bench.peak_bytes(blocks, x, None)
    every = bench.peak_bytes(blocks, x, 1)
    chunks = bench.peak_bytes(blocks, x, 4)
    assert every < 0.75 * plain and chunks < 0.6 * plain  # measured: 0.61 and 0.43


def test_the_benchmark_checks_gradients_and_reports_ratios():
    result = bench.measure(layers=4, width=8, batch=16, everies=[1, 2], repeats=1)
    assert [row["every"] for row in result["rows"]] == [None, 1, 2]
    assert result["rows"][0]["peak_ratio"] == 1.0
    assert "every 2 blocks" in bench.format_table(result)


# ---- errors --------------------------------------------------------------------------------
def test_errors_name_the_argument():
    x = leaf(2)
    with pytest.raises(TypeError, match="function must be callable, got int"):
        checkpoint(3, x, use_reentrant=False)
    with pytest.raises(ValueError, match="determinism_check must be one of"):
        checkpoint(tm.sin, x, use_reentrant=False, determinism_check="always")
    with pytest.raises(ValueError, match="context_fn and debug"):
        checkpoint(tm.sin, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="unexpected keyword arguments scale"):
        checkpoint(lambda a, scale: a, x, use_reentrant=True, scale=1)
    with pytest.raises(ValueError, match="segments must be a positive integer, got 0"):
        checkpoint_sequential([tm.sin], 0, x, use_reentrant=False)
    with pytest.raises(ValueError, match="only preserve_rng_state"):
        checkpoint_sequential([tm.sin], 1, x, use_reentrant=False, debug=True)
    with pytest.raises(TypeError, match="functions must be"):
        checkpoint_sequential(tm.sin, 1, x, use_reentrant=False)


def test_a_rerun_that_differs_raises_checkpoint_error():
    sizes = iter([3, 2])
    x = leaf(4)
    y = checkpoint(lambda a: a[:next(sizes)].exp(), x, use_reentrant=False, debug=True)
    with pytest.raises(CheckpointError, match=r"not deterministic.*shape or dtype.*first run: \[\(\(3,\)"):
        y.sum().backward()


def test_an_input_changed_in_place_after_the_call_is_refused():
    x = leaf(3)
    h = x * 1.0
    y = checkpoint(lambda a: a.exp(), h, use_reentrant=False)
    with tm.no_grad():
        h.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"in place|modified|changed"):
        y.sum().backward()


def test_no_warning_with_an_explicit_flag():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(tm.sin, leaf(2), use_reentrant=False).sum().backward()
        checkpoint(tm.sin, leaf(2), use_reentrant=True).sum().backward()
