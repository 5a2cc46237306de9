"""The compiled kernels against the numpy reference, and the switch that chooses between them.

The loops of ``core.kernel_loops`` are checked three ways: run as plain Python on
small inputs (so their logic is tested where numba is missing), compiled by numba
against the numpy code of ``core.kernels`` on random shapes, and end to end
through training steps of a CNN. Equal means bit for bit, except where the two
paths multiply different (but equal-valued) matrices before summing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mnist import Tensor, manual_seed, nn, optim
from tinygrad_mnist.core import accelerator, kernel_loops, kernels, pool_kernels
from tinygrad_mnist.nn import functional as F

needs_numba = pytest.mark.skipif(not accelerator.available(), reason="numba is not installed (the [fast] extra)")
DTYPES = (np.float32, np.float64)


@contextmanager
def python_loops():
    """The loops of kernel_loops run as plain Python in place of the compiled ones."""
    state = dict(accelerator._state)
    accelerator._state.update(compiled=accelerator.SimpleNamespace(
        **{name: getattr(kernel_loops, name) for name in kernel_loops.LOOPS}), tried=True, on=True)
    try:
        yield
    finally:
        accelerator._state.update(state)


def both(fn, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``fn`` with the accelerator on, then with numpy only."""
    on = fn(*args, **kwargs)
    with accelerator.disabled():
        off = fn(*args, **kwargs)
    return on, off


def _same(a: Any, b: Any) -> None:
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@st.composite
def conv_cases(draw: st.DrawFn) -> dict[str, Any]:
    groups = draw(st.sampled_from([1, 1, 2]))
    n, c, o = draw(st.integers(1, 3)), groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, padding, dilation = (draw(st.tuples(st.integers(lo, hi), st.integers(lo, hi)))
                                 for lo, hi in ((1, 2), (0, 2), (1, 2)))
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), 7))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), 7))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return {"x": rng.standard_normal((n, c, h, w)).astype(dtype),
            "w": rng.standard_normal((o, c // groups, kh, kw)).astype(dtype),
            "b": rng.standard_normal(o).astype(dtype), "stride": stride, "padding": padding,
            "dilation": dilation, "groups": groups}


def _conv_checks(case: dict[str, Any]) -> None:
    params = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    x, w, b = case["x"], case["w"], case["b"]
    for bias in (b, None):
        _same(*both(kernels.conv2d_bias_forward, x, w, bias, **params))
    out, _ = kernels.conv2d_forward(x, w, **params)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    on, off = both(kernels.conv2d_input_grad_forward, g, w, x.shape, **params)
    # the same sums in the same order, of products from two equal matrix products laid out differently
    np.testing.assert_allclose(on, off, rtol=1e-5 if x.dtype == np.float32 else 1e-12,
                               atol=1e-5 if x.dtype == np.float32 else 1e-12)
    assert on.dtype == off.dtype and on.flags.c_contiguous


@given(conv_cases())
@settings(max_examples=40, deadline=None)
def test_python_loops_give_the_numpy_convolution(case):
    with python_loops():
        _conv_checks(case)


@needs_numba
@given(conv_cases())
@settings(max_examples=60, deadline=None)
def test_compiled_loops_give_the_numpy_convolution(case):
    _conv_checks(case)


@st.composite
def pool_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 7)), draw(st.integers(2, 7))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.integers(-2, 3, (n, c, h, w)).astype(dtype)  # small integers: many ties
    special = draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, -0.0]), max_size=3))
    for value in special:
        x.flat[rng.integers(x.size)] = value
    g = rng.standard_normal((n, c, h // 2, w // 2)).astype(dtype)
    for value in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), max_size=2)):
        g.flat[rng.integers(g.size)] = value
    return x, g


def _pool_checks(x: np.ndarray, g: np.ndarray) -> None:
    (maxima, position), reference = both(pool_kernels.max_pool2d_forward, x, 2, 2)
    _same((maxima, position), reference)  # ties: the first maximum; NaN: the last NaN, as the reference
    _same(*both(pool_kernels.window_scatter_forward, g, position, 2, 2, x.shape))


@given(pool_cases())
@settings(max_examples=60, deadline=None)
def test_python_loops_give_the_numpy_pooling(case):
    with python_loops():
        _pool_checks(*case)


@needs_numba
@given(pool_cases())
@settings(max_examples=100, deadline=None)
def test_compiled_loops_give_the_numpy_pooling(case):
    _pool_checks(*case)


@needs_numba
def test_compiled_pooling_is_used_for_2x2_and_not_otherwise(monkeypatch):
    calls = []
    compiled = accelerator.kernels()
    assert compiled is not None
    original = compiled.max_pool_2x2
    monkeypatch.setattr(compiled, "max_pool_2x2", lambda *a: calls.append(1) or original(*a))
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    pool_kernels.max_pool2d_forward(x, 2, 2)
    assert calls == [1]
    for kernel, stride, dilation in ((3, 3, 1), (2, 1, 1), (2, 2, 2)):
        _same(*both(pool_kernels.max_pool2d_forward, x, kernel, stride, dilation))
    pool_kernels.max_pool2d_forward(x.astype(np.int32), 2, 2)  # integers: numpy only
    assert calls == [1]


@needs_numba
def test_a_cnn_trains_the_same_with_and_without_the_compiled_loops():
    def losses() -> list[float]:
        manual_seed(3)
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1),
                              nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 3 * 3, 10))
        opt = optim.Adam(model.parameters(), lr=1e-2)
        rng = np.random.default_rng(0)
        out = []
        for _ in range(5):
            x = Tensor(rng.standard_normal((8, 1, 14, 14)).astype(np.float32))
            y = Tensor(rng.integers(0, 10, 8))
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
        return out

    on, off = both(losses)
    np.testing.assert_allclose(on, off, rtol=1e-5)
    assert on[-1] < on[0]


def test_the_switch():
    with accelerator.disabled():
        assert accelerator.kernels() is None
    os.environ[accelerator.ENVIRONMENT_VARIABLE] = "0"
    try:
        assert accelerator.kernels() is None
    finally:
        del os.environ[accelerator.ENVIRONMENT_VARIABLE]
    assert (accelerator.kernels() is not None) == accelerator.available()


def test_without_numba_everything_runs_on_numpy(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` raise ImportError
    monkeypatch.setattr(accelerator, "_state", {"compiled": None, "tried": False, "on": None})
    assert not accelerator.available() and accelerator.kernels() is None
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    maxima, position = pool_kernels.max_pool2d_forward(x, 2, 2)
    np.testing.assert_array_equal(maxima, x.reshape(2, 2, 2, 2, 2, 2).max(axis=(3, 5)))
    assert position.dtype == np.uint8


def test_importing_the_package_does_not_import_numba():
    code = "import sys, tinygrad_mnist, tinygrad_mnist.nn; print('numba' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
