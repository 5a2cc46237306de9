"""The API page documents every public name of the library's namespaces.

``docs/api.md`` renders modules (``::: module``); a public name is on the page
when the module that defines it is one of them, or is exported by one of them.
This fails when a new layer, function or module is added without a place on
the page. The built page (``mkdocs build --strict``, when mkdocs is installed)
must then hold an anchor for each of those names and each public attribute of
``Tensor``, and the modules' headings must nest under the page's own headings.
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_mnist
import tinygrad_mnist.autograd
import tinygrad_mnist.autograd.forward_ad
import tinygrad_mnist.datasets
import tinygrad_mnist.func
import tinygrad_mnist.nn
import tinygrad_mnist.nn.functional
import tinygrad_mnist.nn.init
import tinygrad_mnist.nn.utils
import tinygrad_mnist.optim
import tinygrad_mnist.optim.lr_scheduler
import tinygrad_mnist.serialization
import tinygrad_mnist.testing
import tinygrad_mnist.transforms
import tinygrad_mnist.utils.checkpoint
import tinygrad_mnist.utils.data
import tinygrad_mnist.viz

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


# ---- the structure of the page: module headings nest under the page's own headings ----------------------
def blocks() -> list[tuple[int, str, dict[str, str]]]:
    """(level of the markdown heading above, module, options) of every ``::: module`` block."""
    found, level = [], 1
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        heading = re.match(r"^(#+) ", line)
        if heading:
            level = len(heading.group(1))
        block = re.match(r"^::: ([\w.]+)\s*$", line)
        if block:
            options = {}
            for option in lines[number + 1:]:
                pair = re.match(r"^ {6}(\w+): (.*)$", option)
                if not (pair or option.strip() == "options:"):
                    break
                if pair:
                    options[pair.group(1)] = pair.group(2).strip()
            found.append((level, block.group(1), options))
    return found


def test_module_headings_nest_under_the_page_headings() -> None:
    wrong = [f"{module} (heading_level {options.get('heading_level', '2')} under a level-{level} heading)"
             for level, module, options in blocks() if int(options.get("heading_level", 2)) != level + 1]
    assert not wrong, "a module heading at the level of the section it is in: " + ", ".join(wrong)


def test_a_section_of_one_module_does_not_list_it_again_in_the_toc() -> None:
    text = PAGE.read_text(encoding="utf-8")
    sections = re.split(r"^#+ .*$", text, flags=re.MULTILINE)
    repeated = []
    for section in sections:
        modules = re.findall(r"^::: ([\w.]+)\s*\n((?:    .*\n)*)", section + "\n", flags=re.MULTILINE)
        shown = [name for name, options in modules if "show_root_toc_entry: false" not in options]
        if len(modules) == 1 and shown:
            repeated.append(shown[0])
    assert not repeated, "the only module of its section, listed again in the table of contents: " + ", ".join(repeated)


# ---- the built page: every public name has an anchor ---------------------------------------------------
ROOT = PAGE.parents[1]
CHECKED = [*NAMESPACES, tinygrad_mnist.nn.utils, tinygrad_mnist.testing, tinygrad_mnist.viz, tinygrad_mnist.datasets,
           tinygrad_mnist.serialization]


@pytest.fixture(scope="module")
def anchors(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                           cwd=ROOT, capture_output=True, text=True, check=False)
    assert build.returncode == 0, "mkdocs build --strict failed:\n" + build.stderr[-3000:]
    html = (site / "api" / "index.html").read_text(encoding="utf-8")
    return set(re.findall(r'id="(tinygrad_mnist[\w.]*)"', html))


def anchor_names(value: object, *paths: str) -> set[str]:
    """The anchors under which ``value`` may be rendered: the given paths, where it is defined, and
    every rendered module that holds it under some name."""
    names = set(paths)
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if module and qualname:
        names.add(f"{module}.{qualname}")
    if inspect.ismodule(value):
        names.add(value.__name__)
    for rendered in rendered_modules():
        namespace = importlib.import_module(rendered)
        names.update(f"{rendered}.{name}" for name, held in vars(namespace).items() if held is value)
    return names


def test_the_anchor_check_sees_a_missing_name(anchors: set[str]) -> None:
    assert "tinygrad_mnist.core.tensor.Tensor" in anchors
    assert not anchor_names(test_the_anchor_check_sees_a_missing_name) & anchors


@pytest.mark.parametrize("namespace", CHECKED, ids=lambda m: m.__name__)
def test_every_public_name_has_an_anchor_on_the_built_page(namespace, anchors: set[str]) -> None:
    missing = []
    for name in public_names(namespace):
        value = getattr(namespace, name)
        if not (callable(value) or inspect.ismodule(value)):
            continue  # constants (dtypes, file tables) are described by their module
        if not anchor_names(value, f"{namespace.__name__}.{name}") & anchors:
            missing.append(name)
    assert not missing, f"no anchor on the API page for {namespace.__name__}: " + ", ".join(missing)


def test_every_public_tensor_attribute_has_an_anchor_on_the_built_page(anchors: set[str]) -> None:
    from tinygrad_mnist import Tensor

    missing = []
    for name in dir(Tensor):
        if name.startswith("_"):
            continue
        value = inspect.getattr_static(Tensor, name)
        if not anchor_names(value, f"tinygrad_mnist.core.tensor.Tensor.{name}") & anchors:
            missing.append(name)
    assert not missing, "Tensor attributes with no anchor on the API page: " + ", ".join(missing)


def test_tensor_methods_documented_as_functions_are_listed_under_tensor(anchors: set[str]) -> None:
    from tinygrad_mnist import Tensor

    page = PAGE.read_text(encoding="utf-8")
    unlisted = [name for name in dir(Tensor) if not name.startswith("_")
                and f"tinygrad_mnist.core.tensor.Tensor.{name}" not in anchors and f"[`{name}`][" not in page]
    assert not unlisted, "Tensor methods neither under Tensor nor in the table of methods: " + ", ".join(unlisted)
