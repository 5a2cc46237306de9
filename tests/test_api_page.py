"""The API page documents every public name of the library's namespaces.

``docs/api.md`` renders modules (``::: module``); a public name is on the page
when the module that defines it is one of them, or is exported by one of them.
This fails when a new layer, function or module is added without a place on
the page.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import tinygrad_mnist
import tinygrad_mnist.autograd
import tinygrad_mnist.autograd.forward_ad
import tinygrad_mnist.func
import tinygrad_mnist.nn
import tinygrad_mnist.nn.functional
import tinygrad_mnist.nn.init
import tinygrad_mnist.optim
import tinygrad_mnist.optim.lr_scheduler
import tinygrad_mnist.transforms
import tinygrad_mnist.utils.checkpoint
import tinygrad_mnist.utils.data

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
NAMESPACES = [tinygrad_mnist, tinygrad_mnist.nn, tinygrad_mnist.nn.functional, tinygrad_mnist.nn.init,
              tinygrad_mnist.optim, tinygrad_mnist.optim.lr_scheduler, tinygrad_mnist.utils.data,
              tinygrad_mnist.transforms, tinygrad_mnist.func, tinygrad_mnist.autograd.forward_ad,
              tinygrad_mnist.utils.checkpoint, tinygrad_mnist.autograd]


def rendered_modules() -> list[str]:
    return re.findall(r"^::: ([\w.]+)\s*$", PAGE.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_every_rendered_module_exists() -> None:
    modules = rendered_modules()
    assert len(modules) > 20
    for name in modules:
        importlib.import_module(name)


def public_names(namespace) -> list[str]:
    return sorted(getattr(namespace, "__all__", [n for n in vars(namespace) if not n.startswith("_")]))


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_every_public_name_is_on_the_api_page(namespace) -> None:
    rendered = set(rendered_modules())
    missing = []
    for name in public_names(namespace):
        value = getattr(namespace, name)
        if inspect.ismodule(value):
            continue  # a namespace of its own, checked by its own entry
        home = getattr(value, "__module__", None) if callable(value) else None
        modules = [importlib.import_module(module) for module in rendered]
        on_page = home in rendered or any(
            name in getattr(module, "__all__", ()) or getattr(module, name, None) is value for module in modules)
        if not on_page:
            missing.append(f"{namespace.__name__}.{name} (defined in {home or 'a module not on the page'})")
    assert not missing, "not on docs/api.md: " + ", ".join(missing)
