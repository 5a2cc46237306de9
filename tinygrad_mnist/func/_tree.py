"""The plumbing shared by the transforms: nested containers of tensors, ``argnums``, the checks.

A *pytree* is a Tensor, or a tuple, list or dict (namedtuples and dict subclasses
included) of pytrees. ``flatten`` lists its tensors in a fixed order and
returns a ``Spec`` that ``unflatten`` uses to rebuild the same
structure around other leaves: that is how a transform gives its result the
structure of its argument.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import rules
from ..core.grad_mode import enable_grad
from ..core.graph import reverse_order
from ..core.tensor import Tensor


class Spec:
    """The shape of a pytree without its leaves: a leaf, or a container type with its keys and children."""

    __slots__ = ("children", "keys", "kind", "size")
    size: int

    def __init__(self, kind: type | None, keys: tuple[Any, ...] = (), children: tuple[Spec, ...] = ()) -> None:
        self.kind = kind  # None for a leaf
        self.keys = keys
        self.children = children
        self.size = 1 if kind is None else sum(c.size for c in children)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Spec) and self.kind is other.kind and self.keys == other.keys
                and self.children == other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.keys, self.children))

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        if issubclass(self.kind, dict):
            items = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children, strict=True))
            return "{" + items + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"[{inner}]" if issubclass(self.kind, list) else f"({inner}{',' if len(self.children) == 1 else ''})"


LEAF = Spec(None)


def flatten(tree: Any) -> tuple[list[Any], Spec]:
    """The leaves of ``tree`` (depth first; dict items in insertion order) and its structure."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list[Any]) -> Spec:
    if isinstance(tree, (tuple, list)):
        return Spec(type(tree), (), tuple(_flatten(item, leaves) for item in tree))
    if isinstance(tree, dict):
        return Spec(type(tree), tuple(tree), tuple(_flatten(value, leaves) for value in tree.values()))
    leaves.append(tree)
    return LEAF


def unflatten(leaves: Sequence[Any], spec: Spec) -> Any:
    """The structure ``spec`` built around ``leaves`` (as many as ``spec.size``)."""
    it = iter(leaves)
    return _build(it, spec)


def _build(it: Any, spec: Spec) -> Any:
    if spec.kind is None:
        return next(it)
    children = [_build(it, child) for child in spec.children]
    if issubclass(spec.kind, dict):
        return spec.kind(zip(spec.keys, children, strict=True))
    kind: Any = spec.kind
    if kind is not tuple and issubclass(kind, tuple):  # a namedtuple
        return kind(*children)
    return kind(children)


def map_leaves(fn: Callable[[Any], Any], tree: Any) -> Any:
    leaves, spec = flatten(tree)
    return unflatten([fn(leaf) for leaf in leaves], spec)


def check_callable(name: str, func: Any) -> None:
    if not callable(func):
        raise TypeError(f"{name}: func must be callable, got {type(func).__name__} {func!r}")


def check_argnums(name: str, argnums: Any) -> None:
    """``argnums`` must be an int or a non-empty tuple of ints (checked before any call)."""
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    if isinstance(argnums, tuple) and not argnums:
        raise ValueError(f"{name}: argnums must be an int or a non-empty tuple of ints, got ()")
    for item in items:
        if not isinstance(item, int) or isinstance(item, bool):
            raise TypeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")


def resolve_argnums(name: str, argnums: int | tuple[int, ...], count: int) -> tuple[int, ...]:
    """The positions picked by ``argnums`` among ``count`` positional arguments (negative ones count back)."""
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    positions = []
    for item in items:
        if not -count <= item < count:
            raise ValueError(f"{name}: argnums {argnums!r} is out of range for a call with {count} positional "
                             f"argument(s) (expected -{count} <= argnum < {count})")
        positions.append(item % count)
    if len(set(positions)) != len(positions):
        raise ValueError(f"{name}: argnums must be unique, got {argnums!r}")
    return tuple(positions)


