"""A build hook of the API pages: the methods ``Tensor`` takes from the function modules are shown as its members.

``Tensor`` binds functions written in other modules as its methods
(``exp = elementwise.exp``): one function is both ``x.exp()`` and
``tinygrad_mnist.exp(x)``. The static reader of the docs sees only an
assignment there, so this extension adds each such method to the class as an
alias of its function, and the class's section lists every method.
"""

from __future__ import annotations

import inspect
from typing import Any

import griffe


class TensorMethods(griffe.Extension):
    """Adds ``Tensor``'s bound-in functions to the class as aliases of their definitions."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "tinygrad_mnist":
            return
        from tinygrad_mnist import Tensor

        cls = pkg["core.tensor.Tensor"]
        for name, value in vars(Tensor).items():
            if name.startswith("_") or not inspect.isfunction(value):
                continue
            target = f"{value.__module__}.{value.__qualname__}"
            if target.startswith("tinygrad_mnist.core.tensor.Tensor."):
                continue  # defined in the class body: already a member
            cls.set_member(name, griffe.Alias(name, target, parent=cls))
