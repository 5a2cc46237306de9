"""Build the documentation site and check every page in headless Chromium.

``python docs/check_site.py [--screenshots DIR]`` builds the site with ``mkdocs build --strict`` into a
temporary directory, serves it on 127.0.0.1, loads every page of the navigation, saves a full-page
screenshot of each in DIR (``site-check/`` by default) and exits with 1 and a list of problems when a page
logs a console error or raises, requests anything from another host, shows a raw Sphinx role
(``:func:`` and a backtick) or a ``>>>`` line outside a code block, is missing from the navigation or does
not load with 200, or when a public name of the library has no entry (an element whose id is its path) on
the API pages. The functions that need no browser are pure:

>>> find_raw_roles("Read with :func:`load`; the role `:func:` is Sphinx syntax.")
[':func:`load`']
>>> page_url("index.md"), page_url("tutorial.md"), page_url("guide/index.md")
('', 'tutorial/', 'guide/')
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mkdocs.config import load_config

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Error

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NAMESPACES = ("tinygrad_mnist", "tinygrad_mnist.autograd", "tinygrad_mnist.func", "tinygrad_mnist.nn",
              "tinygrad_mnist.nn.functional", "tinygrad_mnist.nn.init", "tinygrad_mnist.nn.utils",
              "tinygrad_mnist.optim", "tinygrad_mnist.optim.lr_scheduler", "tinygrad_mnist.testing",
              "tinygrad_mnist.viz", "tinygrad_mnist.utils.data", "tinygrad_mnist.utils.checkpoint",
              "tinygrad_mnist.datasets", "tinygrad_mnist.transforms", "tinygrad_mnist.serialization")
# a role written in a docstring, e.g. :func:`relu`; not one quoted as code (`:func:`)
ROLE = re.compile(r"(?<![`\w]):(?:py:)?(?:func|class|meth|mod|attr):`[^`\n]*`?")
SKIPPED = {"script", "style", "noscript", "template", "svg"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def find_raw_roles(text: str) -> list[str]:
    """Every raw Sphinx role in ``text`` (inline code is written between backticks).

    >>> find_raw_roles("see :class:`Tensor` and :py:meth:`Tensor.sum`, not :function:")
    [':class:`Tensor`', ':py:meth:`Tensor.sum`']
    """
    return ROLE.findall(text)


class _PageText(HTMLParser):
    """The rendered text of a page: inline code between backticks, text outside code apart."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.prose: list[str] = []        # text outside <pre>, inline code between backticks
        self.outside_code: list[str] = []  # text nodes with no <pre> or <code> ancestor

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)
            if tag == "code" and "pre" not in self.stack:
                self.prose.append("`")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass
            if tag == "code" and "pre" not in self.stack:
                self.prose.append("`")

    def handle_data(self, data: str) -> None:
        if SKIPPED.intersection(self.stack) or "pre" in self.stack:
            return
        self.prose.append(data)
        if "code" not in self.stack:
            self.outside_code.append(data)


def text_problems(html: str) -> list[str]:
    """Raw roles in the text of ``html`` and ``>>>`` lines outside its code blocks.

    >>> text_problems("<p>Use :func:<code>relu</code>.</p><pre><code>>>> 1</code></pre><p>&gt;&gt;&gt; 2</p>")
    ['raw role: :func:`relu`', '>>> outside code: >>> 2']
    """
    parser = _PageText()
    parser.feed(html)
    parser.close()
    roles = [f"raw role: {role}" for role in find_raw_roles("".join(parser.prose))]
    prompts = [f">>> outside code: {line.strip()[:100]}" for node in parser.outside_code
               for line in node.splitlines() if ">>>" in line]
    return roles + prompts


