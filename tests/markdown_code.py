"""Running the ``python`` code blocks of a Markdown page as a reader would: in page order, in one namespace."""

import doctest
import re
from pathlib import Path

BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def run_page(page: Path, module_name: str) -> dict:
    """Execute every block (doctest blocks example by example, without checking their output,
    which pytest's doctest collection does) and return the namespace they built."""
    namespace = {"__name__": module_name}
    parser = doctest.DocTestParser()
    for block in python_blocks(page):
        sources = [example.source for example in parser.get_examples(block)] if ">>>" in block else [block]
        for source in sources:
            exec(compile(source, str(page), "exec"), namespace)
    return namespace
