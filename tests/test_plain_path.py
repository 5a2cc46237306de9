"""The plain-op path: networks written as ``(x @ w1 + b1).relu() @ w2 + b2`` with weights shaped (in, out).

Its gradients are checked against the closed-form backpropagation of the MLP
(in numpy, written out below), against the ``nn.Linear`` orientation of the
same weights, and against finite differences to second order for every branch
of the matmul rule (matrix, stack of matrices, vector), including gradients
that arrive as broadcast views (the gradient of a sum). The benchmark's plain
variant must train to the same losses as the ``nn.Linear`` variant.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import mlp_epoch
from tinygrad_mnist import Tensor
from tinygrad_mnist.autograd import gradcheck, gradgradcheck
from tinygrad_mnist.core import rules
from tinygrad_mnist.nn import functional as F

from mlp_oracle import mlp_grads

ROOT = Path(__file__).resolve().parent.parent


def _leaf(rng: np.random.Generator, *shape: int, dtype: type = np.float64) -> Tensor:
    return Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


def test_plain_mlp_gradients_match_the_closed_form():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 12)), rng.integers(0, 5, 16)
    params = [_leaf(rng, 12, 8), _leaf(rng, 8), _leaf(rng, 8, 5), _leaf(rng, 5)]
    w1, b1, w2, b2 = params
    F.cross_entropy((Tensor(x) @ w1 + b1).relu() @ w2 + b2, y).backward()
    expected = mlp_grads(x, y, *(p.data for p in params))
    for p, want in zip(params, expected, strict=True):
        assert p.grad.shape == p.shape
        np.testing.assert_allclose(p.grad.data, want, rtol=1e-12, atol=1e-14)


def test_both_weight_orientations_give_the_same_gradients_in_float32():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((32, 20)).astype(np.float32), rng.integers(0, 6, 32)
    w1, b1, w2, b2 = (_leaf(rng, *s, dtype=np.float32) for s in ((20, 16), (16,), (16, 6), (6,)))
    # the nn.Linear orientation: weights shaped (out, in), the same values
    v1, v2 = (Tensor(np.array(w.data.T, order="C"), requires_grad=True) for w in (w1, w2))
    c1, c2 = (Tensor(b.data.copy(), requires_grad=True) for b in (b1, b2))
    plain = F.cross_entropy((Tensor(x) @ w1 + b1).relu() @ w2 + b2, y)
    linear = F.cross_entropy(F.linear(F.linear(Tensor(x), v1, c1).relu(), v2, c2), y)
    plain.backward()
    linear.backward()
    assert plain.dtype == np.float32 and w1.grad.dtype == np.float32
    np.testing.assert_allclose(plain.item(), linear.item(), rtol=1e-6)
    for got, want in ((w1.grad.data, v1.grad.data.T), (w2.grad.data, v2.grad.data.T),
                      (b1.grad.data, c1.grad.data), (b2.grad.data, c2.grad.data)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


MATMUL_SHAPES = {
    "matrix @ matrix (w in, out)": ((5, 4), (4, 3)),
    "stack @ matrix": ((2, 3, 4), (4, 5)),
    "stack @ stack": ((2, 3, 4), (2, 4, 2)),
    "matrix @ vector": ((5, 4), (4,)),
    "stack @ vector": ((2, 3, 4), (4,)),
    "vector @ matrix": ((4,), (4, 3)),
    "vector @ stack": ((4,), (2, 4, 3)),
    "vector @ vector": ((4,), (4,)),
}


@pytest.mark.parametrize("shapes", MATMUL_SHAPES.values(), ids=MATMUL_SHAPES.keys())
def test_every_matmul_branch_passes_first_and_second_order_checks(shapes):
    rng = np.random.default_rng(2)
    a, b = _leaf(rng, *shapes[0]), _leaf(rng, *shapes[1])
    assert gradcheck(lambda s, t: s @ t, [a, b])
    assert gradgradcheck(lambda s, t: s @ t, [a, b])


@pytest.mark.parametrize("shapes", MATMUL_SHAPES.values(), ids=MATMUL_SHAPES.keys())
def test_a_broadcast_gradient_passes_the_first_order_check(shapes):
    """Behind ``.sum()`` the matmul receives its gradient as a broadcast view of ones."""
    rng = np.random.default_rng(3)
    a, b = _leaf(rng, *shapes[0]), _leaf(rng, *shapes[1])
    assert gradcheck(lambda s, t: (s @ t).sum(), [a, b])


def test_a_broadcast_gradient_gives_the_closed_form():
    """d/dw sum(x @ w) = column sums of x for every output; d/dx = row sums of w; d/dv sum(s @ v) = sums of s."""
    rng = np.random.default_rng(3)
    x, w = _leaf(rng, 5, 4), _leaf(rng, 4, 3)
    s, v = _leaf(rng, 2, 3, 4), _leaf(rng, 4)
    ((x @ w).sum() + (s @ v).sum()).backward()
    np.testing.assert_allclose(w.grad.data, np.repeat(x.data.sum(axis=0)[:, None], 3, axis=1), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, np.repeat(w.data.sum(axis=1)[None, :], 5, axis=0), rtol=1e-12)
    np.testing.assert_allclose(v.grad.data, s.data.sum(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(s.grad.data, np.broadcast_to(v.data, (2, 3, 4)), rtol=1e-12)


def test_sum_of_products_passes_the_second_order_check():
    """The broadcast gradient of the sum goes through the copy that BLAS needs, and stays differentiable."""
    rng = np.random.default_rng(4)
    for shapes in (((3, 2, 4), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4,))):
        a, b = _leaf(rng, *shapes[0]), _leaf(rng, *shapes[1])
        assert gradgradcheck(lambda s, t: (s @ t).sum() * (s @ t).sum(), [a, b])


def test_a_stack_times_one_matrix_gets_its_weight_gradient_in_one_product():
    """No per-matrix gradient (shaped (stack, in, out)) is left for the walk to sum: one GEMM over all rows."""
    rng = np.random.default_rng(5)
    a, w, v = _leaf(rng, 6, 5, 4), _leaf(rng, 4, 3), _leaf(rng, 4)
    g = Tensor(rng.standard_normal((6, 5, 3)))
    gw = rules._matmul_vjp_b(g, a @ w, a, w)
    assert gw.shape == (4, 3)
    np.testing.assert_allclose(gw.data, np.einsum("sri,sro->io", a.data, g.data), rtol=1e-12)
    gv = rules._matmul_vjp_b(g[..., 0], a @ v, a, v)
    assert gv.shape == (4,)
    np.testing.assert_allclose(gv.data, np.einsum("sri,sr->i", a.data, g.data[..., 0]), rtol=1e-12)
    ga = rules._matmul_vjp_a(g, a @ w, a, w)
    np.testing.assert_allclose(ga.data, np.einsum("sro,io->sri", g.data, w.data), rtol=1e-12)


def test_a_matmul_with_an_empty_axis_has_zero_gradients():
    a = Tensor(np.zeros((2, 3, 0)), requires_grad=True)
    w = Tensor(np.zeros((0, 4)), requires_grad=True)
    v = Tensor(np.zeros((0,)), requires_grad=True)
    ((a @ w).sum() + (a @ v).sum()).backward()
    assert a.grad.shape == (2, 3, 0) and w.grad.shape == (0, 4) and v.grad.shape == (0,)


def test_plain_mlp_passes_the_second_order_check():
    rng = np.random.default_rng(6)
    x = Tensor(rng.standard_normal((4, 5)))
    w1, b1, w2, b2 = _leaf(rng, 5, 6), _leaf(rng, 6), _leaf(rng, 6, 3), _leaf(rng, 3)
    assert gradgradcheck(lambda p, q, r, s: (x @ p + q).relu() @ r + s, [w1, b1, w2, b2])


def _batches(steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return [(rng.random((mlp_epoch.BATCH, 784), dtype=np.float32), rng.integers(0, 10, mlp_epoch.BATCH))
            for _ in range(steps)]


def test_the_plain_benchmark_trains_to_the_nn_linear_losses():
    batches = _batches(5)
    _, linear_loss = mlp_epoch.run_project(batches)
    _, plain_loss = mlp_epoch.run_plain(batches)
    _, first_plain = mlp_epoch.run_plain(batches[:1])
    assert plain_loss != first_plain  # five Adam steps moved the loss
    np.testing.assert_allclose(plain_loss, linear_loss, rtol=1e-5)


def test_the_benchmark_child_runs_the_plain_model():
    done = subprocess.run([sys.executable, "-m", "benchmarks.mlp_epoch", "--child", "plain", "--steps", "2"],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["impl"] == "plain" and result["steps"] == 2
    assert np.isfinite(result["final_loss"]) and result["seconds"] > 0
