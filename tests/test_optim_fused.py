"""The blocked, in-place optimizer steps against the textbook update rules, and the subnormal flush.

Each reference below is the update rule as usually written, one numpy expression per line, on
float64 copies; the optimizers run in float32 or float64 on parameters larger than one block
(several blocks per step), on a vector, on a 0-d parameter, and with a Fortran-ordered gradient
(the whole-array path).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.optim import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, RMSprop, algorithms, optimizer

SHAPES = [(150, 300), (7,), ()]  # 45,000 elements: more than one block of float32 or float64
STEPS = 5


# ---- the textbook rules: (hyper, state, p, g, t) -> p, with state a dict of float64 arrays ----
def _grad(h, p, g, decay=True):
    g = -g if h.get("maximize") else g
    return g + h.get("weight_decay", 0.0) * p if decay else g


def sgd_rule(h, s, p, g, t):
    g = _grad(h, p, g)
    mu = h.get("momentum", 0.0)
    if mu:
        s["buf"] = g.copy() if t == 1 else mu * s["buf"] + (1 - h.get("dampening", 0.0)) * g
        g = g + mu * s["buf"] if h.get("nesterov") else s["buf"]
    return p - h["lr"] * g


def adam_rule(h, s, p, g, t, decoupled=False):
    lr, (b1, b2), eps, wd = h.get("lr", 1e-3), h.get("betas", (0.9, 0.999)), h.get("eps", 1e-8), h["weight_decay"]
    if decoupled:
        p = p * (1 - lr * wd)
    g = _grad(h, p, g, decay=not decoupled)
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g**2
    v = s["v"]
    if h.get("amsgrad"):
        v = s["v_max"] = np.maximum(s.get("v_max", 0.0), s["v"])
    m_hat, v_hat = s["m"] / (1 - b1**t), v / (1 - b2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def adamw_rule(h, s, p, g, t):
    return adam_rule(h, s, p, g, t, decoupled=True)


def rmsprop_rule(h, s, p, g, t):
    alpha, eps, mu = h.get("alpha", 0.99), h.get("eps", 1e-8), h.get("momentum", 0.0)
    g = _grad(h, p, g)
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g**2
    v = s["v"]
    if h.get("centered"):
        s["mean"] = alpha * s.get("mean", 0.0) + (1 - alpha) * g
        v = v - s["mean"] ** 2
    step = g / (np.sqrt(v) + eps)
    if mu > 0:
        s["buf"] = mu * s.get("buf", 0.0) + step
        step = s["buf"]
    return p - h["lr"] * step


def adagrad_rule(h, s, p, g, t):
    g = _grad(h, p, g)
    s["sum"] = s.get("sum", h.get("initial_accumulator_value", 0.0)) + g**2
    lr = h["lr"] / (1 + (t - 1) * h.get("lr_decay", 0.0))
    return p - lr * g / (np.sqrt(s["sum"]) + h.get("eps", 1e-10))


def adadelta_rule(h, s, p, g, t):
    rho, eps = h.get("rho", 0.9), h.get("eps", 1e-6)
    g = _grad(h, p, g)
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g**2
    delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0.0) + (1 - rho) * delta**2
    return p - h.get("lr", 1.0) * delta


def adamax_rule(h, s, p, g, t):
    (b1, b2), eps = h.get("betas", (0.9, 0.999)), h.get("eps", 1e-8)
    g = _grad(h, p, g)
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g) + eps)
    return p - h["lr"] / (1 - b1**t) * s["m"] / s["u"]


CASES = [
    (SGD, sgd_rule, {"lr": 0.1}),
    (SGD, sgd_rule, {"lr": 0.1, "weight_decay": 0.2, "maximize": True}),
    (SGD, sgd_rule, {"lr": 0.1, "momentum": 0.9}),
    (SGD, sgd_rule, {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1}),
    (SGD, sgd_rule, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    (Adam, adam_rule, {"lr": 0.01, "weight_decay": 0.0}),
    (Adam, adam_rule, {"lr": 0.01, "betas": (0.5, 0.8), "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True}),
    (Adam, adam_rule, {"lr": 0.01, "weight_decay": 0.0, "maximize": True, "amsgrad": True}),
    (AdamW, adamw_rule, {"lr": 0.01, "weight_decay": 1e-2}),
    (AdamW, adamw_rule, {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True, "maximize": True}),
    (RMSprop, rmsprop_rule, {"lr": 0.01}),
    (RMSprop, rmsprop_rule, {"lr": 0.01, "centered": True, "weight_decay": 0.1}),
    (RMSprop, rmsprop_rule, {"lr": 0.01, "momentum": 0.9, "maximize": True}),
    (RMSprop, rmsprop_rule, {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.5}),
    (Adagrad, adagrad_rule, {"lr": 0.1}),
    (Adagrad, adagrad_rule, {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1, "initial_accumulator_value": 0.3,
                                 "maximize": True}),
    (Adadelta, adadelta_rule, {}),
    (Adadelta, adadelta_rule, {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "maximize": True}),
    (Adamax, adamax_rule, {"lr": 0.01}),
    (Adamax, adamax_rule, {"lr": 0.01, "betas": (0.5, 0.7), "weight_decay": 0.1, "maximize": True}),
]


def _case_id(case) -> str:
    make, _, hyper = case
    return make.__name__ + "".join(f"-{k}={v}" for k, v in hyper.items())


def _gradients(rng, dtype, step):
    grads = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    if step % 2:
        grads[0] = np.asfortranarray(grads[0])  # not C-contiguous: taken as one block
    return grads


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-11)], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_steps_equal_the_textbook_rule(case, dtype, rtol):
    make, rule, hyper = case
    rng = np.random.default_rng(7)
    start = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    params = [Tensor(a.copy(), requires_grad=True) for a in start]
    opt = make(params, **hyper)
    expected = [a.astype(np.float64) for a in start]
    states: list[dict] = [{} for _ in SHAPES]
    for t in range(1, STEPS + 1):
        grads = _gradients(rng, dtype, t)
        for p, g in zip(params, grads, strict=True):
            p.grad = Tensor(g)
        opt.step()
        rule_hyper = {"weight_decay": 0.0, **hyper}
        expected = [rule(rule_hyper, s, e, g.astype(np.float64), t)
                    for s, e, g in zip(states, expected, grads, strict=True)]
        for i, (p, e) in enumerate(zip(params, expected, strict=True)):
            assert p.data.dtype == dtype
            np.testing.assert_allclose(p.data, e, rtol=rtol, atol=rtol * 0.1,
                                       err_msg=f"parameter {i} {SHAPES[i]} after step {t}")


# ---- subnormals ------------------------------------------------------------------------------
DECAYING = [
    (SGD, {"lr": 0.01, "momentum": 0.9}),
    (Adam, {"lr": 1e-3, "betas": (0.9, 0.99)}),
    (AdamW, {"lr": 1e-3, "betas": (0.5, 0.9), "amsgrad": True}),
    (RMSprop, {"lr": 1e-3, "alpha": 0.95, "centered": True, "momentum": 0.8}),
    (Adadelta, {"rho": 0.95}),
    (Adamax, {"lr": 1e-3, "betas": (0.8, 0.99)}),
]
TINY = np.finfo(np.float32).tiny


def _subnormal_count(opt) -> int:
    return sum(int(np.count_nonzero((b != 0) & (np.abs(b) < TINY)))
               for bufs in opt.buffers.values() for b in bufs if b.dtype == np.float32)


def _run_then_starve(make, hyper, steps):
    """One step with gradients from 1 down to 1e-16 (a spread of moment sizes, all normal numbers), then zero gradients;
    gives the optimizer and the largest number of subnormal buffer entries seen after any step."""
    rng = np.random.default_rng(3)
    param = Tensor(rng.normal(size=(40, 50)).astype(np.float32), requires_grad=True)
    opt = make([param], **hyper)
    param.grad = Tensor((np.logspace(0, -16, param.data.size) * rng.choice([-1, 1], param.data.size))
                        .reshape(param.shape).astype(np.float32))
    opt.step()
    param.grad = Tensor(np.zeros(param.shape, dtype=np.float32))  # a never-lit pixel: gradient exactly 0
    worst = 0
    for _ in range(steps):
        opt.step()
        worst = max(worst, _subnormal_count(opt))
    return opt, param, worst


@pytest.mark.parametrize("make, hyper", DECAYING, ids=[m.__name__ for m, _ in DECAYING])
def test_decaying_buffers_never_hold_subnormals(make, hyper):
    _, _, worst = _run_then_starve(make, hyper, steps=1500)
    assert worst == 0, f"{make.__name__}: up to {worst} subnormal entries in its buffers"


def _no_flush(monkeypatch):
    monkeypatch.setattr(algorithms, "flush_when", lambda own, dtype, *decays: [0.0] * len(decays))


@pytest.mark.parametrize("make, hyper", DECAYING, ids=[m.__name__ for m, _ in DECAYING])
def test_without_the_flush_the_same_run_does_hold_subnormals(make, hyper, monkeypatch):
    _no_flush(monkeypatch)
    _, _, worst = _run_then_starve(make, hyper, steps=1500)
    assert worst > 0


@pytest.mark.parametrize("make, hyper", DECAYING, ids=[m.__name__ for m, _ in DECAYING])
def test_the_flush_leaves_the_parameters_as_they_would_be(make, hyper, monkeypatch):
    _, flushed, _ = _run_then_starve(make, hyper, steps=600)
    _no_flush(monkeypatch)
    _, kept, _ = _run_then_starve(make, hyper, steps=600)
    np.testing.assert_allclose(flushed.data, kept.data, rtol=1e-7, atol=0)


def test_flush_threshold_stays_within_the_headroom_bits():
    for beta in (0.5, 0.9, 0.99, 0.999):
        own: dict = {}
        thresholds = [optimizer.flush_when(own, np.dtype(np.float32), beta)[0] for _ in range(20000)]
        turns = [i + 1 for i, x in enumerate(thresholds) if x]
        period = turns[0]
        assert turns == list(range(period, 20001, period))
        # a value at the threshold shrinks by beta**period until the next turn and stays 4096 times above tiny
        assert thresholds[period - 1] * beta**period == pytest.approx(TINY * 2**12, rel=1e-6)
        assert TINY * 2**12 <= thresholds[period - 1] <= TINY * 2**24


def test_flush_period_is_zero_without_decay():
    own: dict = {}
    for _ in range(50):
        assert optimizer.flush_when(own, np.dtype(np.float32), 0.0, 1.0, 1.5) == [0.0, 0.0, 0.0]


# ---- work space is not state -----------------------------------------------------------------
def test_work_space_stays_out_of_state_and_state_dict_and_pickles():
    params = [Tensor(np.ones((300, 200), dtype=np.float32), requires_grad=True)]
    opt = Adam(params, lr=0.1, weight_decay=0.1)
    params[0].grad = Tensor(np.full((300, 200), 0.5, dtype=np.float32))
    opt.step()
    assert sorted(opt.state[params[0]]) == ["exp_avg", "exp_avg_sq", "step"]
    assert sorted(opt.state_dict()["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    work = opt.own(params[0].data)["work"]
    assert work.shape == (2, optimizer.BLOCK_BYTES // 4)  # one block, not the parameter's size
    copy = pickle.loads(pickle.dumps(opt))
    assert copy.own(copy.params[0].data) == {}
    copy.params[0].grad = params[0].grad
    copy.step()
    opt.step()
    np.testing.assert_array_equal(copy.params[0].data, params[0].data)


def test_blocks_reach_every_element_once():
    p = np.zeros(optimizer.BLOCK_BYTES // 8 * 2 + 3)  # two full float64 blocks and a short one
    seen = [len(block) for block, work in optimizer.Optimizer.blocks({}, [p], work=1)]
    assert seen == [optimizer.BLOCK_BYTES // 8] * 2 + [3]
    for block, _work in optimizer.Optimizer.blocks({}, [p], work=1):
        block += 1
    np.testing.assert_array_equal(p, 1.0)


def test_work_space_goes_with_a_replaced_parameter_array():
    param = Tensor(np.ones(5, dtype=np.float32), requires_grad=True)
    opt = SGD([param], lr=0.1, momentum=0.9)
    param.grad = Tensor(np.ones(5, dtype=np.float32))
    opt.step()
    first = opt.own(param.data)
    assert "work" in first and len(opt._own) == 1
    param.data = np.zeros(5, dtype=np.float32)  # the old array is freed
    assert len(opt._own) == 0
    opt.step()
    assert opt.own(param.data) is not first and len(opt._own) == 1
    np.testing.assert_allclose(param.data, -0.1 * 1.9)  # momentum buffer 0.9 * 1 + 1, from the state
