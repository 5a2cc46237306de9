"""The import layering of :mod:`tinygrad_mnist`, checked from the source (AST) and at run time.

Layers, lowest first; a module may import only its own layer or a lower one:

* **core** (0): ``tinygrad_mnist.core`` and the leaf utilities ``random``, ``atomic``,
  ``_float_domains`` (which import nothing from the package). Inside core the run-time order is
  grad_mode, coerce, kernels <- anomaly <- graph <- rules <- composites <- tensor <- functions.
* **library** (1): the package root, ``autograd``, ``nn``, ``optim``, ``testing``, ``viz``,
  ``datasets`` and their submodules.
* **application** (2): ``tinygrad_mnist.mnist`` and everything under it.

Rules:

1. No import (at any depth, ``if TYPE_CHECKING:`` included) points to a higher layer.
2. Run-time imports (module-level, outside ``if TYPE_CHECKING:``) form no cycle. Imports under
   ``if TYPE_CHECKING:`` are left out on purpose: they never execute, so they cannot leave a
   module half-initialised, and they let lower core modules name ``Tensor`` in annotations.
   Rule 1 still keeps them to the same layer or lower.
3. No function-, method- or class-body-local import of a package module: it would defer an edge
   to call time and so hide a circle from rule 2. Local third-party imports (matplotlib) are fine.
4. Importing the library, all its subpackages included, never loads ``tinygrad_mnist.mnist``.

Only explicit import statements make edges, not the implicit run of a parent package's ``__init__``.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "tinygrad_mnist"
LEAVES = ("random", "atomic", "_float_domains")
CORE_RANK = {"random": 0, "atomic": 0, "_float_domains": 0, "core.grad_mode": 0, "core.coerce": 0,
             "core.kernels": 0, "core.pool_kernels": 0.25, "core.accelerator": -0.5, "core.kernel_loops": -1,
             "core.anomaly": 1, "core.forward": 1, "core.batched_array": 0.5, "core.batching": 1, "core.graph": 2,
             "core.rules": 3,
             "core.composites": 4, "core.convolution": 4, "core.tensor": 5, "core.functions": 6,
             "core.shape": 4.1, "core.elementwise": 4.1, "core.reductions": 4.2, "core.conversions": 4.2,
             "core.selection": 4.3,  # the function modules behind Tensor's methods
             "core.dtypes": 0, "core.devices": 0, "core.factories": 6, "core.hooks": 0, "core.nodeview": 0,
             "core.versions": 0,
             "core.inplace": 4.9, "core": 7}  # import lower ranks only; unlisted: unchecked
_LOCAL_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
ImportNode = ast.Import | ast.ImportFrom


@dataclass(frozen=True)
class Edge:
    """One package module importing another, from one import statement."""

    importer: str
    target: str
    path: str
    line: int
    type_checking: bool = False
    local: bool = False

    @property
    def runtime(self) -> bool:
        return not (self.type_checking or self.local)

    def __str__(self) -> str:
        kind = " [TYPE_CHECKING]" if self.type_checking else " [local]" if self.local else ""
        return f"{self.path}:{self.line}: {self.importer} -> {self.target}{kind}"


def _rel(module: str) -> str:
    return module.partition(".")[2]  # the name below the package: "core.tensor", "" for the root


def layer_of(module: str) -> int:
    """0 core, 1 library, 2 application."""
    rel = _rel(module)
    if rel in LEAVES or rel == "core" or rel.startswith("core."):
        return 0
    return 2 if rel == "mnist" or rel.startswith("mnist.") else 1


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:  # `TYPE_CHECKING` or `typing.TYPE_CHECKING`
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def _scan(nodes: Iterable[ast.AST], local: bool, tc: bool) -> Iterator[tuple[ImportNode, bool, bool]]:
    """Every import statement below ``nodes``, with (is local, is under TYPE_CHECKING)."""
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, local, tc
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _scan(node.body, local, True)
            yield from _scan(node.orelse, local, tc)
        else:
            yield from _scan(ast.iter_child_nodes(node), local or isinstance(node, _LOCAL_SCOPES), tc)


def _targets(node: ImportNode, importer: str, is_package: bool, modules: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:  # `from . import x` in an __init__ is relative to the package itself
        parts = importer.split(".") if is_package else importer.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def import_edges(root: Path, package: str) -> list[Edge]:
    """All import edges between modules of ``root/package`` (any depth, TYPE_CHECKING or not)."""
    files = sorted((root / package).rglob("*.py"))
    modules = {_module_name(f, root) for f in files}
    edges: list[Edge] = []
    for file in files:
        importer = _module_name(file, root)
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for node, local, tc in _scan(tree.body, False, False):
            targets = _targets(node, importer, file.name == "__init__.py", modules)
            for target in dict.fromkeys(targets):  # ordered, deduplicated
                if target != importer and (target == package or target.startswith(package + ".")):
                    rel = file.relative_to(root).as_posix()
                    edges.append(Edge(importer, target, rel, node.lineno, tc, local))
    return edges


def find_cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """Run-time import circles, each as the sorted modules that all reach one another."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if e.runtime:
            graph.setdefault(e.importer, set()).add(e.target)

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for w in graph.get(todo.pop(), ()):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    reachable = {v: reach(v) for v in graph}
    groups = {frozenset(w for w in reachable[v] if v in reachable.get(w, ())) for v in graph if v in reachable[v]}
    return sorted(sorted(group) for group in groups)


