"""Optimizers (10 steps on one deterministic loss), learning-rate schedules (30 steps), gradient clipping."""

from __future__ import annotations

from typing import Any

import numpy as np

from parity import case, raises

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-0.5, 1.0, 0.3], [0.2, -0.4, 1.1]])
TARGET = np.array([[1.0, -0.5], [0.0, 2.0], [-1.0, 0.5], [0.3, 0.7]])
W0 = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]])
B0 = np.array([0.05, -0.1])


def _params(T: Any) -> list[Any]:
    return [T.tensor(W0, requires_grad=True), T.tensor(B0, requires_grad=True)]


def _loss(T: Any, w: Any, b: Any) -> Any:
    r = T.tensor(A) @ w + b - T.tensor(TARGET)
    return (r * r).sum() + 0.1 * (w * w * w * w).sum()


def _train(T: Any, make: Any, steps: int = 10) -> list[Any]:
    w, b = params = _params(T)
    opt = make(T, params)
    for _ in range(steps):
        opt.zero_grad()
        _loss(T, w, b).backward()
        opt.step()
    return [w, b]


def _optimizer_case(name: str, make: Any) -> None:
    def run(T: Any) -> list[Any]:
        return _train(T, make)
    run.__name__ = run.__qualname__ = name
    case(run)


OPTIMIZERS = {
    "sgd": lambda T, p: T.optim.SGD(p, lr=0.01),
    "sgd_momentum_dampening": lambda T, p: T.optim.SGD(p, lr=0.01, momentum=0.9, dampening=0.3),
    "sgd_nesterov_weight_decay": lambda T, p: T.optim.SGD(p, lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.1),
    "sgd_maximize": lambda T, p: T.optim.SGD(p, lr=0.001, momentum=0.5, maximize=True),
    "adam": lambda T, p: T.optim.Adam(p, lr=0.05),
    "adam_betas_eps_l2": lambda T, p: T.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.2),
    "adam_amsgrad": lambda T, p: T.optim.Adam(p, lr=0.05, amsgrad=True),
    "adam_maximize": lambda T, p: T.optim.Adam(p, lr=0.01, maximize=True),
    "adamw": lambda T, p: T.optim.AdamW(p, lr=0.05, weight_decay=0.3),
    "adamw_amsgrad": lambda T, p: T.optim.AdamW(p, lr=0.05, amsgrad=True),
    "rmsprop": lambda T, p: T.optim.RMSprop(p, lr=0.01),
    "rmsprop_centered_momentum": lambda T, p: T.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True,
                                                             weight_decay=0.1),
    "adagrad": lambda T, p: T.optim.Adagrad(p, lr=0.1),
    "adagrad_decay_initial": lambda T, p: T.optim.Adagrad(p, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.5,
                                                         weight_decay=0.1),
    "adadelta": lambda T, p: T.optim.Adadelta(p),
    "adadelta_rho_lr": lambda T, p: T.optim.Adadelta(p, lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1),
    "adamax": lambda T, p: T.optim.Adamax(p, lr=0.05),
    "adamax_weight_decay": lambda T, p: T.optim.Adamax(p, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1),
    "param_groups": lambda T, p: T.optim.SGD([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.05, "momentum": 0.5}],
                                             lr=0.01),
}
for _name, _make in OPTIMIZERS.items():
    _optimizer_case(f"optimizer_{_name}", _make)


@case
def optimizer_add_param_group_and_state_dict(T: Any) -> Any:
    w, b = _params(T)
    opt = T.optim.Adam([w], lr=0.05)
    opt.add_param_group({"params": [b], "lr": 0.01})
    for _ in range(3):
        opt.zero_grad()
        _loss(T, w, b).backward()
        opt.step()
    state = opt.state_dict()
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()
               if k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "params")} for g in state["param_groups"]]
    steps = [float(state["state"][i]["step"]) for i in (0, 1)]
    return groups, steps, state["state"][0]["exp_avg"], state["state"][1]["exp_avg_sq"], w, b


