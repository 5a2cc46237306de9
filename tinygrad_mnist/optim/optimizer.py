"""The optimizer base class: parameter groups, per-parameter state, PyTorch-shaped state dicts.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> from tinygrad_mnist.optim import SGD
    >>> a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    >>> opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> [g["lr"] for g in opt.param_groups]
    [0.1, 0.5]
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..core.graph import _creation_order
from ..core.inplace import mark_changed
from ..core.tensor import Tensor


def check_range(owner: str, name: str, value: Any, low: float = 0.0, high: float | None = None,
                open_high: bool = False) -> None:
    """ValueError unless ``low <= value`` (and ``value < high`` / ``<= high``)."""
    ok = isinstance(value, (int, float)) and not math.isnan(value) and value >= low
    if ok and high is not None:
        ok = value < high if open_high else value <= high
    if not ok:
        bound = f">= {low}" if high is None else f"in [{low}, {high}{')' if open_high else ']'}"
        raise ValueError(f"{owner}: {name} must be a number {bound}, got {value!r}")


def check_betas(owner: str, betas: Any) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    for k, beta in enumerate(betas):
        check_range(owner, f"betas[{k}]", beta, 0.0, 1.0, open_high=True)
    return (float(betas[0]), float(betas[1]))


class Optimizer:
    """Base class: ``param_groups`` (dicts of ``params`` and hyper-parameters) and ``state`` per parameter.

    Subclasses implement ``_update(group, param_array, grad_array, state)``.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}  # keyed by the parameter itself
        self.steps = 0
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; hyper-parameters it does not give come from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} must be a Tensor, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: parameter {i} is not a leaf Tensor; only leaves can be "
                                 "optimized")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("add_param_group: some parameters appear in more than one parameter group")
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}, "params": params}
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_range(type(self).__name__, "lr", group["lr"])

    @property
    def params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    @property
    def buffers(self) -> dict[str, list[np.ndarray]]:
        """The per-parameter arrays by state name, in parameter order (the live arrays, not copies)."""
        out: dict[str, list[np.ndarray]] = {}
        for p in self.params:
            for name, value in self.state.get(p, {}).items():
                if isinstance(value, np.ndarray):
                    out.setdefault(name, []).append(value)
        return out

    @property
    def lr(self) -> float:
        """The first group's learning rate (setting it sets every group's)."""
        return float(self.param_groups[0]["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (``None``, or zero-filled arrays with ``set_to_none=False``)."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; returns ``closure()``'s loss if given.

        Each update counts as an in-place change of the parameter:

        Examples:
            >>> from tinygrad_mnist.optim import SGD
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
        loss = closure() if closure is not None else None
        self.steps += 1
        stamp = next(_creation_order)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(group, p.data, p.grad.data, self.state.setdefault(p, {}))
                    mark_changed(p, stamp)
        return loss

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, as PyTorch gives it:
        the state's arrays as tensors that share memory with the optimizer (they follow later steps)."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {index[id(p)]: {k: (Tensor._wrap(v) if isinstance(v, np.ndarray) else v)
                                for k, v in s.items() if not k.startswith("_")}
                 for p, s in self.state.items() if id(p) in index}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and per-parameter state (shapes must match)."""
        name = type(self).__name__
        if "buffers" in state_dict:
            state_dict = _from_legacy(state_dict, name, len(self.params))
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(h["params"]) for g, h in zip(groups, self.param_groups, strict=False)):
            raise ValueError(f"{name}.load_state_dict: parameter groups do not match this optimizer's "
                             f"({[len(g['params']) for g in groups]} vs "
                             f"{[len(g['params']) for g in self.param_groups]})")
        params = self.params
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, s in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(params):
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, expected < {len(params)}")
            entry: dict[str, Any] = {}
            for k, v in s.items():
                if isinstance(v, Tensor):
                    v = v.data
                if isinstance(v, np.ndarray) and v.shape != params[i].shape:
                    raise ValueError(f"{name}.load_state_dict: state {k}.{i} has shape {v.shape}, "
                                     f"expected {params[i].shape}")
                entry[k] = v.astype(params[i].data.dtype, copy=True) if isinstance(v, np.ndarray) else v
            new_state[params[i]] = entry
        for g, own in zip(groups, self.param_groups, strict=False):
            for k, v in g.items():
                if k != "params":
                    own[k] = tuple(v) if isinstance(v, list) else copy.copy(v)
        self.state = new_state
        self.steps = int(state_dict.get("steps", self.steps))


_LEGACY_NAMES = {"momentum": "momentum_buffer"}


def _from_legacy(old: dict[str, Any], name: str, count: int) -> dict[str, Any]:
    """Convert the earlier ``{"type", "hyper", "steps", "buffers"}`` format."""
    if old.get("type") != name:
        raise ValueError(f"{name}.load_state_dict: state is from {old.get('type')!r}")
    state: dict[int, dict[str, Any]] = {}
    for key, array in old["buffers"].items():
        buf, _, index = key.rpartition(".")
        if buf != "scratch":
            state.setdefault(int(index), {})[_LEGACY_NAMES.get(buf, buf)] = np.asarray(array)
    steps = old.get("param_steps", [old["steps"]] * count)
    for i, s in state.items():
        if "exp_avg" in s:
            s["step"] = int(steps[i])
    return {"state": state, "param_groups": [{**old["hyper"], "params": list(range(count))}], "steps": old["steps"]}