def check_bool(name: str, argument: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: {argument} must be a bool, got {type(value).__name__} {value!r}")


def tensor_leaves(name: str, what: str, tree: Any, floating: bool = True) -> tuple[list[Tensor], Spec]:
    """The leaves of ``tree``, each checked to be a (floating-point) Tensor."""
    leaves, spec = flatten(tree)
    for k, leaf in enumerate(leaves):
        if isinstance(leaf, Tensor) and (not floating or leaf.dtype.kind in "fc"):
            continue
        where = what if spec.kind is None else f"{what} (leaf {k} of {spec!r})"
        if not isinstance(leaf, Tensor):
            raise TypeError(f"{name}: {where} must be a Tensor (or a tuple, list or dict of Tensors), "
                            f"got {type(leaf).__name__} {leaf!r}")
        raise TypeError(f"{name}: {where} must be floating point to be differentiated, got dtype {leaf.dtype}")
    return leaves, spec


def split_aux(name: str, result: Any, has_aux: bool) -> tuple[Any, Any]:
    """``(output, aux)`` of what func returned; aux is None without ``has_aux``."""
    if not has_aux:
        return result, None
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{name}: with has_aux=True, func must return a tuple (output, aux), "
                        f"got {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, tuple)
                                                           else ""))
    return result


_ACTIVE: set[int] = set()  # the transforms running now (their func has not returned yet)
_numbers = itertools.count(1)
# The aliases that are leaves (of inputs that required no grad), with the transform that made them:
# only that transform and the ones nested inside it (while it runs) differentiate with respect to them.
_PRIVATE: dict[int, tuple[weakref.ref[Tensor], int]] = {}


def open_scope() -> int:
    """Number a transform's call and mark it running; ``close_scope`` when its func has returned."""
    number = next(_numbers)
    _ACTIVE.add(number)
    return number


def close_scope(number: int) -> None:
    _ACTIVE.discard(number)


def alias(t: Tensor, scope: int) -> Tensor:
    """A new tensor standing for ``t`` in the transform ``scope``: the same data, recorded as a view of ``t``.

    Gradients with respect to the alias are that transform's alone (an outer
    one differentiates with respect to ``t``, which the alias depends on), and an
    open dual level carries ``t``'s tangent over to it.
    """
    with enable_grad():
        view = rules.reshape(t, shape=t.data.shape)  # recorded, never a copy, always a new tensor
    if not view.requires_grad:
        view.requires_grad_()
        key = id(view)
        _PRIVATE[key] = (weakref.ref(view, _forget(key)), scope)
    return view


def _forget(key: int) -> Callable[[weakref.ref[Tensor]], None]:
    """The callback that drops an alias's entry when the alias is freed."""
    def drop(_: weakref.ref[Tensor]) -> None:
        _PRIVATE.pop(key, None)
    return drop


def reaches_outside(roots: Sequence[Tensor], own: int | None = None) -> bool:
    """Whether someone other than the transform ``own`` can differentiate ``roots``: whether their graph
    reaches a leaf requiring grad that is the caller's, or an alias of a transform still running
    (an enclosing one). Then results must stay recorded."""
    live = [r for r in roots if r.requires_grad]
    if not live:
        return False
    leaves: dict[int, Tensor] = {}
    for _ in reverse_order(live, leaves, "func"):
        pass
    for key, leaf in leaves.items():
        entry = _PRIVATE.get(key)
        if entry is None or entry[0]() is not leaf or (entry[1] != own and entry[1] in _ACTIVE):
            return True
    return False


def detach_unless(keep: bool, tree: Any) -> Any:
    """``tree`` as it is when ``keep``, else with every tensor cut from the graph."""
    return tree if keep else map_leaves(Tensor.detach, tree)


def zeros_for(t: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros(t.data.shape, dtype=t.data.dtype))
