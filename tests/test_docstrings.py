"""Docstrings of the public API: every exported name has one, and they are written so that
the API page renders them well (Google style, Markdown).

- every name in ``__all__`` of the public namespaces, and every public attribute of
  ``Tensor`` (methods, properties, slots), has a docstring of its own (an inherited one
  is not shown on the API page, so it does not count);
- no docstring of the library uses a Sphinx role (``:func:`x```), which Markdown shows raw:
  cross-references are written ``[x][tinygrad_mnist.path.x]``, plain names as code spans;
- every ``>>>`` example sits in an ``Examples:`` section, the only place where the Google
  style renders it as code (elsewhere the prompts turn into nested block quotes).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types
from collections.abc import Iterator
from typing import Any

import pytest

import tinygrad_mnist
from tinygrad_mnist import Tensor

NAMESPACES = [
    "tinygrad_mnist",
    "tinygrad_mnist.autograd",
    "tinygrad_mnist.func",
    "tinygrad_mnist.nn",
    "tinygrad_mnist.nn.functional",
    "tinygrad_mnist.nn.init",
    "tinygrad_mnist.nn.utils",
    "tinygrad_mnist.optim",
    "tinygrad_mnist.optim.lr_scheduler",
    "tinygrad_mnist.testing",
    "tinygrad_mnist.viz",
    "tinygrad_mnist.utils.data",
    "tinygrad_mnist.utils.checkpoint",
    "tinygrad_mnist.datasets",
    "tinygrad_mnist.transforms",
    "tinygrad_mnist.serialization",
]

# Google-style section titles (what griffe recognises, in lower case)
SECTIONS = {
    "args", "arguments", "params", "parameters", "keyword args", "keyword arguments", "other args",
    "other arguments", "other params", "other parameters", "raises", "exceptions", "returns", "yields",
    "receives", "examples", "example", "attributes", "functions", "methods", "classes", "modules",
    "warns", "warnings", "note", "notes", "see also", "todo", "warning", "tip", "important",
}
SECTION_RE = re.compile(r"^(?P<title>[A-Za-z][\w -]*):\s*$")
ROLE_RE = re.compile(r":[a-z]+(:[a-z]+)?:`")


def own_doc(value: Any) -> str | None:
    """The docstring written for ``value`` itself (not one inherited from a base class)."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, type):
        return value.__dict__.get("__doc__")
    if isinstance(value, property):
        return value.__doc__ or (value.fget.__doc__ if value.fget else None)
    if inspect.ismemberdescriptor(value):  # a slot: documented by the values of a dict __slots__
        slots = getattr(value.__objclass__, "__slots__", ())
        return slots.get(value.__name__) if isinstance(slots, dict) else None
    return getattr(value, "__doc__", None)


def _is_documentable(value: Any) -> bool:
    return callable(value) or isinstance(value, (types.ModuleType, property))


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_exported_name_has_a_docstring(namespace: str) -> None:
    module = importlib.import_module(namespace)
    missing = []
    for name in module.__all__:
        value = getattr(module, name)
        if _is_documentable(value) and not (own_doc(value) or "").strip():
            missing.append(f"{namespace}.{name}")
    assert not missing, f"{len(missing)} names without a docstring: {', '.join(missing)}"


def test_every_public_tensor_attribute_has_a_docstring() -> None:
    missing = []
    for name in dir(Tensor):
        if name.startswith("_"):
            continue
        value = inspect.getattr_static(Tensor, name)
        if not (own_doc(value) or "").strip():
            missing.append(name)
    assert not missing, f"Tensor attributes without a docstring: {', '.join(missing)}"


