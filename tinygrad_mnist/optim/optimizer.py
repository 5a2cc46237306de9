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
import weakref
from collections.abc import Callable, Iterable, Iterator
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


# An update runs all its numpy passes on one block of the parameter before the next, so that the
# block (parameter, gradient, state buffers and work space) stays in the cache between passes.
BLOCK_BYTES = 1 << 17

# Buffers that decay geometrically while their gradient is zero (moments of rarely lit pixels) would
# reach the subnormal range, where float arithmetic is many times slower. Every `period` updates, a
# buffer's values that could come within 2**FLUSH_HEADROOM_BITS of the smallest normal number before
# the next check are set to zero; `period` lets a value shrink by at most 2**-FLUSH_DECAY_BITS in
# between. The headroom keeps the products of a small value (``(1 - beta) * v``, ``lr * buf``) normal
# too. For float32 and beta = 0.9 or 0.999 this clears values below about 2e-31, every 78 or 8313
# updates; their share of an update is far below the rounding of the parameter.
FLUSH_DECAY_BITS = 12
FLUSH_HEADROOM_BITS = 12


def flush_when(own: dict[str, Any], dtype: np.dtype, *decays: float) -> list[float]:
    """Count this update in ``own`` (see ``Optimizer.own``) and give, for each per-step decay factor, the
    threshold below which a buffer decaying by it is to be flushed now, or ``0.0`` when it is not its turn.

    Examples:
        >>> own = {}
        >>> [flush_when(own, np.dtype(np.float32), 0.5)[0] for _ in range(12)][-2:]
        [0.0, 1.9721522630525295e-31]
    """
    count = own["updates"] = own.get("updates", 0) + 1
    out = []
    for beta in decays:
        period = max(1, int(FLUSH_DECAY_BITS / -math.log2(beta))) if 0 < beta < 1 else 0
        flush = period and count % period == 0
        out.append(float(np.finfo(dtype).tiny * 2.0**FLUSH_HEADROOM_BITS / beta**period) if flush else 0.0)
    return out


def flush_tiny(buffer: np.ndarray, below: float, work: np.ndarray) -> None:
    """Set the entries of ``buffer`` whose magnitude is below ``below`` to zero (``work``: same-shape space).

    Examples:
        >>> b = np.array([1e-36, -2.0, 3e-37, 0.5], dtype=np.float32)
        >>> flush_tiny(b, 1e-35, np.empty_like(b)); b
        array([ 0. , -2. ,  0. ,  0.5], dtype=float32)
    """
    np.abs(buffer, out=work)
    np.greater_equal(work, below, out=work)  # 1.0 keeps an entry exactly, 0.0 clears it
    buffer *= work


class Optimizer:
    """Base class: ``param_groups`` (dicts of ``params`` and hyper-parameters) and ``state`` per parameter.

    Subclasses implement ``_update(group, param_array, grad_array, state)``.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}  # keyed by the parameter itself
        self.steps = 0
        self._own: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}  # see own()
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

    def own(self, param: np.ndarray) -> dict[str, Any]:
        """What the optimizer keeps for a parameter's array besides its state (work space, the flush count):
        not part of ``state`` or ``state_dict()``, and dropped when the optimizer is pickled."""
        key, kept = id(param), self._own
        entry = kept.get(key)
        if entry is None or entry[0]() is not param:  # the entry goes with the array (its id may be reused)

            def forget(_: weakref.ref) -> None:
                kept.pop(key, None)

            entry = kept[key] = (weakref.ref(param, forget), {})
        return entry[1]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_own": {}}

    @staticmethod
    def blocks(own: dict[str, Any], arrays: list[np.ndarray], work: int) -> Iterator[list[np.ndarray]]:
        """Matching blocks of ``arrays`` (the parameter first, its gradient, state buffers), each list followed by
        ``work`` arrays of work space of the block's size, kept in ``own["work"]`` (see ``own``).

        Writes into a block's views land in the arrays. A parameter of one block or less, or arrays that are
        not all C-contiguous of the parameter's shape, come whole, as one block.

        Examples:
            >>> p, g = np.arange(5.0), np.ones(5)
            >>> for pb, gb, w in Optimizer.blocks({}, [p, g], work=1):
            ...     pb -= np.multiply(gb, 0.5, out=w)
            >>> p
            array([-0.5,  0.5,  1.5,  2.5,  3.5])
        """
        param = arrays[0]
        size = max(1, BLOCK_BYTES // param.itemsize)
        whole = param.size <= size or not all(a.flags.c_contiguous and a.shape == param.shape for a in arrays)
        shape = (work, *param.shape) if whole else (work, size)
        space = own.get("work")
        if space is None or space.shape != shape or space.dtype != param.dtype:
            space = own["work"] = np.empty(shape, param.dtype)
            own["rows"] = [space[i, ...] for i in range(work)]  # [i, ...]: a 0-d parameter gets 0-d arrays
        rows = own["rows"]
        if whole:
            yield arrays + rows
            return
        views = [a.reshape(-1) for a in arrays]
        for start in range(0, param.size, size):
            stop = min(start + size, param.size)
            yield [v[start:stop] for v in views] + [w[:stop - start] for w in rows]

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
