"""Containers that register what they hold: ``Sequential``, ``ModuleList``, ``ModuleDict``,
``ParameterList``, ``ParameterDict``.

A plain Python list of layers is invisible to ``parameters()`` and ``state_dict()``;
these containers name their items by position (``"0"``, ``"1"``...) or by key.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import nn
    >>> class Tower(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2, bias=False)])
    ...         self.gains = nn.ParameterDict({"out": nn.Parameter(np.ones(2))})
    >>> [name for name, _ in Tower().named_parameters()]
    ['blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'gains.out']
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..core.tensor import Tensor
from .module import Module, Parameter

if TYPE_CHECKING:
    from typing_extensions import Self


def _position(index: Any, length: int, kind: str) -> int:
    """``index`` as a position in ``range(length)`` (negative ones count from the end)."""
    try:
        i = operator.index(index)
    except TypeError:
        raise TypeError(f"{kind} indices must be integers or slices, got {type(index).__name__}") from None
    if not -length <= i < length:
        raise IndexError(f"{kind}: index {i} is out of range for length {length}")
    return i % length


def _as_parameter(value: Any, kind: str) -> Parameter:
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{kind}: items must be Parameters or Tensors, got {type(value).__name__}")


class Sequential(Module):
    """Modules applied one after another, named ``"0"``, ``"1"``... (or by the keys of an OrderedDict).

    Examples:
        >>> from tinygrad_mnist import nn
        >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> print(*(name for name, _ in model.named_parameters()))
        0.weight 0.bias 2.weight 2.bias
        >>> print(*(name for name, _ in model[1:].named_parameters()))  # a slice keeps the names
        2.weight 2.bias
    """

    def __init__(self, *layers: Any) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], OrderedDict):
            for name, module in layers[0].items():
                self.add_module(name, module)
            return
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(layer).__name__}")
            self.add_module(str(i), layer)

    def forward(self, x: Any) -> Any:
        for layer in self:
            x = layer(x)
        return x

    def __getitem__(self, index: int | slice) -> Any:
        items = [(name, m) for name, m in self._modules.items() if m is not None]
        if isinstance(index, slice):
            return type(self)(OrderedDict(items[index]))
        return items[_position(index, len(items), "Sequential")][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return (m for m in self._modules.values() if m is not None)

    def append(self, module: Module) -> Self:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules, registered as ``"0"``, ``"1"``... and renumbered when items move.

    Examples:
        >>> from tinygrad_mnist import nn
        >>> layers = nn.ModuleList([nn.Linear(2, 3)])
        >>> layers.append(nn.Tanh()).extend([nn.Linear(3, 1)])[-1]
        Linear(in_features=3, out_features=1, bias=True)
        >>> len(layers), [name for name, _ in layers.named_parameters()]
        (3, ['0.weight', '0.bias', '2.weight', '2.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _renumber(self, modules: list[Module]) -> None:
        self._modules.clear()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def _items(self) -> list[Module]:
        return [m for m in self._modules.values() if m is not None]

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(self._items()[index])
        return self._items()[_position(index, len(self), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_position(index, len(self), "ModuleList")), module)

    def __delitem__(self, index: int | slice) -> None:
        items = self._items()
        del items[index if isinstance(index, slice) else _position(index, len(items), "ModuleList")]
        self._renumber(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items())

    def __iadd__(self, modules: Iterable[Module]) -> Self:
        return self.extend(modules)

    def append(self, module: Module) -> Self:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Self:
        """Add each of ``modules`` at the end; returns self."""
        if isinstance(modules, (Module, str)) or not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend: expected an iterable of Modules, got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index`` (as ``list.insert``), renumbering those after it."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.insert: {type(module).__name__} is not a Module")
        items = self._items()
        items.insert(operator.index(index), module)
        self._renumber(items)


class ModuleDict(Module):
    """A dict of modules registered under their (string) keys, in insertion order.

    Examples:
        >>> from tinygrad_mnist import nn
        >>> heads = nn.ModuleDict({"digit": nn.Linear(4, 10), "parity": nn.Linear(4, 2)})
        >>> list(heads), heads["parity"].out_features, "digit" in heads
        (['digit', 'parity'], 2, True)
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        module = self._modules.get(key)
        if module is None:
            raise KeyError(key)
        return module

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return [m for m in self._modules.values() if m is not None]

    def items(self) -> Iterable[tuple[str, Module]]:
        return [(k, m) for k, m in self._modules.items() if m is not None]

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace entries from a mapping or an iterable of (key, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for pair in pairs:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update: expected (key, module) pairs, got {pair!r}")
            self[pair[0]] = pair[1]


class ParameterList(Module):
    """A list of parameters registered as ``"0"``, ``"1"``...; a plain Tensor becomes a Parameter.

    Examples:
        >>> import numpy as np
        >>> params = ParameterList([Tensor(np.ones(2))])
        >>> params.append(Tensor(np.zeros(3)))[1].requires_grad, [name for name, _ in params.named_parameters()]
        (True, ['0', '1'])
    """

    def __init__(self, values: Iterable[Tensor] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, index: int | slice) -> Any:
        items = [p for p in self._parameters.values() if p is not None]
        if isinstance(index, slice):
            return type(self)(items[index])
        return items[_position(index, len(items), "ParameterList")]

    def __setitem__(self, index: int, value: Tensor) -> None:
        name = str(_position(index, len(self), "ParameterList"))
        self.register_parameter(name, _as_parameter(value, "ParameterList"))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return (p for p in self._parameters.values() if p is not None)

    def __iadd__(self, values: Iterable[Tensor]) -> Self:
        return self.extend(values)

    def append(self, value: Tensor) -> Self:
        """Add ``value`` (made a Parameter if it is a plain Tensor) at the end; returns self."""
        self.register_parameter(str(len(self)), _as_parameter(value, "ParameterList"))
        return self

    def extend(self, values: Iterable[Tensor]) -> Self:
        """Append each of ``values``; returns self."""
        if isinstance(values, (Tensor, str)) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend: expected an iterable of Tensors, got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return ", ".join(f"({i}): Parameter of shape {p.shape}, dtype {p.dtype}" for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters under string keys; a plain dict is taken in sorted key order, as in PyTorch.

    Examples:
        >>> import numpy as np
        >>> params = ParameterDict({"scale": Tensor(np.ones(2)), "bias": Tensor(np.zeros(2))})
        >>> list(params), isinstance(params["scale"], Parameter)
        (['bias', 'scale'], True)
    """

    def __init__(self, parameters: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        param = self._parameters.get(key)
        if param is None:
            raise KeyError(key)
        return param

    def __setitem__(self, key: str, value: Tensor) -> None:
        self.register_parameter(key, _as_parameter(value, "ParameterDict"))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self) -> Iterable[str]:
        return self._parameters.keys()

    def values(self) -> Iterable[Parameter]:
        return [p for p in self._parameters.values() if p is not None]

    def items(self) -> Iterable[tuple[str, Parameter]]:
        return [(k, p) for k, p in self._parameters.items() if p is not None]

    def pop(self, key: str) -> Parameter:
        param = self[key]
        del self[key]
        return param

    def clear(self) -> None:
        self._parameters.clear()

    def update(self, parameters: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]) -> None:
        """Add or replace entries; a plain dict's keys are taken sorted (an OrderedDict keeps its order)."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs: Iterable[Any] = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items(), key=operator.itemgetter(0))
        else:
            pairs = parameters
        for pair in pairs:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise TypeError(f"ParameterDict.update: expected (key, tensor) pairs, got {pair!r}")
            self[pair[0]] = pair[1]

    def extra_repr(self) -> str:
        return ", ".join(f"({k}): Parameter of shape {p.shape}, dtype {p.dtype}" for k, p in self.items())