def nav_pages(nav: Any) -> list[str]:
    """The Markdown files of a mkdocs ``nav`` in order (titles, sections and links to other sites dropped).

    >>> nav_pages([{"Home": "index.md"}, {"Guides": [{"A": "a.md"}, "b.md", {"Out": "https://example.org"}]}])
    ['index.md', 'a.md', 'b.md']
    """
    if isinstance(nav, str):
        return [] if "://" in nav or not nav.endswith(".md") else [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    raise TypeError(f"nav entry must be a str, dict or list, got {type(nav).__name__}: {nav!r}")


def nav_problems(docs_dir: Path, nav: Any) -> list[str]:
    """Markdown pages of ``docs_dir`` missing from ``nav``, and nav entries with no file."""
    in_nav = set(nav_pages(nav))
    on_disk = {p.relative_to(docs_dir).as_posix() for p in docs_dir.rglob("*.md")}
    return ([f"not in the nav: {page}" for page in sorted(on_disk - in_nav)]
            + [f"nav page without a file: {page}" for page in sorted(in_nav - on_disk)])


def page_url(page: str) -> str:
    """The site path of a Markdown page (mkdocs' directory URLs)."""
    stem = page.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


def is_local(url: str) -> bool:
    """Whether a request stays on 127.0.0.1 (data: and blob: URLs make no request to a host).

    >>> is_local("http://127.0.0.1:8000/assets/x.js"), is_local("https://fonts.googleapis.com/css")
    (True, False)
    """
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


def _exports() -> dict[int, set[tuple[str, str]]]:
    """id of each value a module of the package exports (its ``__all__``, else what it defines) -> its paths."""
    package = importlib.import_module("tinygrad_mnist")
    modules = [package] + [importlib.import_module(info.name)
                           for info in pkgutil.walk_packages(package.__path__, "tinygrad_mnist.")
                           if not info.name.endswith("__main__")]
    paths: dict[int, set[tuple[str, str]]] = {}
    for module in modules:
        own = [n for n, v in vars(module).items()
               if not inspect.ismodule(v) and getattr(v, "__module__", module.__name__) == module.__name__]
        for name in getattr(module, "__all__", [n for n in own if not n.startswith("_")]):
            if hasattr(module, name):
                paths.setdefault(id(getattr(module, name)), set()).add((f"{module.__name__}.{name}", name))
    return paths


def _paths(value: Any, name: str, exports: dict[int, set[tuple[str, str]]]) -> set[str]:
    """Where ``value`` (exported as ``name``) is defined and every path that exports it.

    A function, class or module is accepted under any name; any other value only under its own.
    """
    value = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
    named = inspect.isroutine(value) or inspect.isclass(value) or inspect.ismodule(value)
    found = {path for path, other in exports.get(id(value), set()) if named or other == name}
    if inspect.ismodule(value):
        found.add(value.__name__)
    elif named and isinstance(getattr(value, "__qualname__", None), str):
        found.add(f"{value.__module__}.{value.__qualname__}")
    return found


def public_names() -> dict[str, set[str]]:
    """Each public name (``namespace.name``, and ``Tensor.attribute``) -> the ids that document it."""
    exports = _exports()
    names: dict[str, set[str]] = {}
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        for name in module.__all__:
            names[f"{namespace}.{name}"] = {f"{namespace}.{name}"} | _paths(getattr(module, name), name, exports)
    tensor = importlib.import_module("tinygrad_mnist").Tensor
    tensor_paths = _paths(tensor, "Tensor", exports)
    for attr in sorted(a for a in dir(tensor) if not a.startswith("_")):
        value = inspect.getattr_static(tensor, attr)
        own = _paths(value, attr, exports) if inspect.isroutine(value) or isinstance(value, property) else set()
        names[f"Tensor.{attr}"] = {f"{path}.{attr}" for path in tensor_paths} | own
    return names


def html_ids(html: str) -> set[str]:
    """Every ``id`` attribute value in ``html``.

    >>> sorted(html_ids('<h2 id="tinygrad_mnist.nn.functional.relu"></h2><a id=top></a>'))
    ['tinygrad_mnist.nn.functional.relu', 'top']
    """
    return set(re.findall(r"""\sid=["']?([^"'\s>]+)""", html))


def missing_names(names: dict[str, set[str]], ids: set[str]) -> list[str]:
    """The names none of whose ids is in ``ids``.

    >>> missing_names({"nn.relu": {"a.relu", "b.relu"}, "nn.tanh": {"a.tanh"}}, {"b.relu"})
    ['nn.tanh']
    """
    return sorted(name for name, candidates in names.items() if not candidates & ids)


def serve(directory: Path) -> ThreadingHTTPServer:
    """Serve ``directory`` on 127.0.0.1 on a free port, in a daemon thread."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _on_console(problems: list[str], page: str, message: ConsoleMessage) -> None:
    if message.type == "error":
        where = message.location.get("url", "")
        problems.append(f"console error: {page}: {message.text}" + (f" ({where})" if where else ""))


def _on_error(problems: list[str], page: str, error: Error) -> None:
    problems.append(f"page error: {page}: {error}")


def check_pages(base: str, pages: list[str], shots: Path) -> tuple[list[str], int, int, int]:
    """Load every page in Chromium: (problems, pages loaded with 200, requests made, screenshots taken)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    requests: list[str] = []
    loaded = 0
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        # every request is recorded; one to another host is answered by an error, never sent
        context.route("**/*", lambda route: route.continue_() if is_local(route.request.url) else route.abort())
        context.on("request", lambda request: requests.append(request.url))
        for page_md in pages:
            page = context.new_page()
            page.on("console", functools.partial(_on_console, problems, page_md))
            page.on("pageerror", functools.partial(_on_error, problems, page_md))
            response = page.goto(base + page_url(page_md), wait_until="networkidle")
            if response is not None and response.status == 200:
                loaded += 1
                for kind, _, detail in (problem.partition(": ") for problem in text_problems(page.content())):
                    problems.append(f"{kind}: {page_md}: {detail}")
                page.screenshot(path=shots / (page_md.removesuffix(".md").replace("/", "_") + ".png"),
                                full_page=True, animations="disabled")
            else:
                problems.append(f"page status: {page_md}: {None if response is None else response.status}")
            page.close()
        browser.close()
    problems += [f"request to another host: {url}" for url in requests if not is_local(url)]
    return problems, loaded, len(requests), loaded


def main(argv: list[str] | None = None) -> int:
    """Build, serve and check the site; print the problems and the figures; 1 when there are problems."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", type=Path, default=ROOT / "site-check",
                        help="directory for one full-page PNG per page (default: site-check/)")
    args = parser.parse_args(argv)
    config = load_config(str(ROOT / "mkdocs.yml"))
    docs_dir, pages = Path(config["docs_dir"]), nav_pages(config["nav"] or [])
    problems = nav_problems(docs_dir, config["nav"] or [])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as site:
        build = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", site]
        if subprocess.run(build, check=False, cwd=ROOT).returncode != 0:
            print("mkdocs build --strict failed")
            return 1
        built = time.perf_counter()
        api_pages = [p for p in pages if re.search(r"^:::", (docs_dir / p).read_text(encoding="utf-8"), re.MULTILINE)]
        ids = set().union(*(html_ids((Path(site) / page_url(p) / "index.html").read_text(encoding="utf-8"))
                            for p in api_pages))
        names = public_names()
        absent = missing_names(names, ids)
        problems += [f"not on the API pages: {name}" for name in absent]
        server = serve(Path(site))
        try:
            found, loaded, requested, taken = check_pages(f"http://127.0.0.1:{server.server_address[1]}/",
                                                          pages, args.screenshots)
        finally:
            server.shutdown()
    problems += found
    print(*problems, sep="\n")
    foreign = sum(1 for problem in found if problem.startswith("request to another host"))
    print(f"build {built - started:.1f} s, browser check {time.perf_counter() - built:.1f} s\n"
          f"pages loaded: {loaded}/{len(pages)}\n"
          f"names documented: {len(names) - len(absent)}/{len(names)}\n"
          f"requests made: {requested} ({requested - foreign} to 127.0.0.1, {foreign} to other hosts)\n"
          f"screenshots taken: {taken} in {args.screenshots}")
    kinds = Counter(problem.split(": ")[0] for problem in problems)
    print(f"{len(problems)} problems: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
          if problems else "no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
