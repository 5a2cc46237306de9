"""The update rules: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax (numpy, in place).

An example of a step is in the package's docstring (``tinygrad_mnist.optim``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, check_betas, check_range

# Adam's moment buffers for inputs that never receive gradient (e.g. always-dark
# pixels) decay geometrically into float32's subnormal range, where arithmetic is
# many times slower; values this small are flushed to zero instead.
_FLUSH_BELOW = 1e-30

Params = Iterable[Any]


def _grad(group: dict[str, Any], param: np.ndarray, grad: np.ndarray, decay: bool = True) -> np.ndarray:
    if group.get("maximize"):
        grad = -grad
    if decay and group.get("weight_decay"):
        grad = grad + group["weight_decay"] * param
    return grad


def _zeros(state: dict[str, Any], name: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
    if name not in state:
        state[name] = np.full_like(like, fill)
    return state[name]


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
        grad = _grad(group, param, grad)
        momentum = group["momentum"]
        if momentum:
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = np.array(grad, copy=True)
                buf = state["momentum_buffer"]
            else:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad


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
        self._scratch: dict[int, np.ndarray] = {}

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            check_range(name, key, group[key])
        group["betas"] = check_betas(name, group["betas"])

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        lr, (b1, b2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        grad = _grad(group, param, grad, decay=not self.decoupled)
        if decay and self.decoupled:
            param *= 1 - lr * decay
        t = state["step"] = state.get("step", 0) + 1
        m, v = _zeros(state, "exp_avg", param), _zeros(state, "exp_avg_sq", param)
        scratch = self._scratch.get(id(param))
        if scratch is None or scratch.shape != param.shape or scratch.dtype != param.dtype:
            scratch = self._scratch[id(param)] = np.empty_like(param)  # work space, not state
        # m += (1 - b1) * (g - m)  and  v += (1 - b2) * (g*g - v), through one scratch buffer
        np.subtract(grad, m, out=scratch)
        scratch *= 1 - b1
        m += scratch
        np.multiply(grad, grad, out=scratch)
        scratch -= v
        scratch *= 1 - b2
        v += scratch
        if t % 100 == 0:
            m[np.abs(m) < _FLUSH_BELOW] = 0
            v[v < _FLUSH_BELOW] = 0
        if group["amsgrad"]:
            v = np.maximum(_zeros(state, "max_exp_avg_sq", param), v, out=state["max_exp_avg_sq"])
        np.sqrt(v, out=scratch)
        scratch *= 1 / math.sqrt(1 - b2**t)  # a multiplication: dividing the array is slower
        scratch += eps
        np.divide(m, scratch, out=scratch)
        scratch *= lr / (1 - b1**t)
        param -= scratch


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
        grad = _grad(group, param, grad)
        alpha = group["alpha"]
        state["step"] = state.get("step", 0) + 1
        sq = _zeros(state, "square_avg", param)
        sq *= alpha
        sq += (1 - alpha) * grad * grad
        if group["centered"]:
            mean = _zeros(state, "grad_avg", param)
            mean += (1 - alpha) * (grad - mean)
            avg = np.sqrt(sq - mean * mean) + group["eps"]
        else:
            avg = np.sqrt(sq) + group["eps"]
        if group["momentum"] > 0:
            buf = _zeros(state, "momentum_buffer", param)
            buf *= group["momentum"]
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (grad / avg)


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
        grad = _grad(group, param, grad)
        t = state["step"] = state.get("step", 0) + 1
        total = _zeros(state, "sum", param, group["initial_accumulator_value"])
        total += grad * grad
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        param -= clr * (grad / (np.sqrt(total) + group["eps"]))


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
        grad = _grad(group, param, grad)
        rho, eps = group["rho"], group["eps"]
        state["step"] = state.get("step", 0) + 1
        sq, acc = _zeros(state, "square_avg", param), _zeros(state, "acc_delta", param)
        sq *= rho
        sq += (1 - rho) * grad * grad
        delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * grad
        acc *= rho
        acc += (1 - rho) * delta * delta
        param -= group["lr"] * delta


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
        grad = _grad(group, param, grad)
        b1, b2 = group["betas"]
        t = state["step"] = state.get("step", 0) + 1
        m, u = _zeros(state, "exp_avg", param), _zeros(state, "exp_inf", param)
        m += (1 - b1) * (grad - m)
        np.maximum(u * b2, np.abs(grad) + group["eps"], out=u)
        param -= group["lr"] / (1 - b1**t) * (m / u)
