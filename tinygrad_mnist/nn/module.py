"""``Module``: a container of parameters and sub-modules, with ``state_dict`` round trips.

Attributes are discovered in the order they were assigned: a :class:`Parameter`
is a parameter, a ``Module`` a child, and a list or tuple of modules a numbered
group of children (as in :class:`Sequential`).

>>> import numpy as np
>>> class Affine(Module):
...     def __init__(self):
...         super().__init__()
...         self.scale = Parameter(np.ones(2, dtype=np.float32))
...     def forward(self, x):
...         return x * self.scale
>>> [name for name, _ in Affine().named_parameters()]
['scale']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..core.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that a Module trains: ``requires_grad`` is on by default."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)


class StateDictError(KeyError, ValueError):
    """``load_state_dict`` got missing, unexpected or wrongly shaped entries.

    A ``KeyError`` (a missing or unexpected name is a failed lookup) and a
    ``ValueError`` (like every other shape that does not fit).
    """

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class Module:
    """Base class of layers and models: subclasses set attributes and define ``forward``."""

    training: bool

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def children(self) -> Iterator[Module]:
        return (module for _, module in self.named_children())

    def modules(self) -> Iterator[Module]:
        """This module and all modules below it, depth first."""
        yield self
        for child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Each parameter once, under the first name it is reached by (shared layers are not repeated)."""
        seen: set[int] = set()
        for name, param in self._all_parameters(prefix):
            if id(param) not in seen:
                seen.add(id(param))
                yield name, param

    def _all_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._all_parameters(f"{prefix}{name}.")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active); returns self."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameter arrays by dotted name (copies, safe to keep while training goes on)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy arrays into the parameters, in place.

        With ``strict=True`` the keys must match exactly; shapes must always
        match. Nothing is changed when an error is raised.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
                f"for {type(self).__name__}"
            )
        arrays = {}
        for name, value in state.items():
            if name not in own:
                continue
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.shape != own[name].shape:
                raise StateDictError(
                    f"load_state_dict: {name} has shape {array.shape}, expected {own[name].shape}"
                )
            if array.dtype.kind != "f":
                raise StateDictError(f"load_state_dict: {name} has dtype {array.dtype}, expected floating point")
            arrays[name] = array
        for name, array in arrays.items():
            own[name].data[...] = array

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another.

    >>> from tinygrad_mnist import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> print(*(name for name, _ in model.named_parameters()))
    0.weight 0.bias 2.weight 2.bias
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(layer).__name__}")
        self.layers = list(layers)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((str(i), layer) for i, layer in enumerate(self.layers))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)
