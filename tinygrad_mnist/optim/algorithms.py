"""The update rules: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax (numpy, in place).

Each step walks the parameter in blocks of about 128 KiB (``Optimizer.blocks``): all of an update's
numpy passes (``out=``, in place) run on one block while it is in the cache, so the parameter, its
gradient and its state buffers are read from memory once per step and written once. The work space
is allocated once and kept beside the state (``Optimizer.own``), not in ``state`` or ``state_dict()``.
Buffers that decay while their gradient is zero are kept out of the subnormal range
(``optimizer.flush_when``). Every operation is elementwise, so the blocking does not change a result.

An example of a step is in the package's docstring (``tinygrad_mnist.optim``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, check_betas, check_range, flush_tiny, flush_when

Params = Iterable[Any]


def _zeros(state: dict[str, Any], name: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
    if name not in state:
        state[name] = np.full_like(like, fill)
    return state[name]


def _effective_grad(group: dict[str, Any], p: np.ndarray, g: np.ndarray, spare: list[np.ndarray],
                    decay: bool = True) -> np.ndarray:
    """``-g`` with ``maximize``, plus ``weight_decay * p``, written into ``spare[0]`` (``g`` itself if neither:
    ``spare`` is then empty, see ``_needs_grad_space``)."""
    if not spare:
        return g
    out, weight_decay = spare[0], (group["weight_decay"] if decay else 0.0)
    if weight_decay:
        np.multiply(p, weight_decay, out=out)
        return np.subtract(out, g, out=out) if group["maximize"] else np.add(out, g, out=out)
    return np.negative(g, out=out) if group["maximize"] else g


def _needs_grad_space(group: dict[str, Any], decay: bool = True) -> bool:
    return bool(group["maximize"] or (decay and group["weight_decay"]))


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay.

    ``g = grad + weight_decay * p``; ``buf = g`` at first, then ``momentum * buf + (1 - dampening) * g``;
    ``p -= lr * (g + momentum * buf if nesterov else buf)``.
    """

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                                  "nesterov": nesterov, "maximize": maximize})

    def _check_group(self, group: dict[str, Any]) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            check_range("SGD", name, group[name])

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        mine = self.own(param)
        lr, momentum, nesterov = group["lr"], group["momentum"], group["nesterov"]
        if not momentum:
            for p, g, work, *spare in self.blocks(mine, [param, grad], 1 + _needs_grad_space(group)):
                g = _effective_grad(group, p, g, spare)
                p -= np.multiply(g, lr, out=work)
            return
        first = state.get("momentum_buffer") is None
        if first:
            state["momentum_buffer"] = np.empty_like(param)
        buf_all, keep = state["momentum_buffer"], 1 - group["dampening"]
        flush, = flush_when(mine, param.dtype, momentum)
        for p, g, buf, work, *spare in self.blocks(mine, [param, grad, buf_all], 1 + _needs_grad_space(group)):
            g = _effective_grad(group, p, g, spare)
            if first:
                np.copyto(buf, g)
            else:
                buf *= momentum
                buf += g if keep == 1 else np.multiply(g, keep, out=work)
            if flush:
                flush_tiny(buf, flush, work)
            if nesterov:
                np.multiply(buf, momentum, out=work)
                work += g
                work *= lr
            else:
                np.multiply(buf, lr, out=work)
            p -= work


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` adds an L2 term; ``amsgrad`` keeps the largest ``v``.

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    """

    decoupled = False

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas) if isinstance(betas, list) else betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad, "maximize": maximize})

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            check_range(name, key, group[key])
        group["betas"] = check_betas(name, group["betas"])

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        mine = self.own(param)
        lr, (b1, b2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        shrink = 1 - lr * decay if decay and self.decoupled else None
        t = state["step"] = state.get("step", 0) + 1
        arrays = [param, grad, _zeros(state, "exp_avg", param), _zeros(state, "exp_avg_sq", param)]
        if group["amsgrad"]:
            arrays.append(_zeros(state, "max_exp_avg_sq", param))
        flush_m, flush_v = flush_when(mine, param.dtype, b1, b2)
        correction, step_size = 1 / math.sqrt(1 - b2**t), lr / (1 - b1**t)
        grad_space = _needs_grad_space(group, decay=not self.decoupled)
        for p, g, m, v, *rest in self.blocks(mine, arrays, 1 + grad_space):
            v_max, (work, *spare) = (rest[0], rest[1:]) if group["amsgrad"] else (None, rest)
            if shrink is not None:
                p *= shrink
            g = _effective_grad(group, p, g, spare, decay=not self.decoupled)
            # m += (1 - b1) * (g - m)  and  v += (1 - b2) * (g*g - v), through one work buffer
            np.subtract(g, m, out=work)
            work *= 1 - b1
            m += work
            np.multiply(g, g, out=work)
            work -= v
            work *= 1 - b2
            v += work
            if flush_m:
                flush_tiny(m, flush_m, work)
            if flush_v:
                flush_tiny(v, flush_v, work)
            if v_max is not None:
                v = np.maximum(v_max, v, out=v_max)
            np.sqrt(v, out=work)
            work *= correction  # a multiplication: dividing the array is slower
            work += eps
            np.divide(m, work, out=work)
            work *= step_size
            p -= work


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam step."""

    decoupled = True

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)


class RMSprop(Optimizer):
    """``v = alpha v + (1 - alpha) g^2``; ``p -= lr * g / (sqrt(v - mean_g^2 if centered else v) + eps)``."""

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered, "maximize": maximize})

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            check_range("RMSprop", key, group[key])

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        mine = self.own(param)
        alpha, eps, lr, momentum, centered = (group[k] for k in ("alpha", "eps", "lr", "momentum", "centered"))
        state["step"] = state.get("step", 0) + 1
        arrays = [param, grad, _zeros(state, "square_avg", param)]
        if centered:
            arrays.append(_zeros(state, "grad_avg", param))
        if momentum > 0:
            arrays.append(_zeros(state, "momentum_buffer", param))
        flush_sq, flush_buf = flush_when(mine, param.dtype, alpha, momentum)
        extra = centered + (momentum > 0)
        for p, g, sq, *rest in self.blocks(mine, arrays, 1 + _needs_grad_space(group)):
            kept, (work, *spare) = rest[:extra], rest[extra:]
            mean = kept.pop(0) if centered else None
            buf = kept.pop(0) if momentum > 0 else None
            g = _effective_grad(group, p, g, spare)
            sq *= alpha
            np.multiply(g, 1 - alpha, out=work)
            work *= g
            sq += work
            if mean is not None:
                np.subtract(g, mean, out=work)
                work *= 1 - alpha
                mean += work
            if flush_sq:
                flush_tiny(sq, flush_sq, work)
                if mean is not None:
                    mean *= work  # cleared with the mean square, so that sq - mean**2 stays >= 0
                    flush_tiny(mean, flush_sq, work)
            if mean is not None:
                np.multiply(mean, mean, out=work)
                np.subtract(sq, work, out=work)
                np.sqrt(work, out=work)
            else:
                np.sqrt(sq, out=work)
            work += eps
            np.divide(g, work, out=work)
            if buf is not None:
                buf *= momentum
                buf += work
                if flush_buf:
                    flush_tiny(buf, flush_buf, work)
                np.multiply(buf, lr, out=work)
            else:
                work *= lr
            p -= work


class Adagrad(Optimizer):
    """``s += g^2``; ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)``."""

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay, "eps": eps,
                                  "initial_accumulator_value": initial_accumulator_value, "maximize": maximize})

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_range("Adagrad", key, group[key])

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        mine = self.own(param)
        t = state["step"] = state.get("step", 0) + 1
        total_all = _zeros(state, "sum", param, group["initial_accumulator_value"])
        clr, eps = group["lr"] / (1 + (t - 1) * group["lr_decay"]), group["eps"]
        for p, g, total, work, *spare in self.blocks(mine, [param, grad, total_all], 1 + _needs_grad_space(group)):
            g = _effective_grad(group, p, g, spare)
            total += np.multiply(g, g, out=work)
            np.sqrt(total, out=work)
            work += eps
            np.divide(g, work, out=work)
            work *= clr
            p -= work


class Adadelta(Optimizer):
    """``v = rho v + (1 - rho) g^2``; ``d = sqrt(u + eps) / sqrt(v + eps) * g``; ``u = rho u + (1 - rho) d^2``."""

    def __init__(self, params: Params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize})

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "eps", "weight_decay"):
            check_range("Adadelta", key, group[key])
        check_range("Adadelta", "rho", group["rho"], 0.0, 1.0)

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        mine = self.own(param)
        rho, eps, lr = group["rho"], group["eps"], group["lr"]
        state["step"] = state.get("step", 0) + 1
        arrays = [param, grad, _zeros(state, "square_avg", param), _zeros(state, "acc_delta", param)]
        flush, = flush_when(mine, param.dtype, rho)
        for p, g, sq, acc, delta, work, *spare in self.blocks(mine, arrays, 2 + _needs_grad_space(group)):
            g = _effective_grad(group, p, g, spare)
            sq *= rho
            np.multiply(g, 1 - rho, out=work)
            work *= g
            sq += work
            np.add(acc, eps, out=delta)
            np.sqrt(delta, out=delta)
            np.add(sq, eps, out=work)
            np.sqrt(work, out=work)
            delta /= work
            delta *= g  # the step: sqrt(u + eps) / sqrt(v + eps) * g
            acc *= rho
            np.multiply(delta, 1 - rho, out=work)
            work *= delta
            acc += work
            if flush:
                flush_tiny(sq, flush, work)
                flush_tiny(acc, flush, work)
            p -= np.multiply(delta, lr, out=work)


class Adamax(Optimizer):
    """``m = b1 m + (1 - b1) g``; ``u = max(b2 u, |g| + eps)``; ``p -= lr / (1 - b1^t) * m / u``."""

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize})

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "eps", "weight_decay"):
            check_range("Adamax", key, group[key])
        group["betas"] = check_betas("Adamax", group["betas"])

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        mine = self.own(param)
        (b1, b2), eps = group["betas"], group["eps"]
        t = state["step"] = state.get("step", 0) + 1
        arrays = [param, grad, _zeros(state, "exp_avg", param), _zeros(state, "exp_inf", param)]
        flush, = flush_when(mine, param.dtype, b1)  # exp_inf stays >= eps: only the mean can decay that far
        step_size = group["lr"] / (1 - b1**t)
        for p, g, m, u, work, *spare in self.blocks(mine, arrays, 1 + _needs_grad_space(group)):
            g = _effective_grad(group, p, g, spare)
            np.subtract(g, m, out=work)
            work *= 1 - b1
            m += work
            if flush:
                flush_tiny(m, flush, work)
            u *= b2
            np.abs(g, out=work)
            work += eps
            np.maximum(u, work, out=u)
            np.divide(m, u, out=work)
            work *= step_size
            p -= work
