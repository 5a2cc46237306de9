"""Every code block of the docs runs: doctests are collected by pytest itself, and this
runs the plain ``python`` blocks too (in page order, one namespace per page), then
the test functions they define."""

from pathlib import Path

import pytest
from markdown_code import python_blocks, run_page

ROOT = Path(__file__).resolve().parents[1]
# docs/testing.md has its own runner in tests/test_testing.py
PAGES = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "testing.md")


def pages_with_plain_blocks():
    for page in PAGES:
        if any(">>>" not in block for block in python_blocks(page)):
            yield page


@pytest.mark.parametrize("page", list(pages_with_plain_blocks()), ids=lambda p: p.name)
def test_plain_code_blocks_run_and_their_tests_pass(page):
    namespace = run_page(page, f"docs_{page.stem}")
    tests = {name: value for name, value in namespace.items() if name.startswith("test_") and callable(value)}
    for test in tests.values():
        test()
    if page.name == "custom.md":  # the page's property tests really ran
        assert set(tests) == {"test_softplus", "test_residual_gradients"}
