"""``Module``: parameters, buffers and sub-modules registered as attributes, with ``state_dict`` round trips.

Assigning a [`Parameter`][tinygrad_mnist.nn.module.Parameter] or a ``Module`` to an attribute registers it, in
assignment order; ``register_buffer`` registers a tensor that is state but not
trained. Plain lists, tuples and dicts are ordinary attributes: their modules
and parameters are not registered (assigning one that holds any warns; use
``ModuleList``, ``ModuleDict``, ``ParameterList`` or ``ParameterDict``).

Examples:
    >>> import numpy as np
    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = Parameter(np.ones(2, dtype=np.float32))
    ...         self.register_buffer("calls", Tensor(np.zeros((), dtype=np.int64)))
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> model = Affine()
    >>> [name for name, _ in model.named_parameters()], list(model.state_dict())
    (['scale'], ['scale', 'calls'])
    >>> model.double().scale.dtype, model.calls.dtype
    (dtype('float64'), dtype('int64'))
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..core.tensor import Tensor
from .conversion import StateDictError, checked_state, convert_, parse_to

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["IncompatibleKeys", "Module", "Parameter", "RegistrationError", "StateDictError"]


class Parameter(Tensor):
    """A leaf Tensor that a Module trains: ``requires_grad`` is on by default."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)


class RegistrationError(KeyError, ValueError):
    """A name that cannot be registered (empty, dotted or taken): a ``KeyError`` as in PyTorch, and a ``ValueError``."""

    def __str__(self) -> str:
        return str(self.args[0])


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys it did not find and those it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"IncompatibleKeys(missing_keys={self.missing_keys!r}, unexpected_keys={self.unexpected_keys!r})"


_STORES = ("_parameters", "_buffers", "_modules")
_CONTAINER_FOR = {("list", "Module"): "ModuleList", ("list", "Parameter"): "ParameterList",
                  ("dict", "Module"): "ModuleDict", ("dict", "Parameter"): "ParameterDict"}


