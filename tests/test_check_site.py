"""The pure functions of docs/check_site.py, the browser check of the documentation site.

None of these tests starts a browser or builds the site.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_check_site():
    spec = importlib.util.spec_from_file_location("check_site", ROOT / "docs" / "check_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_site", module)
    spec.loader.exec_module(module)
    return module


cs = _load_check_site()


# --- raw Sphinx roles and >>> lines in the rendered text ---

@pytest.mark.parametrize("text, expected", [
    ("Read an object written by :func:`save`.", [":func:`save`"]),
    ("Raises :class:`GradientBoundError` or calls :meth:`Tensor.sum`.", [":class:`GradientBoundError`",
                                                                        ":meth:`Tensor.sum`"]),
    ("In :mod:`tinygrad_mnist.core.rules` and :attr:`grad`.", [":mod:`tinygrad_mnist.core.rules`", ":attr:`grad`"]),
    ("the domain form :py:func:`relu`", [":py:func:`relu`"]),
    ("seeded by :func:`~tinygrad_mnist.manual_seed`", [":func:`~tinygrad_mnist.manual_seed`"]),
    ("", []),
    ("a ratio 3:4 and the key :func in a dict", []),
    ("Sphinx writes `:func:` before a name; this page does not.", []),   # the role quoted as code
    (":function:`x` is no role", []),
])
def test_find_raw_roles(text: str, expected: list[str]) -> None:
    assert cs.find_raw_roles(text) == expected


def test_a_role_rendered_by_markdown_is_found() -> None:
    # Markdown turns :func:`relu` into ":func:" and a <code> element: the backtick is gone from the text
    html = "<p>Apply :func:<code>relu</code> and :class:<code>Linear</code>.</p>"
    assert cs.text_problems(html) == ["raw role: :func:`relu`", "raw role: :class:`Linear`"]


def test_roles_inside_code_blocks_and_quoted_roles_are_not_problems() -> None:
    html = ('<pre><code>""" See :func:`relu`. """</code></pre>'
            "<p>Sphinx writes <code>:func:</code> before a name.</p>")
    assert cs.text_problems(html) == []


def test_prompt_lines_outside_code_are_found_and_inside_code_are_not() -> None:
    html = ("<div><pre><span></span><code><span class='gp'>&gt;&gt;&gt; </span>1 + 1\n2</code></pre></div>"
            "<p>Every <code>&gt;&gt;&gt;</code> block is a doctest.</p>"
            "<p>Examples:\n&gt;&gt;&gt; x = Tensor([1.0])\n&gt;&gt;&gt; x.sum()</p>"
            "<blockquote><p>&gt;&gt;&gt; y = 2</p></blockquote>")
    assert cs.text_problems(html) == [">>> outside code: >>> x = Tensor([1.0])", ">>> outside code: >>> x.sum()",
                                      ">>> outside code: >>> y = 2"]


def test_text_in_scripts_and_styles_is_not_page_text() -> None:
    html = "<script>var s = ':func:`x`'; // >>> </script><style>a::after{content:'>>>'}</style><p>ok</p>"
    assert cs.text_problems(html) == []


def test_void_and_unclosed_elements_do_not_hide_later_text() -> None:
    html = "<p>a<br>b<img src=x.png><code>c</code></p><p>&gt;&gt;&gt; d</p>"
    assert cs.text_problems(html) == [">>> outside code: >>> d"]


# --- the navigation ---

def test_nav_pages_flattens_sections_in_order_and_drops_links() -> None:
    nav = ["index.md", {"Guides": [{"Tutorial": "tutorial.md"}, {"More": [{"Deep": "sub/deep.md"}]}]},
           {"Source": "https://example.org/repo"}, {"Reference": "api.md"}]
    assert cs.nav_pages(nav) == ["index.md", "tutorial.md", "sub/deep.md", "api.md"]


def test_nav_pages_rejects_an_entry_of_another_type() -> None:
    with pytest.raises(TypeError, match=r"nav entry must be a str, dict or list, got int: 3"):
        cs.nav_pages([{"Home": "index.md"}, 3])


def test_nav_problems_names_pages_missing_from_the_nav_and_nav_entries_without_a_file(tmp_path: Path) -> None:
    for page in ("index.md", "a.md", "sub/b.md"):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("# x\n", encoding="utf-8")
    nav = [{"Home": "index.md"}, {"Gone": "gone.md"}]
    assert cs.nav_problems(tmp_path, nav) == ["not in the nav: a.md", "not in the nav: sub/b.md",
                                              "nav page without a file: gone.md"]
    assert cs.nav_problems(tmp_path, ["index.md", "a.md", {"S": ["sub/b.md"]}]) == []


def test_every_page_of_the_site_is_in_the_nav_of_mkdocs_yml() -> None:
    config = cs.load_config(str(ROOT / "mkdocs.yml"))
    assert cs.nav_problems(ROOT / "docs", config["nav"]) == []
    assert "index.md" in cs.nav_pages(config["nav"]) and "api.md" in cs.nav_pages(config["nav"])


@pytest.mark.parametrize("page, url", [("index.md", ""), ("api.md", "api/"), ("sub/index.md", "sub/"),
                                       ("sub/page.md", "sub/page/"), ("reindex.md", "reindex/")])
def test_page_url(page: str, url: str) -> None:
    assert cs.page_url(page) == url


# --- requests ---

@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:41234/", True),
    ("http://127.0.0.1:41234/assets/javascripts/bundle.js", True),
    ("data:image/svg+xml;base64,PHN2Zz4=", True),
    ("https://fonts.googleapis.com/css?family=Roboto", False),
    ("https://unpkg.com/mermaid@11/dist/mermaid.min.js", False),
    ("http://localhost:41234/", False),            # only 127.0.0.1 is the site's own host
    ("http://127.0.0.1.example.com/x.js", False),
])
def test_is_local(url: str, local: bool) -> None:
    assert cs.is_local(url) is local


# --- public names and the ids of the API pages ---

def test_html_ids_reads_quoted_and_bare_ids() -> None:
    html = ('<h2 id="tinygrad_mnist.nn.Linear" class="doc">x</h2><div id=\'a.b\'></div>'
            '<span id=plain></span><p data-id="not-an-id"></p>')
    assert cs.html_ids(html) == {"tinygrad_mnist.nn.Linear", "a.b", "plain"}


def test_missing_names_accepts_any_of_the_paths_of_a_name() -> None:
    names = {"nn.relu": {"nn.relu", "nn.functional.relu"}, "Tensor.sum": {"core.Tensor.sum"}, "nn.tanh": {"nn.tanh"}}
    assert cs.missing_names(names, {"nn.functional.relu", "nn.tanh", "other"}) == ["Tensor.sum"]
    assert cs.missing_names(names, set()) == ["Tensor.sum", "nn.relu", "nn.tanh"]


@pytest.fixture(scope="module")
def names() -> dict[str, set[str]]:
    return cs.public_names()


def test_public_names_cover_every_namespace_and_every_tensor_attribute(names: dict[str, set[str]]) -> None:
    import tinygrad_mnist.nn.functional

    assert "tinygrad_mnist.Tensor" in names
    assert "tinygrad_mnist.optim.lr_scheduler.StepLR" in names
    assert "tinygrad_mnist.nn.functional.cross_entropy" in names
    assert "tinygrad_mnist.serialization.save" in names
    assert "Tensor.backward" in names and "Tensor.sum" in names and "Tensor.grad" in names
    assert not any(name.split(".")[-1].startswith("_") for name in names)
    tensor_attrs = {n for n in dir(tinygrad_mnist.Tensor) if not n.startswith("_")}
    assert {name.removeprefix("Tensor.") for name in names if name.startswith("Tensor.")} == tensor_attrs
    exported = {f"tinygrad_mnist.nn.functional.{n}" for n in tinygrad_mnist.nn.functional.__all__}
    assert exported <= set(names)


def test_a_name_may_be_documented_where_it_is_defined_or_exported(names: dict[str, set[str]]) -> None:
    # F.relu is defined in nn/functional/activation.py and exported by tinygrad_mnist.nn.functional
    assert {"tinygrad_mnist.nn.functional.relu",
            "tinygrad_mnist.nn.functional.activation.relu"} <= names["tinygrad_mnist.nn.functional.relu"]
    # Tensor.backward is a method of the class defined in core/tensor.py
    assert "tinygrad_mnist.core.tensor.Tensor.backward" in names["Tensor.backward"]
    assert "tinygrad_mnist.Tensor.backward" in names["Tensor.backward"]


def test_a_data_attribute_is_accepted_only_under_its_own_name(names: dict[str, set[str]]) -> None:
    # float32 is a numpy dtype: the same object under another name (float, an alias) is another entry
    assert "tinygrad_mnist.core.dtypes.float32" in names["tinygrad_mnist.float32"]
    assert not any(path.endswith(".float") for path in names["tinygrad_mnist.float32"])