def test_the_checks_see_a_missing_docstring() -> None:
    def undocumented() -> None:
        pass

    class Undocumented(Tensor):
        pass

    assert own_doc(undocumented) is None
    assert own_doc(Undocumented) is None  # the base class's docstring does not count
    assert own_doc(property(lambda self: 1)) is None

    class Slotted:
        __slots__ = ("value",)

    assert own_doc(inspect.getattr_static(Slotted, "value")) is None
    assert own_doc(inspect.getattr_static(Tensor, "data"))  # a dict __slots__ documents its slots
    assert own_doc(Tensor.backward)


def package_modules() -> Iterator[types.ModuleType]:
    """Every module of the package, the application included: its docstrings are rendered too."""
    yield tinygrad_mnist
    for info in pkgutil.walk_packages(tinygrad_mnist.__path__, prefix="tinygrad_mnist."):
        yield importlib.import_module(info.name)


def docstrings(module: types.ModuleType) -> Iterator[tuple[str, str]]:
    """(qualified name, docstring) of the module and of everything defined in it."""
    if module.__doc__:
        yield module.__name__, module.__doc__
    for name, value in vars(module).items():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value) and value.__doc__:
            yield f"{module.__name__}.{name}", value.__doc__
        elif inspect.isclass(value):
            if value.__dict__.get("__doc__"):
                yield f"{module.__name__}.{name}", value.__dict__["__doc__"]
            for attr, member in vars(value).items():
                if callable(member) or isinstance(member, (property, staticmethod, classmethod)):
                    doc = own_doc(member)
                    if doc:
                        yield f"{module.__name__}.{name}.{attr}", doc


ALL_DOCSTRINGS = sorted({(name, doc) for module in package_modules() for name, doc in docstrings(module)})


def test_docstrings_are_collected() -> None:
    names = {name for name, _ in ALL_DOCSTRINGS}
    assert {"tinygrad_mnist", "tinygrad_mnist.core.tensor.Tensor.backward",
            "tinygrad_mnist.nn.functional.activation.relu"} <= names
    assert "tinygrad_mnist.mnist.models.describe" in names


def test_no_sphinx_roles() -> None:
    found = [f"{name}: {match.group(0)}" for name, doc in ALL_DOCSTRINGS for match in ROLE_RE.finditer(doc)]
    assert not found, f"{len(found)} Sphinx roles (use [text][path] or `code`): " + "; ".join(found[:50])


def prompts_outside_examples(doc: str) -> list[str]:
    """The ``>>>`` lines of a docstring that are not in an indented ``Examples:`` section."""
    lines = inspect.cleandoc(doc).splitlines()
    section, outside = None, []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        indented = line.startswith((" ", "\t"))
        if not indented:
            match = SECTION_RE.match(line)
            blank_above = number == 0 or not lines[number - 1].strip()
            is_title = bool(match) and match.group("title").lower() in SECTIONS and blank_above
            section = match.group("title").lower() if is_title else None
            if is_title:
                continue
        if line.lstrip().startswith(">>>") and not (indented and section in ("examples", "example")):
            outside.append(line.strip())
    return outside


def test_a_prompt_outside_examples_is_found() -> None:
    assert prompts_outside_examples("Summary.\n\n>>> 1 + 1\n2\n") == [">>> 1 + 1"]
    assert prompts_outside_examples("Summary.\n\nArgs:\n    x: a value.\n\n    >>> x\n") == [">>> x"]
    assert prompts_outside_examples("Summary.\n\nExamples:\n    >>> 1 + 1\n    2\n\nMore.\n\n>>> 3") == [">>> 3"]
    assert prompts_outside_examples("Summary.\n\nExamples:\n    >>> 1 + 1\n    2\n\n    Then:\n\n"
                                    "    >>> 2 + 2\n    4\n\nArgs:\n    x: a value.\n") == []


def test_examples_are_in_examples_sections() -> None:
    found = [f"{name}: {line}" for name, doc in ALL_DOCSTRINGS for line in prompts_outside_examples(doc)]
    assert not found, (f"{len(found)} example lines outside an 'Examples:' section: " + "; ".join(found[:40]))
