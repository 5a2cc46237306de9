"""``functional_call``: run a module with some of its parameters and buffers replaced for one call.

The replacement tensors are put in the modules' own stores (``_parameters``,
``_buffers``) under the dotted names, the module is called, and the original
tensors are put back afterwards, also when the call raises. Any tensor may
stand in, not only a ``Parameter``: that is what lets a transform differentiate
a loss with respect to the parameters given as an argument.

The module is recognised by what it has (its stores), so this module needs no
import of ``nn``, and ``tinygrad_mnist.func`` loads without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.tensor import Tensor

__all__ = ["functional_call"]

_MISSING = object()


def _check_module(module: Any) -> None:
    state = getattr(module, "__dict__", {})
    if not all(isinstance(state.get(s), dict) for s in ("_parameters", "_buffers", "_modules")):
        raise TypeError(f"functional_call: module must be an nn.Module, got {type(module).__name__}")


def _merged(dicts: Any) -> dict[str, Tensor]:
    """The name -> tensor entries of one mapping or of a sequence of mappings (no name in two of them)."""
    many = dicts if isinstance(dicts, Sequence) and not isinstance(dicts, (str, bytes)) else [dicts]
    merged: dict[str, Tensor] = {}
    repeated: list[str] = []
    for k, mapping in enumerate(many):
        if not isinstance(mapping, Mapping):
            where = "parameter_and_buffer_dicts" + (f"[{k}]" if many is dicts else "")
            raise TypeError(f"functional_call: {where} must be a dict of name -> Tensor (or a sequence of "
                            f"such dicts), got {type(mapping).__name__}")
        for name, value in mapping.items():
            if not isinstance(name, str):
                raise TypeError(f"functional_call: names must be str, got {type(name).__name__} {name!r}")
            if not isinstance(value, Tensor):
                raise TypeError(f"functional_call: the value for {name!r} must be a Tensor, got "
                                f"{type(value).__name__} {value!r}")
            if name in merged:
                repeated.append(name)
            merged[name] = value
    if repeated:
        raise ValueError(f"functional_call: {sorted(set(repeated))} appeared in more than one dict; "
                         "which value to use is ambiguous")
    return merged


def _named_state(module: Any) -> dict[str, Tensor]:
    """Every parameter and buffer by every name it is reachable under (shared ones repeated)."""
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    return named


def _tie(module: Any, given: dict[str, Tensor], state: dict[str, Tensor]) -> dict[str, Tensor]:
    """``given`` extended to every other name of a tied (shared) tensor."""
    names_of: dict[int, list[str]] = {}
    for name, tensor in state.items():
        names_of.setdefault(id(tensor), []).append(name)
    result = dict(given)
    for name, value in given.items():
        if name not in state:
            continue
        tied = names_of[id(state[name])]
        clashing = [other for other in tied if other in given and given[other] is not value]
        if clashing:
            raise ValueError(f"functional_call: got different values for {sorted([name, *clashing])}, which "
                             f"are tied (one shared tensor) in {type(module).__name__}; pass one of them, or "
                             "tie_weights=False")
        for other in tied:
            result[other] = value
    return result


def _check_strict(module: Any, given: dict[str, Tensor], state: dict[str, Tensor]) -> None:
    unexpected = [name for name in given if name not in state]
    missing = [name for name in state if name not in given]
    if unexpected or missing:
        lines = [(f"functional_call: with strict=True every parameter and buffer of {type(module).__name__} "
                  "must be given, and nothing else")]
        if unexpected:
            lines.append(f"unexpected key(s): {', '.join(map(repr, unexpected))}")
        if missing:
            lines.append(f"missing key(s): {', '.join(map(repr, missing))}")
        raise RuntimeError("; ".join(lines))


def _owner(module: Any, name: str) -> tuple[Any, str]:
    """The submodule holding the dotted ``name``, and the last part of the name."""
    *path, leaf = name.split(".")
    owner = module
    for depth, part in enumerate(path):
        child = owner.__dict__["_modules"].get(part) if isinstance(owner.__dict__.get("_modules"), dict) else None
        if child is None:
            where = ".".join(path[:depth]) or type(module).__name__
            raise AttributeError(f"functional_call: {where} has no submodule {part!r} (from the name {name!r})")
        owner = child
    return owner, leaf


class _Swap:
    """Put tensors in place of a module's entries, and put the originals back."""

    def __init__(self) -> None:
        self.undo: list[tuple[dict[str, Any], str, Any]] = []

    def put(self, module: Any, name: str, value: Tensor) -> None:
        owner, leaf = _owner(module, name)
        state = owner.__dict__
        store = next((state[s] for s in ("_parameters", "_buffers") if leaf in state[s]), state)
        self.undo.append((store, leaf, store.get(leaf, _MISSING)))
        store[leaf] = value  # a plain attribute when it is neither a parameter nor a buffer

    def restore(self) -> None:
        for store, leaf, old in reversed(self.undo):
            if old is _MISSING:
                store.pop(leaf, None)
            else:
                store[leaf] = old
        self.undo.clear()


def functional_call(module: Any, parameter_and_buffer_dicts: Mapping[str, Tensor] | Sequence[Mapping[str, Tensor]],
                    args: Any = None, kwargs: dict[str, Any] | None = None, *, tie_weights: bool = True,
                    strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the parameters and buffers named in ``parameter_and_buffer_dicts``
    (dotted names, as in ``named_parameters()``) replaced by the given tensors for this call only.

    ``args`` is a tuple of positional arguments (another value is the only one,
    None none). With ``tie_weights`` a tensor shared under several names is
    replaced under all of them when one is given. With ``strict`` every parameter
    and buffer must be given, and no other name. The module's own tensors are
    back in place when the call returns or raises.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> from tinygrad_mnist import nn
        >>> layer = nn.Linear(2, 1)
        >>> ones = {"weight": tm.ones(1, 2), "bias": tm.zeros(1)}
        >>> functional_call(layer, ones, (tm.tensor([[1.0, 2.0]]),))
        Tensor([[3.]])
    """
    _check_module(module)
    for argument, flag in (("tie_weights", tie_weights), ("strict", strict)):
        if not isinstance(flag, bool):
            raise TypeError(f"functional_call: {argument} must be a bool, got {type(flag).__name__} {flag!r}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"functional_call: kwargs must be a dict or None, got {type(kwargs).__name__}")
    given = _merged(parameter_and_buffer_dicts)
    state = _named_state(module) if tie_weights or strict else {}
    if tie_weights:
        given = _tie(module, given, state)
    if strict:
        _check_strict(module, given, state)
    call_args = () if args is None else args if isinstance(args, tuple) else (args,)
    swap = _Swap()
    try:
        for name, value in given.items():
            swap.put(module, name, value)
        return module(*call_args, **(kwargs or {}))
    finally:
        swap.restore()