@case
def optimizer_step_closure_returns_loss(T: Any) -> Any:
    w, b = _params(T)
    opt = T.optim.SGD([w, b], lr=0.01)

    def closure() -> Any:
        opt.zero_grad()
        loss = _loss(T, w, b)
        loss.backward()
        return loss

    return opt.step(closure), w


@case
def optimizer_zero_grad_keeps_zeros(T: Any) -> Any:
    w, b = _params(T)
    opt = T.optim.SGD([w, b], lr=0.01)
    _loss(T, w, b).backward()
    opt.zero_grad(set_to_none=False)
    return w.grad, b.grad


# ---- schedules ----------------------------------------------------------------------


def _schedule(T: Any, make: Any, steps: int = 30, extra: Any = None) -> list[Any]:
    p = T.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = T.optim.SGD([{"params": [p]}], lr=0.1, momentum=0.9)
    sched = make(T, opt)
    seen = []
    for _ in range(steps):
        seen.append(sched.get_last_lr() + ([extra(opt)] if extra else []))
        opt.step()
        sched.step()
    seen.append(sched.get_last_lr())
    return seen


SCHEDULES = {
    "lambda": lambda T, o: T.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0 / (1 + e)),
    "step": lambda T, o: T.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
    "multistep": lambda T, o: T.optim.lr_scheduler.MultiStepLR(o, milestones=[3, 10, 10, 20], gamma=0.3),
    "exponential": lambda T, o: T.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    "cosine_past_t_max": lambda T, o: T.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "linear": lambda T, o: T.optim.lr_scheduler.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=12),
    "sequential": lambda T, o: T.optim.lr_scheduler.SequentialLR(
        o, [T.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5),
            T.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)], milestones=[5]),
    "top_level_names": lambda T, o: T.optim.CosineAnnealingLR(o, T_max=30) if hasattr(T.optim, "CosineAnnealingLR")
    else T.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30),
}
for _name, _make in SCHEDULES.items():
    def _run(T: Any, make: Any = _make) -> list[Any]:
        return _schedule(T, make)
    _run.__name__ = _run.__qualname__ = f"lr_scheduler_{_name}"
    case(_run)


@case
def lr_scheduler_one_cycle_with_momentum(T: Any) -> Any:
    return _schedule(T, lambda T, o: T.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=30),
                     extra=lambda o: o.param_groups[0]["momentum"])


@case
def lr_scheduler_one_cycle_three_phase_linear_adam(T: Any) -> Any:
    p = T.tensor(np.array([1.0]), requires_grad=True)
    opt = T.optim.Adam([p], lr=0.1)
    sched = T.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=5, steps_per_epoch=6, three_phase=True,
                                            anneal_strategy="linear")
    seen = []
    for _ in range(30):
        seen.append([sched.get_last_lr()[0], opt.param_groups[0]["betas"][0]])
        opt.step()
        sched.step()
    return seen


@case
def lr_scheduler_reduce_on_plateau(T: Any) -> Any:
    p = T.tensor(np.array([1.0]), requires_grad=True)
    opt = T.optim.SGD([p], lr=1.0)
    sched = T.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.05)
    metrics = [5.0, 4.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0] + [2.9999] * 19
    seen = []
    for m in metrics:
        opt.step()
        sched.step(m)
        seen.append(opt.param_groups[0]["lr"])
    return seen


# ---- gradient clipping, flattening -----------------------------------------------------


def _with_grads(T: Any) -> list[Any]:
    w, b = _params(T)
    _loss(T, w, b).backward()
    return [w, b]


@case
def clip_grad_norm_two(T: Any) -> Any:
    params = _with_grads(T)
    total = T.nn.utils.clip_grad_norm_(params, max_norm=1.0)
    return total, params[0].grad, params[1].grad


@case
def clip_grad_norm_inf_and_one(T: Any) -> Any:
    params = _with_grads(T)
    a = T.nn.utils.clip_grad_norm_(params, max_norm=0.5, norm_type=float("inf"))
    b = T.nn.utils.clip_grad_norm_(params, max_norm=0.1, norm_type=1)
    return a, b, params[0].grad, params[1].grad


