"""Optimizers and learning-rate schedulers against update rules written out in numpy here.

The objective is a separable quadratic, ``sum(0.5 * c * p**2 + d * p)`` per
parameter, so each reference knows the gradient ``c * p + d`` in closed form
and can replay the optimizer step by step without the engine.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from tinygrad_mnist import Tensor, manual_seed, nn
from tinygrad_mnist.nn import functional as F
from tinygrad_mnist.optim import SGD, Adam, AdamW, CosineAnnealingLR, StepLR

SHAPES = [(3, 4), (5,)]


class Quadratic:
    """Two parameters (a matrix and a vector) with their own curvature and offset."""

    def __init__(self, dtype=np.float64, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.start = [rng.normal(size=s).astype(dtype) for s in SHAPES]
        self.curvature = [rng.uniform(0.5, 2.0, size=s).astype(dtype) for s in SHAPES]
        self.offset = [rng.normal(size=s).astype(dtype) for s in SHAPES]

    def params(self) -> list[Tensor]:
        return [Tensor(a.copy(), requires_grad=True) for a in self.start]

    def loss(self, params: list[Tensor]) -> Tensor:
        total = None
        for p, c, d in zip(params, self.curvature, self.offset):
            term = (Tensor(c) * p * p).sum() * 0.5 + (Tensor(d) * p).sum()
            total = term if total is None else total + term
        return total

    def grad(self, i: int, p: np.ndarray) -> np.ndarray:
        return self.curvature[i] * p + self.offset[i]


def run(opt, problem: Quadratic, params: list[Tensor], steps: int) -> list[list[np.ndarray]]:
    """``steps`` rounds of zero_grad / backward / step; the parameters after each."""
    history = []
    for _ in range(steps):
        opt.zero_grad()
        problem.loss(params).backward()
        opt.step()
        history.append([p.data.copy() for p in params])
    return history


# ---- numpy references ---------------------------------------------------------------


def sgd_reference(p, grad, steps, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    p, buf, history = p.astype(np.float64), 0.0, []
    for _ in range(steps):
        g = grad(p) + weight_decay * p
        if momentum:
            buf = momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        history.append(p)
    return history


def adam_reference(p, grad, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    p, m, v, history = p.astype(np.float64), 0.0, 0.0, []
    for t in range(1, steps + 1):
        g = grad(p)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(p)
    return history


CASES = [
    pytest.param(SGD, dict(lr=0.1), sgd_reference, {}, id="sgd"),
    pytest.param(SGD, dict(lr=0.05, momentum=0.9), sgd_reference, {}, id="sgd-momentum"),
    pytest.param(SGD, dict(lr=0.05, momentum=0.8, nesterov=True), sgd_reference, {}, id="sgd-nesterov"),
    pytest.param(SGD, dict(lr=0.1, weight_decay=0.3), sgd_reference, {}, id="sgd-weight-decay"),
    pytest.param(SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1), sgd_reference, {},
                 id="sgd-nesterov-weight-decay"),
    pytest.param(Adam, dict(lr=0.1), adam_reference, {}, id="adam"),
    pytest.param(Adam, dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3), adam_reference, {}, id="adam-betas-eps"),
    pytest.param(Adam, dict(lr=0.1, weight_decay=0.5), adam_reference, {}, id="adam-l2"),
    pytest.param(AdamW, dict(lr=0.1, weight_decay=0.5), adam_reference, {"decoupled": True}, id="adamw"),
    pytest.param(AdamW, dict(lr=0.1), adam_reference, {"decoupled": True, "weight_decay": 1e-2},
                 id="adamw-default-decay"),
]


@pytest.mark.parametrize("optimizer, hyper, reference, extra", CASES)
def test_steps_match_numpy_reference(optimizer, hyper, reference, extra):
    steps = 6
    problem = Quadratic()
    params = problem.params()
    history = run(optimizer(params, **hyper), problem, params, steps)
    for i, start in enumerate(problem.start):
        expected = reference(start, lambda p: problem.grad(i, p), steps, **hyper, **extra)
        for t in range(steps):
            np.testing.assert_allclose(history[t][i], expected[t], rtol=1e-10, atol=1e-12,
                                       err_msg=f"parameter {i} after step {t + 1}")


def test_first_adam_step_moves_each_element_by_lr():
    # with m_hat = g and v_hat = g^2 the first update is lr * g / (|g| + eps), i.e. lr * sign(g)
    problem = Quadratic()
    params = problem.params()
    run(Adam(params, lr=0.01, eps=1e-12), problem, params, 1)
    for i, (p, start) in enumerate(zip(params, problem.start)):
        np.testing.assert_allclose(p.data, start - 0.01 * np.sign(problem.grad(i, start)), rtol=1e-9)


def test_sgd_momentum_second_step_by_hand():
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.5)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()  # gradient 2w
        opt.step()
    # step 1: buf = 2w0, w1 = w0 - 0.1 * 2w0 = 0.8 w0; step 2: buf = 0.5 * 2w0 + 2 * 0.8w0 = 2.6 w0
    np.testing.assert_allclose(w.data, (0.8 - 0.26) * np.array([1.0, -2.0]), rtol=1e-12)


@pytest.mark.parametrize("optimizer, hyper, reference, extra", CASES)
def test_updates_are_in_place_and_keep_float32(optimizer, hyper, reference, extra):
    problem = Quadratic(np.float32)
    params = problem.params()
    arrays = [p.data for p in params]
    opt = optimizer(params, **hyper)
    run(opt, problem, params, 3)
    for p, array in zip(params, arrays):
        assert p.data is array
        assert p.dtype == np.float32
    assert all(v.dtype == np.float32 for entry in opt.state_dict()["state"].values()
               for v in entry.values() if isinstance(v, np.ndarray))
    # float32 steps stay close to the float64 reference
    expected = reference(problem.start[0], lambda p: problem.grad(0, p), 3, **hyper, **extra)
    np.testing.assert_allclose(params[0].data, expected[-1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimizer, hyper, reference, extra", CASES)
def test_zero_grad_sets_gradients_to_none(optimizer, hyper, reference, extra):
    problem = Quadratic()
    params = problem.params()
    opt = optimizer(params, **hyper)
    problem.loss(params).backward()
    assert all(p.grad is not None for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("optimizer, hyper, reference, extra", CASES)
def test_parameters_without_gradient_are_skipped(optimizer, hyper, reference, extra):
    problem = Quadratic()
    params = problem.params()
    opt = optimizer(params, **hyper)
    for _ in range(3):
        opt.zero_grad()
        problem.loss(params[:1]).backward()  # only the first parameter is used
        opt.step()
    assert params[1].grad is None
    np.testing.assert_array_equal(params[1].data, problem.start[1])
    assert not np.array_equal(params[0].data, problem.start[0])


def test_adam_bias_correction_counts_each_parameters_own_steps():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    (a * a).sum().backward()
    opt.step()  # b has no gradient yet
    opt.zero_grad()
    ((a * a).sum() + (b * b).sum()).backward()
    opt.step()  # b's first update
    expected = adam_reference(np.array([1.0, -2.0, 3.0]), lambda p: 2 * p, steps=1, lr=0.1)
    np.testing.assert_allclose(b.data, expected[0], rtol=1e-9)


@pytest.mark.parametrize("optimizer, hyper", [
    pytest.param(SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1), id="sgd-nesterov"),
    pytest.param(SGD, dict(lr=0.1), id="sgd"),
    pytest.param(Adam, dict(lr=0.05, weight_decay=0.1), id="adam"),
    pytest.param(AdamW, dict(lr=0.05, weight_decay=0.1), id="adamw"),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_dict_round_trip_gives_identical_steps(optimizer, hyper, dtype):
    problem = Quadratic(dtype)
    params = problem.params()
    original = optimizer(params, **hyper)
    run(original, problem, params, 4)

    state = original.state_dict()
    frozen = copy.deepcopy(state)
    clones = [Tensor(p.data.copy(), requires_grad=True) for p in params]
    restored = optimizer(clones, lr=1.0)  # hyper-parameters come from the state
    restored.load_state_dict(state)
    def hyper(o):
        return [{k: v for k, v in g.items() if k != "params"} for g in o.param_groups]
    assert hyper(restored) == hyper(original)

    run(original, problem, params, 5)
    run(restored, problem, clones, 5)
    for p, q in zip(params, clones):
        np.testing.assert_array_equal(p.data, q.data)
    # as in PyTorch, the state dict's tensors are the optimizer's state: later steps show in them,
    # and the deep copy taken before those steps still holds the old values
    later = original.state_dict()
    tensors = [(i, k) for i, entry in frozen["state"].items() for k, v in entry.items() if isinstance(v, Tensor)]
    for i, k in tensors:
        np.testing.assert_array_equal(state["state"][i][k].data, later["state"][i][k].data)
    assert not tensors or any(not np.array_equal(frozen["state"][i][k].data, later["state"][i][k].data) for i, k in tensors)


def test_load_state_dict_rejects_other_optimizers_and_shapes():
    problem = Quadratic()
    params = problem.params()
    sgd = SGD(params, lr=0.1, momentum=0.9)
    run(sgd, problem, params, 1)
    legacy = {"type": "SGD", "hyper": {}, "steps": 1, "buffers": {}}
    with pytest.raises(ValueError, match="Adam.*SGD"):
        Adam(params).load_state_dict(legacy)
    state = sgd.state_dict()
    state["state"][1]["momentum_buffer"] = np.zeros(7)
    fresh = SGD(problem.params(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"momentum_buffer\.1.*\(7,\).*\(5,\)"):
        fresh.load_state_dict(state)
    assert fresh.state == {}


def _non_leaf():
    return Tensor(np.ones(2), requires_grad=True) * 2


@pytest.mark.parametrize(
    "make, error, pattern",
    [
        pytest.param(lambda p: SGD(p, lr=-0.1), ValueError, "SGD: lr", id="sgd-negative-lr"),
        pytest.param(lambda p: SGD(p, lr=float("nan")), ValueError, "SGD: lr", id="sgd-nan-lr"),
        pytest.param(lambda p: SGD(p, lr=0.1, momentum=-0.5), ValueError, "momentum", id="sgd-negative-momentum"),
        pytest.param(lambda p: SGD(p, lr=0.1, weight_decay=-1), ValueError, "weight_decay", id="sgd-negative-decay"),
        pytest.param(lambda p: SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov", id="nesterov-no-momentum"),
        pytest.param(lambda p: Adam(p, lr=-1e-3), ValueError, "Adam: lr", id="adam-negative-lr"),
        pytest.param(lambda p: AdamW(p, lr=-1e-3), ValueError, "AdamW: lr", id="adamw-negative-lr"),
        pytest.param(lambda p: Adam(p, betas=(1.0, 0.999)), ValueError, r"betas\[0\]", id="beta1-one"),
        pytest.param(lambda p: Adam(p, betas=(0.9, -0.1)), ValueError, r"betas\[1\]", id="beta2-negative"),
        pytest.param(lambda p: Adam(p, betas=(0.9, 1.5)), ValueError, r"betas\[1\]", id="beta2-large"),
        pytest.param(lambda p: Adam(p, betas=(0.9,)), ValueError, "betas", id="betas-length"),
        pytest.param(lambda p: Adam(p, eps=-1e-8), ValueError, "eps", id="adam-negative-eps"),
        pytest.param(lambda p: AdamW(p, weight_decay=-0.1), ValueError, "weight_decay", id="adamw-negative-decay"),
        pytest.param(lambda p: SGD([], lr=0.1), ValueError, "empty", id="sgd-empty"),
        pytest.param(lambda p: Adam(iter([])), ValueError, "empty", id="adam-empty"),
        pytest.param(lambda p: SGD([_non_leaf()], lr=0.1), ValueError, "parameter 0", id="non-leaf"),
        pytest.param(lambda p: SGD([np.ones(2)], lr=0.1), TypeError, "parameter 0", id="not-a-tensor"),
    ],
)
def test_constructor_errors(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make(Quadratic().params())


# ---- schedulers --------------------------------------------------------------------


def make_sgd(lr=0.5):
    return SGD([Tensor(np.zeros(2), requires_grad=True)], lr=lr)


def step_lr(base, epoch, step_size, gamma):
    return base * gamma ** math.floor(epoch / step_size)


def cosine_lr(base, epoch, t_max, eta_min):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2


SCHEDULERS = [
    pytest.param(lambda o: StepLR(o, step_size=3, gamma=0.5), lambda e: step_lr(0.5, e, 3, 0.5), id="step"),
    pytest.param(lambda o: StepLR(o, step_size=1), lambda e: step_lr(0.5, e, 1, 0.1), id="step-every-epoch"),
    pytest.param(lambda o: CosineAnnealingLR(o, T_max=10), lambda e: cosine_lr(0.5, e, 10, 0.0), id="cosine"),
    pytest.param(lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.01), lambda e: cosine_lr(0.5, e, 7, 0.01),
                 id="cosine-eta-min"),
]


@pytest.mark.parametrize("make_scheduler, formula", SCHEDULERS)
def test_scheduler_lr_follows_formula(make_scheduler, formula):
    opt = make_sgd(0.5)
    scheduler = make_scheduler(opt)
    assert opt.lr == 0.5
    for epoch in range(1, 15):
        scheduler.step()
        assert scheduler.last_epoch == epoch
        assert opt.lr == pytest.approx(formula(epoch), rel=1e-12, abs=1e-15)
        assert scheduler.get_last_lr() == [opt.lr]


def test_cosine_reaches_eta_min_at_t_max_then_rises():
    opt = make_sgd(0.5)
    scheduler = CosineAnnealingLR(opt, T_max=4, eta_min=0.02)
    lrs = []
    for _ in range(8):
        scheduler.step()
        lrs.append(opt.lr)
    assert lrs[1] == pytest.approx((0.5 + 0.02) / 2)  # half way
    assert lrs[3] == pytest.approx(0.02) and lrs[7] == pytest.approx(0.5)
    assert all(a > b for a, b in zip(lrs[:3], lrs[1:4]))
    assert all(a < b for a, b in zip(lrs[3:7], lrs[4:8]))  # the wave continues after T_max


def test_scheduled_lr_is_used_by_the_optimizer():
    w = Tensor(np.array([1.0]), requires_grad=True)
    opt = SGD([w], lr=1.0)
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    expected = 1.0
    for lr in (1.0, 0.5, 0.25):
        opt.zero_grad()
        w.sum().backward()  # gradient 1
        opt.step()
        expected -= lr
        scheduler.step()
    np.testing.assert_allclose(w.data, [expected])


@pytest.mark.parametrize("make_scheduler, formula", SCHEDULERS)
def test_scheduler_state_dict_round_trip(make_scheduler, formula):
    opt = make_sgd(0.5)
    scheduler = make_scheduler(opt)
    for _ in range(5):
        scheduler.step()
    other_opt = make_sgd(0.9)
    other = make_scheduler(other_opt)
    other_opt.load_state_dict(opt.state_dict())
    other.load_state_dict(scheduler.state_dict())
    assert other.last_epoch == 5 and other_opt.lr == opt.lr
    for _ in range(4):
        scheduler.step()
        other.step()
        assert other_opt.lr == opt.lr
    assert opt.lr == pytest.approx(formula(9))


@pytest.mark.parametrize(
    "make",
    [lambda o: StepLR(o, step_size=0), lambda o: CosineAnnealingLR(o, T_max=0)],
    ids=["step_size", "T_max"],
)
def test_scheduler_errors(make):
    with pytest.raises(ValueError, match=">= 1"):
        make(make_sgd())


# ---- training sanity ------------------------------------------------------------------


def two_moons(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    angle = rng.uniform(0, math.pi, size=n)
    x = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x[labels == 1] = [1.0, 0.5] - x[labels == 1]  # the second moon, flipped and shifted
    return (x + rng.normal(scale=0.05, size=x.shape)).astype(np.float32), labels


@pytest.mark.parametrize(
    "make_optimizer",
    [
        pytest.param(lambda p: SGD(p, lr=0.3, momentum=0.9), id="sgd-momentum"),
        pytest.param(lambda p: Adam(p, lr=0.02), id="adam"),
        pytest.param(lambda p: AdamW(p, lr=0.02, weight_decay=1e-3), id="adamw"),
    ],
)
def test_small_mlp_fits_a_toy_problem(make_optimizer):
    x, labels = two_moons()
    manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = make_optimizer(model.parameters())
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = F.cross_entropy(model(Tensor(x)), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    accuracy = np.mean(model(Tensor(x)).data.argmax(axis=1) == labels)
    assert accuracy == 1.0
