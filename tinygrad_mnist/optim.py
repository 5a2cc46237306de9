"""Optimizers (SGD, Adam, AdamW) and learning-rate schedulers, with PyTorch's semantics.

Updates are done in place on each parameter's array with ``out=`` buffers
allocated once, so a step allocates nothing proportional to the model.

>>> import numpy as np
>>> from tinygrad_mnist import Tensor
>>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
>>> opt = SGD([w], lr=0.1)
>>> (w * w).sum().backward()      # gradient 2w
>>> opt.step(); w
Tensor([ 0.8, -1.6], dtype=float64, requires_grad=True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .core.graph import _creation_order
from .core.inplace import mark_changed
from .core.tensor import Tensor

# Adam's moment buffers for inputs that never receive gradient (e.g. always-dark
# pixels) decay geometrically into float32's subnormal range, where arithmetic is
# many times slower; values this small are flushed to zero instead.
_FLUSH_BELOW = 1e-30


def _check_positive(owner: str, name: str, value: float, allow_zero: bool = True) -> None:
    if not isinstance(value, (int, float)) or math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: {name} must be a number {bound}, got {value!r}")


class Optimizer:
    """Base class: holds the parameters, their per-parameter buffers and the hyper-parameters."""

    def __init__(self, params: Iterable[Tensor], **hyper: Any) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"{type(self).__name__}: parameter {i} must be a leaf Tensor with requires_grad=True")
        self.hyper = hyper
        self.steps = 0
        self.buffers: dict[str, list[np.ndarray]] = {}

    @property
    def lr(self) -> float:
        return float(self.hyper["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        self.hyper["lr"] = value

    def _buffer(self, name: str) -> list[np.ndarray]:
        if name not in self.buffers:
            self.buffers[name] = [np.zeros_like(p.data) for p in self.params]
        return self.buffers[name]

    def zero_grad(self) -> None:
        """Forget the gradients (sets ``.grad`` to None, so the next backward stores fresh ones)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place.

        Each update counts as an in-place change of the parameter, so a graph
        recorded before the step can no longer be differentiated:

        >>> w = Tensor([1.0, 2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1)
        >>> loss = (w * w).sum()
        >>> loss.backward(retain_graph=True)
        >>> opt.step()
        >>> loss.backward()
        Traceback (most recent call last):
        ...
        RuntimeError: backward: input 0 of mul (shape (2,), now at version 1) was changed in place after mul ...
        """
        self.steps += 1
        stamp = next(_creation_order)
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p.data, p.grad.data)
                mark_changed(p, stamp)

    def _update(self, i: int, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{"hyper": ..., "steps": ..., "buffers": {"name.i": array}}`` (arrays copied)."""
        arrays = {f"{name}.{i}": b.copy() for name, bufs in self.buffers.items() for i, b in enumerate(bufs)}
        return {"type": type(self).__name__, "hyper": dict(self.hyper), "steps": self.steps, "buffers": arrays}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: state is from {state.get('type')!r}")
        buffers: dict[str, list[np.ndarray]] = {}
        for key, array in state["buffers"].items():
            name, _, index = key.rpartition(".")
            i = int(index)
            if not 0 <= i < len(self.params) or np.shape(array) != self.params[i].shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: buffer {key} has shape {np.shape(array)}, "
                    f"expected {self.params[i].shape if 0 <= i < len(self.params) else 'an existing parameter'}"
                )
            buffers.setdefault(name, [np.zeros_like(p.data) for p in self.params])[i][...] = array
        self.hyper.update(state["hyper"])
        self.steps = int(state["steps"])
        self.buffers = buffers


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    ``g = grad + weight_decay * p``; ``buf = momentum * buf + g``;
    ``p -= lr * (g + momentum * buf if nesterov else buf)`` (plain ``g`` without momentum).
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        _check_positive("SGD", "lr", lr, allow_zero=False)
        _check_positive("SGD", "momentum", momentum)
        _check_positive("SGD", "weight_decay", weight_decay)
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def _update(self, i: int, param: np.ndarray, grad: np.ndarray) -> None:
        h = self.hyper
        if h["weight_decay"]:
            grad = grad + h["weight_decay"] * param
        if h["momentum"]:
            buf = self._buffer("momentum")[i]
            buf *= h["momentum"]
            buf += grad
            grad = grad + h["momentum"] * buf if h["nesterov"] else buf
        param -= h["lr"] * grad


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction; ``weight_decay`` adds an L2 term to the gradient.

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
    ``p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)``.
    """

    decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        name = type(self).__name__
        _check_positive(name, "lr", lr, allow_zero=False)
        _check_positive(name, "eps", eps)
        _check_positive(name, "weight_decay", weight_decay)
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for k, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: betas[{k}] must be in [0, 1), got {beta}")
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        self.param_steps = [0] * len(self.params)  # bias correction counts each parameter's own updates

    def _update(self, i: int, param: np.ndarray, grad: np.ndarray) -> None:
        self.param_steps[i] += 1
        t = self.param_steps[i]
        h = self.hyper
        lr, (b1, b2), eps, decay = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        if decay and self.decoupled:
            param *= 1 - lr * decay
        elif decay:
            grad = grad + decay * param
        m, v, scratch = self._buffer("exp_avg")[i], self._buffer("exp_avg_sq")[i], self._buffer("scratch")[i]
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
        step_size = lr / (1 - b1**t)
        np.sqrt(v, out=scratch)
        scratch *= 1 / math.sqrt(1 - b2**t)
        scratch += eps
        np.divide(m, scratch, out=scratch)
        scratch *= step_size
        param -= scratch

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["buffers"] = {k: a for k, a in state["buffers"].items() if not k.startswith("scratch.")}
        state["param_steps"] = list(self.param_steps)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        steps = state.get("param_steps", [state["steps"]] * len(self.params))
        if len(steps) != len(self.params):
            raise ValueError(f"{type(self).__name__}.load_state_dict: state has step counts for "
                             f"{len(steps)} parameters, expected {len(self.params)}")
        super().load_state_dict(state)
        self.param_steps = [int(n) for n in steps]


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019): ``p *= 1 - lr * weight_decay``."""

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class LRScheduler:
    """Base class: sets ``optimizer.lr`` from the epoch count each time ``step()`` is called."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> float:
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr, "last_epoch": self.last_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr = float(state["base_lr"])
        self.last_epoch = int(state["last_epoch"])
        self.optimizer.lr = self.lr_at(self.last_epoch)


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, epoch: int) -> float:
        progress = min(epoch, self.T_max) / self.T_max
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2