@case
def clip_grad_norm_large_max_keeps_grads(T: Any) -> Any:
    params = _with_grads(T)
    return T.nn.utils.clip_grad_norm_(params[0], max_norm=1e6), params[0].grad


@case
def clip_grad_value(T: Any) -> Any:
    params = _with_grads(T)
    T.nn.utils.clip_grad_value_(params, clip_value=0.5)
    return params[0].grad, params[1].grad


@case
def parameters_to_vector_and_back(T: Any) -> Any:
    w, b = _params(T)
    vec = T.nn.utils.parameters_to_vector([w, b])
    T.nn.utils.vector_to_parameters(T.tensor(np.arange(8.0)), [w, b])
    return vec, w, b


# ---- misuse ---------------------------------------------------------------------------


@raises
def sgd_negative_lr(T: Any) -> None:
    T.optim.SGD(_params(T), lr=-0.1)


@raises
def sgd_nesterov_needs_momentum(T: Any) -> None:
    T.optim.SGD(_params(T), lr=0.1, nesterov=True)


@raises
def adam_beta_one(T: Any) -> None:
    T.optim.Adam(_params(T), betas=(1.0, 0.999))


@raises
def adam_negative_eps(T: Any) -> None:
    T.optim.Adam(_params(T), eps=-1e-8)


@raises
def adamw_negative_weight_decay(T: Any) -> None:
    T.optim.AdamW(_params(T), weight_decay=-0.1)


@raises
def rmsprop_negative_alpha(T: Any) -> None:
    T.optim.RMSprop(_params(T), alpha=-0.5)


@raises
def adagrad_negative_lr_decay(T: Any) -> None:
    T.optim.Adagrad(_params(T), lr_decay=-1.0)


@raises
def adadelta_rho_above_one(T: Any) -> None:
    T.optim.Adadelta(_params(T), rho=1.5)


@raises
def adamax_negative_beta(T: Any) -> None:
    T.optim.Adamax(_params(T), betas=(0.9, -0.1))


@raises
def optimizer_empty_params(T: Any) -> None:
    T.optim.SGD([], lr=0.1)


@raises
def optimizer_non_leaf_param(T: Any) -> None:
    T.optim.SGD([T.tensor(W0, requires_grad=True) * 2], lr=0.1)


@raises
def optimizer_param_in_two_groups(T: Any) -> None:
    w, _ = _params(T)
    T.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)


@raises
def linear_lr_zero_start_factor(T: Any) -> None:
    T.optim.lr_scheduler.LinearLR(T.optim.SGD(_params(T), lr=0.1), start_factor=0.0)


@raises
def one_cycle_past_total_steps(T: Any) -> None:
    opt = T.optim.SGD(_params(T), lr=0.1, momentum=0.9)
    sched = T.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(5):
        opt.step()
        sched.step()


@raises
def reduce_on_plateau_factor_one(T: Any) -> None:
    T.optim.lr_scheduler.ReduceLROnPlateau(T.optim.SGD(_params(T), lr=0.1), factor=1.0)


@raises
def vector_to_parameters_needs_a_tensor(T: Any) -> None:
    T.nn.utils.vector_to_parameters(np.arange(8.0), _params(T))


@case
def optimizer_state_by_parameter(T: Any) -> Any:
    w, b = _params(T)
    opt = T.optim.RMSprop([w, b], lr=0.01, momentum=0.5)
    for _ in range(2):
        opt.zero_grad()
        _loss(T, w, b).backward()
        opt.step()
    return opt.state[w]["square_avg"], opt.state[b]["momentum_buffer"], sorted(opt.state[w])


@case
def optimizer_adam_state_keys(T: Any) -> Any:
    w, b = _params(T)
    opt = T.optim.Adam([w, b], lr=0.01, amsgrad=True)
    opt.zero_grad()
    _loss(T, w, b).backward()
    opt.step()
    return sorted(opt.state[w]), opt.state[w]["max_exp_avg_sq"], sorted(opt.state_dict()["state"][1])