def wrong_way_imports(edges: Iterable[Edge]) -> list[Edge]:
    """Edges from a module to a higher layer (TYPE_CHECKING and local imports included)."""
    return [e for e in edges if layer_of(e.target) > layer_of(e.importer)]


def core_order_violations(edges: Iterable[Edge]) -> list[Edge]:
    """Run-time edges inside core that do not point to a strictly lower rank of :data:`CORE_RANK`."""
    ranked = [(e, CORE_RANK.get(_rel(e.importer)), CORE_RANK.get(_rel(e.target))) for e in edges if e.runtime]
    return [e for e, low, high in ranked if low is not None and high is not None and high >= low]


def local_imports(root: Path, package: str) -> list[Edge]:
    """Package imports made inside a function, method or class body."""
    return [e for e in import_edges(root, package) if e.local]


def _report(title: str, items: Iterable[object]) -> str:
    return title + "\n" + "\n".join(f"  {item}" for item in items)


def _cycle_report(edges: list[Edge], cycles: list[list[str]]) -> str:
    on_cycle = [e for c in cycles for e in edges if e.runtime and e.importer in c and e.target in c]
    return _report(f"run-time import cycles {cycles}; edges on them:", on_cycle)


def _copy_package(tmp_path: Path) -> Path:
    """The package's .py files copied under tmp_path; returns the copy's package directory."""
    def ignore(directory: str, names: list[str]) -> list[str]:
        return [n for n in names if n == "__pycache__" or (Path(directory, n).is_file() and not n.endswith(".py"))]
    return Path(shutil.copytree(REPO / PACKAGE, tmp_path / PACKAGE, ignore=ignore))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n" + textwrap.dedent(text), encoding="utf-8")


def _write_package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


# --- the real package ------------------------------------------------------------------------

def test_real_package_imports_only_downwards() -> None:
    edges = import_edges(REPO, PACKAGE)
    assert len(edges) > 50, "the edge scan found suspiciously few imports"
    bad = wrong_way_imports(edges)
    assert not bad, _report("imports of a higher layer (core < library < application):", bad)


def test_real_package_has_no_runtime_import_cycle() -> None:
    edges = import_edges(REPO, PACKAGE)
    assert not find_cycles(edges), _cycle_report(edges, find_cycles(edges))


def test_real_core_follows_its_internal_order() -> None:
    bad = core_order_violations(import_edges(REPO, PACKAGE))
    assert not bad, _report(f"core imports against the order {CORE_RANK}:", bad)