def _registrable(value: Any) -> type | None:
    """``Module`` or ``Parameter`` when a plain list/tuple/dict holds one (at any depth), else None."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        if isinstance(item, (Module, Parameter)):
            return Module if isinstance(item, Module) else Parameter
        found = _registrable(item)
        if found is not None:
            return found
    return None


def _check_name(kind: str, owner: Module, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a str, got {type(name).__name__}")
    if not name or "." in name:
        raise RegistrationError(f'{kind} name must be non-empty and can\'t contain ".", got {name!r}')
    if hasattr(owner, name) and all(name not in owner.__dict__[s] for s in _STORES):
        raise RegistrationError(f"{kind} name {name!r}: attribute {name!r} already exists")


class Module:
    """Base class of layers and models: subclasses set attributes and define ``forward``."""

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _modules: dict[str, Module | None]
    _non_persistent: set[str]

    def __init__(self) -> None:
        state = self.__dict__
        state["training"] = True
        state["_parameters"], state["_buffers"], state["_modules"] = {}, {}, {}
        state["_non_persistent"] = set()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- registration -----------------------------------------------------------------
    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from the attributes and every store but ``keep`` (where it keeps its position)."""
        self.__dict__.pop(name, None)
        for store in _STORES:
            if store != keep:
                self.__dict__[store].pop(name, None)
        self._non_persistent.discard(name)

    def __setattr__(self, name: str, value: Any) -> None:
        state = self.__dict__
        registered = "_modules" in state
        kind = Parameter if isinstance(value, Parameter) else Module if isinstance(value, Module) else None
        if kind is not None:
            if not registered:
                raise AttributeError(f"cannot assign {kind.__name__.lower()} {name!r} before Module.__init__() call")
            store = "_parameters" if kind is Parameter else "_modules"
            self._forget(name, store)
            state[store][name] = value
            return
        for store, expected, ok in (("_parameters", "Parameter", False), ("_modules", "Module", False),
                                    ("_buffers", "Tensor", isinstance(value, Tensor))):
            if registered and name in state[store]:
                if value is not None and not ok:
                    raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to "
                                    f"{store[1:-1]} {name!r} ({expected} or None expected)")
                state[store][name] = value
                return
        found = _registrable(value)
        if found is not None:
            container = _CONTAINER_FOR["dict" if isinstance(value, dict) else "list", found.__name__]
            warnings.warn(f"{type(self).__name__}.{name}: a plain {type(value).__name__} of {found.__name__}s "
                          f"is not registered (its {found.__name__.lower()}s are not in parameters() or "
                          f"state_dict()); use nn.{container}", UserWarning, stacklevel=2)
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        for store in _STORES:
            if store in state and name in state[store]:
                return state[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in _STORES:
            if name in self.__dict__.get(store, ()):
                del self.__dict__[store][name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()).union(*(self.__dict__.get(s, {}) for s in _STORES)))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for an absent one) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", self, name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign {type(param).__name__} as parameter {name!r} "
                            f"(Parameter or None expected)")
        self._forget(name, "_parameters")
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` (or None) as a child named ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        _check_name("module", self, name)
        self._forget(name, "_modules")
        self._modules[name] = module

    register_module = add_module

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as state that is not trained (in ``state_dict()`` if ``persistent``).

        Examples:
            >>> layer = Module()
            >>> layer.register_buffer("mean", Tensor(np.zeros(3, dtype=np.float32)))
            >>> [name for name, _ in layer.named_buffers()], list(layer.state_dict())
            (['mean'], ['mean'])
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", self, name)
        if name in self._parameters or name in self._modules:
            raise RegistrationError(f"buffer name {name!r}: attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot assign {type(tensor).__name__} to buffer {name!r} "
                            f"(Tensor or None required)")
        self._forget(name, "_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    # ---- walking the tree ---------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct children with their names, each module once."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        return (module for _, module in self.named_children())

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every module below it, depth first, a shared one once.

        Examples:
            >>> from tinygrad_mnist import nn
            >>> names = [name for name, _ in nn.Sequential(nn.Linear(2, 2), nn.Tanh()).named_modules()]
            >>> names == ["", "0", "1"]  # the root is named by the (empty) prefix
            True
        """
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and all modules below it, depth first."""
        return (module for _, module in self.named_modules())

    def _named_members(self, store: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        owners = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for owner_name, owner in owners:
            for name, member in owner.__dict__[store].items():
                if member is None or (remove_duplicate and id(member) in seen):
                    continue
                seen.add(id(member))
                yield (f"{owner_name}.{name}" if owner_name else name), member

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Each parameter once, under the first name it is reached by (shared layers are not repeated)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> list[Parameter]:
        """The parameters of [`named_parameters`][tinygrad_mnist.nn.module.Module.named_parameters], as a list (iterate
        it, or ``len()`` it)."""
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Each buffer (persistent or not) with its dotted name."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn: Callable[[Module], Any]) -> Self:
        """Call ``fn`` on every child (recursively), then on this module; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes, gradients, conversion ---------------------------------------------------
    def train(self, mode: bool = True) -> Self:
        """Training mode (dropout active) for this module and all below it; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Self:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Self:
        """Turn gradient recording of every parameter on or off; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (``set_to_none``), or fill it with zeros, cut from any graph."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad._ctx is not None:
                    p.grad = p.grad.detach()
                p.grad.requires_grad = False
                p.grad.data = np.zeros_like(p.grad.data)

    def to(self, *args: Any, **kwargs: Any) -> Self:
        """Convert floating parameters, their gradients and floating buffers to a dtype, in place; returns self.

        Takes a dtype, a device (only ``"cpu"``), both, a tensor (its dtype) or
        ``device=``/``dtype=`` keywords. The Parameter objects stay the same, so an
        optimizer built before still holds them. Integer buffers are left alone.

        Examples:
            >>> from tinygrad_mnist import nn
            >>> layer = nn.Linear(2, 1)
            >>> layer.to(np.float64) is layer, layer.weight.dtype, layer.to("cpu").bias.dtype
            (True, dtype('float64'), dtype('float64'))
        """
        dtype = parse_to(args, kwargs)
        if dtype is not None:
            for module in self.modules():
                params = [p for p in module._parameters.values() if p is not None]
                convert_([*params, *(p.grad for p in params), *module._buffers.values()], dtype)
        return self

    def double(self) -> Self:
        """``to(float64)``: for gradient checks."""
        return self.to(np.float64)

    def float(self) -> Self:
        """``to(float32)``."""
        return self.to(np.float32)

    def half(self) -> Self:
        """``to(float16)``."""
        return self.to(np.float16)

    def cpu(self) -> Self:
        """Already there: returns self."""
        return self

    # ---- state_dict ---------------------------------------------------------------------
    def _state_tensors(self) -> dict[str, Tensor]:
        """Parameters then persistent buffers, module by module, every name (shared ones repeated)."""
        state: dict[str, Tensor] = {}
        for owner_name, owner in self.named_modules(remove_duplicate=False):
            prefix = f"{owner_name}." if owner_name else ""
            for name, p in owner._parameters.items():
                if p is not None:
                    state[prefix + name] = p
            for name, b in owner._buffers.items():
                if b is not None and name not in owner._non_persistent:
                    state[prefix + name] = b
        return state

    def state_dict(self, *, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, as PyTorch gives them: detached tensors that
        share memory with the module (so they follow later training: ``copy.deepcopy`` or ``clone()``
        them to keep a snapshot), or the Parameters themselves with ``keep_vars=True``.

        Examples:
            >>> from tinygrad_mnist import nn
            >>> layer = nn.Linear(2, 1)
            >>> state = layer.state_dict()
            >>> list(state), state["weight"].requires_grad
            (['weight', 'bias'], False)
            >>> _ = layer.weight.data.fill(0.5)
            >>> state["weight"].tolist()
            [[0.5, 0.5]]
        """
        return OrderedDict((prefix + name, t if keep_vars else t.detach())
                           for name, t in self._state_tensors().items())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers, in place.

        With ``strict=True`` the keys must match exactly; shapes must always
        match. Nothing is changed when an error is raised. Returns the missing
        and unexpected keys.
        """
        own = self._state_tensors()
        arrays, missing, unexpected = checked_state(own, state, strict, type(self).__name__)
        for name, array in arrays.items():
            own[name].data[...] = array
        return IncompatibleKeys(missing, unexpected)

    # ---- printing -----------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = [(name, m) for name, m in self._modules.items() if m is not None]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