def test_real_package_has_no_local_package_imports() -> None:
    bad = local_imports(REPO, PACKAGE)
    assert not bad, _report("package imports inside a function/method/class body:", bad)


def test_importing_the_library_never_loads_the_application() -> None:
    code = textwrap.dedent("""
        import sys
        def app(): return sorted(m for m in sys.modules if m == 'tinygrad_mnist.mnist'
                                 or m.startswith('tinygrad_mnist.mnist.'))
        import tinygrad_mnist
        first = app()
        import tinygrad_mnist.autograd, tinygrad_mnist.nn, tinygrad_mnist.optim
        import tinygrad_mnist.viz, tinygrad_mnist.datasets, tinygrad_mnist.testing
        print(repr((first, app())))
    """)
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "([], [])", f"application modules loaded by the library: {run.stdout}"


# --- planted violations: the checks can fail ---------------------------------------------------

def test_planted_cycle_in_copy_is_reported(tmp_path: Path) -> None:
    _append(_copy_package(tmp_path) / "core" / "grad_mode.py", "from .tensor import Tensor\n")
    edges = import_edges(tmp_path, PACKAGE)
    cycles = find_cycles(edges)
    assert any({f"{PACKAGE}.core.grad_mode", f"{PACKAGE}.core.tensor"} <= set(c) for c in cycles), cycles
    assert "core/grad_mode.py" in _cycle_report(edges, cycles)
    assert any(e.importer.endswith("core.grad_mode") for e in core_order_violations(edges))


def test_minimal_two_module_cycle_is_reported(tmp_path: Path) -> None:
    root = _write_package(tmp_path, {"__init__.py": "", "a.py": "from . import b\n", "b.py": "import pkg.a\n"})
    assert find_cycles(import_edges(root, "pkg")) == [["pkg.a", "pkg.b"]]


def test_planted_wrong_way_imports_are_reported(tmp_path: Path) -> None:
    copy = _copy_package(tmp_path)
    _append(copy / "nn" / "layers.py", "from ..mnist import models\n")
    _append(copy / "core" / "graph.py", "from ..nn import module\n")
    bad = {(e.importer, e.target) for e in wrong_way_imports(import_edges(tmp_path, PACKAGE))}
    assert bad == {(f"{PACKAGE}.nn.layers", f"{PACKAGE}.mnist.models"),
                   (f"{PACKAGE}.core.graph", f"{PACKAGE}.nn.module")}


def test_planted_local_import_is_reported_but_not_third_party(tmp_path: Path) -> None:
    _append(_copy_package(tmp_path) / "core" / "kernels.py", """
        def _planted():
            import matplotlib
            from .tensor import Tensor
            return Tensor, matplotlib

        class _Planted:
            def method(self):
                import tinygrad_mnist.nn
    """)
    found = {(e.importer, e.target) for e in local_imports(tmp_path, PACKAGE)}
    assert found == {(f"{PACKAGE}.core.kernels", f"{PACKAGE}.core.tensor"),
                     (f"{PACKAGE}.core.kernels", f"{PACKAGE}.nn")}
    assert not find_cycles(import_edges(tmp_path, PACKAGE)), "local imports are not run-time edges"


def test_type_checking_import_is_no_cycle_but_is_layer_checked(tmp_path: Path) -> None:
    root = _write_package(tmp_path, {
        "__init__.py": "", "mnist/__init__.py": "", "mnist/app.py": "", "core/__init__.py": "",
        "core/a.py": """
            import typing
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from .b import B
            if typing.TYPE_CHECKING:
                from ..mnist import app
            else:
                from . import c
        """,
        "core/b.py": "from .a import A\n", "core/c.py": "",
    })
    edges = import_edges(root, "pkg")
    assert {(e.target, e.type_checking) for e in edges if e.importer == "pkg.core.a"} == {
        ("pkg.core.b", True), ("pkg.mnist.app", True), ("pkg.core.c", False)}
    assert find_cycles(edges) == []
    assert [(e.importer, e.target) for e in wrong_way_imports(edges)] == [("pkg.core.a", "pkg.mnist.app")]
